"""Where things are in a feature map: how far an output position sees, and what a global
descriptor forgets.

* :func:`receptive_field`: the input window, in pixels, behind one output position of a stack
  of convolutions and poolings (chapter 2);
* :func:`gradient_footprint`: the input pixels one output position of a network actually
  depends on, measured with a gradient;
* :func:`shuffle_positions`: the ``H * W`` positions of a map in a random order, which changes
  the map but no pooled descriptor (:func:`senet_lib.squeeze`).

Tensor shapes follow PyTorch: feature maps are ``(N, C, H, W)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import _checks

__all__ = ["receptive_field", "gradient_footprint", "shuffle_positions"]


def receptive_field(layers: Sequence[tuple[int, int]]) -> list[int]:
    """Receptive field (in input pixels, along one side) after each layer of a stack.

    Args:
        layers: ``(kernel_size, stride)`` for each convolution or pooling layer, in the
            order the data meets them.

    Returns:
        A list with one entry per layer: the side of the square input window that one
        output position of that layer depends on. With ``jump`` the product of the
        strides so far, each layer adds ``(kernel_size - 1) * jump`` pixels::

            receptive_field([(3, 1)] * 3)  ->  [3, 5, 7]
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of (kernel_size, stride) pairs, got {layers!r}")
    rf, jump, out = 1, 1, []
    for i, layer in enumerate(layers):
        if not isinstance(layer, Sequence) or len(layer) != 2:
            raise ValueError(f"layers[{i}] must be a (kernel_size, stride) pair, got {layer!r}")
        k = _checks.positive_int(f"layers[{i}] kernel_size", layer[0])
        s = _checks.positive_int(f"layers[{i}] stride", layer[1])
        rf += (k - 1) * jump
        jump *= s
        out.append(rf)
    return out


def gradient_footprint(net: nn.Module, x: torch.Tensor, row: int, col: int) -> torch.Tensor:
    """Which input pixels one output position of ``net`` depends on.

    Computes ``|d y[0, :, row, col].sum() / d x|`` summed over the input's colour
    channels, where ``y = net(x)``. Non-zero entries mark the receptive field actually
    used (for ReLU networks, a subset of the theoretical one).

    Args:
        net: maps ``(1, C_in, H, W)`` to ``(1, C_out, H', W')``.
        x: ``(1, C_in, H, W)`` input.
        row, col: the output position.

    Returns:
        ``(H, W)`` tensor of non-negative gradient magnitudes.
    """
    _checks.feature_map("x", x)
    if x.shape[0] != 1:
        raise ValueError(f"x must hold one image (batch size 1), got shape {tuple(x.shape)}")
    x = x.detach().clone().requires_grad_(True)
    y = net(x)
    if not (0 <= row < y.shape[2] and 0 <= col < y.shape[3]):
        raise ValueError(
            f"(row, col) = ({row}, {col}) is outside the output's {y.shape[2]} x {y.shape[3]} grid"
        )
    (grad,) = torch.autograd.grad(y[0, :, row, col].sum(), x)
    return grad[0].abs().sum(dim=0)


def shuffle_positions(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move the ``H * W`` positions of ``x (N, C, H, W)`` to a random order.

    The same permutation is used for every image and channel, so each pixel keeps its
    vector of channel values; only *where* it sits changes. Returns a new
    ``(N, C, H, W)`` tensor.
    """
    _checks.feature_map("x", x)
    n, c, h, w = x.shape
    perm = torch.randperm(h * w, generator=generator, device=x.device)
    return x.reshape(n, c, h * w)[:, :, perm].reshape(n, c, h, w)
