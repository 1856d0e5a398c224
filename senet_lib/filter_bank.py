"""A small, hand-made convolution layer whose channels mean something.

Chapters 2 to 4 need feature maps of real photographs whose channels can be read one by one;
the first layer of a trained network would do, but nothing is downloaded in this book.
:func:`filter_bank` is a fixed 3x3 convolution with 8 named filters (:data:`FEATURE_NAMES`):
brightness, colour opponents, edges, a centre-surround spot.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["FEATURE_NAMES", "filter_bank"]


#: What each channel of :func:`filter_bank` responds to (after its ReLU).
FEATURE_NAMES: tuple[str, ...] = (
    "brightness",
    "darkness",
    "red over green",
    "green over red",
    "blue over yellow",
    "vertical edge",
    "horizontal edge",
    "spot (centre > surround)",
)


def filter_bank(padding_mode: Literal["zeros", "circular", "reflect", "replicate"] = "zeros") -> nn.Sequential:
    """A fixed 3x3 convolution with 8 hand-made filters, then a ReLU.

    Stands in for the first layer of a trained network (whose weights we cannot
    download): each output channel has a name (:data:`FEATURE_NAMES`) so that its
    global average is easy to interpret. Input ``(N, 3, H, W)`` RGB in ``[0, 1]``;
    output ``(N, 8, H, W)`` (padding 1 keeps the size).

    Args:
        padding_mode: ``"zeros"`` (the usual) or ``"circular"``, which makes the layer
            commute exactly with circular shifts of the image (``torch.roll``).
    """
    if padding_mode not in ("zeros", "circular", "reflect", "replicate"):
        raise ValueError(
            "padding_mode must be 'zeros', 'circular', 'reflect' or 'replicate', "
            f"got {padding_mode!r}"
        )
    conv = nn.Conv2d(3, len(FEATURE_NAMES), 3, padding=1, bias=True, padding_mode=padding_mode)
    w = torch.zeros(len(FEATURE_NAMES), 3, 3, 3)
    b = torch.zeros(len(FEATURE_NAMES))
    lum = torch.tensor([0.299, 0.587, 0.114])  # luminance weights of R, G, B
    centre = torch.zeros(3, 3)
    centre[1, 1] = 1.0
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
    spot = -torch.ones(3, 3) / 8
    spot[1, 1] = 1.0
    w[0] = lum[:, None, None] * centre                             # brightness
    w[1] = -lum[:, None, None] * centre                            # darkness = 1 - brightness
    b[1] = 1.0
    w[2] = torch.tensor([1.0, -1.0, 0.0])[:, None, None] * centre  # R - G
    w[3] = -w[2]                                                   # G - R
    w[4] = torch.tensor([-0.5, -0.5, 1.0])[:, None, None] * centre  # B - (R + G) / 2
    w[5] = lum[:, None, None] * sobel_x                            # left-to-right increase
    w[6] = lum[:, None, None] * sobel_x.T                          # top-to-bottom increase
    w[7] = lum[:, None, None] * spot                               # brighter than surround
    assert conv.bias is not None  # bias=True above
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.copy_(b)
    conv.requires_grad_(False)
    return nn.Sequential(conv, nn.ReLU())
