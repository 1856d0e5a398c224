"""The pieces of the SE block taken apart: what chapters 2 to 4 compute.

* Receptive fields of stacked convolutions (:func:`receptive_field`,
  :func:`gradient_footprint`): how far a convolution's output "sees".
* A small, hand-made convolution layer whose channels mean something
  (:func:`filter_bank`, :data:`FEATURE_NAMES`), so that pooled descriptors of real
  photographs can be read channel by channel.
* Pooling operators for the squeeze (:func:`pool`): average, max, standard deviation.
* Spatial shuffling (:func:`shuffle_positions`) to show what the descriptor ignores.
* Parameter overhead of SE in a network (:func:`se_extra_params`,
  :data:`RESNET50_STAGES`): ``(2 / r) * sum_s N_s * C_s**2`` when ``r`` divides every width.
* A fully connected layer rewritten as a 1x1 convolution (:func:`linear_as_conv1x1`).

Tensor shapes follow PyTorch: feature maps are ``(N, C, H, W)``, descriptors ``(N, C)``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import _checks
from .block import hidden_width, squeeze

__all__ = [
    "receptive_field",
    "gradient_footprint",
    "FEATURE_NAMES",
    "filter_bank",
    "POOLS",
    "pool",
    "shuffle_positions",
    "RESNET50_STAGES",
    "se_extra_params",
    "linear_as_conv1x1",
]


# --------------------------------------------------------------------------- receptive fields
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


# --------------------------------------------------------------------------- a readable conv layer
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


def filter_bank(padding_mode: str = "zeros") -> nn.Sequential:
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
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.copy_(b)
    conv.requires_grad_(False)
    return nn.Sequential(conv, nn.ReLU())


# --------------------------------------------------------------------------- squeeze operators
#: The squeeze operators :func:`pool` knows.
POOLS: tuple[str, ...] = ("avg", "max", "std")


def pool(x: torch.Tensor, kind: str = "avg") -> torch.Tensor:
    """Global pooling of each channel: ``(N, C, H, W) -> (N, C)``.

    Args:
        x: feature map.
        kind: ``"avg"`` (the SE squeeze, :func:`senet_lib.squeeze`), ``"max"`` (the
            largest value) or ``"std"`` (population standard deviation over the
            ``H * W`` positions: how much the channel varies, not how strong it is).
    """
    _checks.feature_map("x", x)
    if kind == "avg":
        return squeeze(x)
    if kind == "max":
        return x.amax(dim=(2, 3))
    if kind == "std":
        return x.std(dim=(2, 3), correction=0)
    raise ValueError(f"kind must be one of {POOLS}, got {kind!r}")


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


# --------------------------------------------------------------------------- parameter overhead
#: ResNet-50's four stages as ``(output width C_s, number of bottleneck blocks N_s)``
#: (He et al., 2016); SE-ResNet-50 puts one SE block on the output of every block.
RESNET50_STAGES: tuple[tuple[int, int], ...] = ((256, 3), (512, 4), (1024, 6), (2048, 3))


def se_extra_params(
    stages: Sequence[tuple[int, int]],
    reduction: int,
    *,
    bias1: bool = False,
    bias2: bool = False,
    min_hidden: int = 1,
) -> int:
    """Parameters that SE blocks add to a network.

    Each of the ``N_s`` blocks of stage ``s`` (width ``C_s``) gets an SE block with a
    bottleneck of ``h_s = max(min_hidden, C_s // r)`` units, i.e. ``2 * C_s * h_s``
    weights, plus ``h_s`` (``bias1``) and ``C_s`` (``bias2``) biases. Without biases
    and with ``r`` dividing every width this is the paper's ``(2 / r) * sum_s N_s C_s**2``.

    Args:
        stages: ``(C_s, N_s)`` pairs, e.g. :data:`RESNET50_STAGES`.
        reduction: the reduction ratio ``r``.
        bias1, bias2: count the biases of the first / second linear layer.
        min_hidden: floor on the bottleneck width (as in :class:`senet_lib.SEBlock`).
    """
    reduction = _checks.positive_int("reduction", reduction)
    total = 0
    for i, pair in enumerate(stages):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"stages[{i}] must be a (channels, blocks) pair, got {pair!r}")
        c = _checks.positive_int(f"stages[{i}] channels", pair[0])
        n = _checks.positive_int(f"stages[{i}] blocks", pair[1])
        h = hidden_width(c, reduction, min_hidden)
        total += n * (2 * c * h + (h if bias1 else 0) + (c if bias2 else 0))
    return total


# --------------------------------------------------------------------------- FC == 1x1 conv
def linear_as_conv1x1(linear: nn.Linear) -> nn.Conv2d:
    """The 1x1 convolution that computes what ``linear`` computes, on ``(N, C, 1, 1)``.

    ``nn.Linear(C_in, C_out)`` holds a ``(C_out, C_in)`` weight; a 1x1 convolution holds
    a ``(C_out, C_in, 1, 1)`` weight. Same numbers, two trailing axes of size 1; the
    bias (if any) is copied as is. The result is a new module with its own parameters.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    conv = nn.Conv2d(linear.in_features, linear.out_features, kernel_size=1,
                     bias=linear.bias is not None)
    conv = conv.to(device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv
