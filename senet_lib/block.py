"""The Squeeze-and-Excitation block (Hu et al., 2018), written as its three equations.

For a feature map ``x`` of shape ``(N, C, H, W)`` (paper, Eqs. 2-4):

* squeeze:    ``z_c = 1/(H W) sum_hw x_c``            :func:`squeeze`  ``(N, C, H, W) -> (N, C)``
* excitation: ``s = sigmoid(W2 relu(W1 z) + b2)``      :func:`excite`   ``(N, C) -> (N, C)``
* scale:      ``y_c = s_c * x_c``                      :func:`scale`    ``-> (N, C, H, W)``

``W1`` is ``(C // r, C)`` (no bias by default), ``W2`` is ``(C, C // r)`` with a bias: the
classic layer sequence ``AdaptiveAvgPool2d(1), Flatten, Linear(C, C // r, bias=False), ReLU,
Linear(C // r, C), Sigmoid, Unflatten(1, (C, 1, 1))`` then ``x * gates``, with one fix: the
bottleneck has ``max(1, C // r)`` units (:func:`hidden_width`), so ``C < r`` never builds a
zero-width layer.

The knobs of the paper's ablations (Tables 11, 12, 16) are arguments: ``pool`` (how to
squeeze, :data:`POOLS`), ``gate`` (the excitation's last non-linearity, :data:`GATES`), and
:class:`NoSqueezeSE`, the variant without a squeeze; :class:`ChannelScale`, a control with
neither squeeze nor excitation (one learned gate per channel, the same for every image).

There are no speed tricks here: plain tensor operations are as fast as timm's and
torchvision's blocks and the classic sequence (``python -m senet_lib.bench block``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks

__all__ = ["POOLS", "GATES", "SEBlock", "NoSqueezeSE", "ChannelScale", "Squeeze", "squeeze", "excite", "scale",
           "hidden_width"]

#: How :func:`squeeze` summarises a channel: its mean (the paper), its maximum, the average
#: of the two (timm's "avgmax"), or its standard deviation (a statistic of spread, not level).
POOLS: tuple[str, ...] = ("avg", "max", "avgmax", "std")

#: The excitation's last non-linearity (paper Table 12, plus the hard sigmoid of mobile nets).
GATES: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "hard_sigmoid": nn.Hardsigmoid,
}


def _choice(name: str, value: object, options) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def squeeze(x: torch.Tensor, pool: str = "avg") -> torch.Tensor:
    """One number per channel: ``(N, C, H, W) -> (N, C)``, the mean (``pool="avg"``), the
    maximum (``"max"``), their average (``"avgmax"``) or the population standard deviation
    (``"std"``) over ``H`` and ``W``."""
    if not torch.jit.is_scripting():  # TorchScript cannot compile the message; Squeeze checked pool
        _choice("pool", pool, POOLS)
    if pool == "avg":  # global average pooling, the op of the classic AdaptiveAvgPool2d(1)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
    if pool == "max":
        return x.amax(dim=(2, 3))
    if pool == "avgmax":
        return 0.5 * (x.mean(dim=(2, 3)) + x.amax(dim=(2, 3)))
    return x.std(dim=(2, 3), correction=0)  # "std"


def excite(z: torch.Tensor, fc1: Callable, fc2: Callable, gate: Callable = torch.sigmoid,
           act: Callable = torch.relu) -> torch.Tensor:
    """The bottleneck MLP: ``gate(fc2(act(fc1(z))))``, ``(N, C) -> (N, C)`` gates.

    ``fc1`` and ``fc2`` are callables such as ``nn.Linear(C, C // r)`` and ``nn.Linear(C // r, C)``.
    """
    return gate(fc2(act(fc1(z))))


def scale(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Multiply channel ``c`` of ``x (N, C, H, W)`` by gate ``s[:, c]`` (``s`` is ``(N, C)``)."""
    return x * s[:, :, None, None]  # (N, C, 1, 1) broadcasts over H and W


def hidden_width(channels: int, reduction: int) -> int:
    """Width of the bottleneck: ``max(1, channels // reduction)``.

    The classic demo ``C = 3, r = 16`` gives ``3 // 16 == 0``: a layer with no units, whose
    gates are ``sigmoid(b2)`` for every image. The floor of 1 keeps one unit.
    """
    channels = _checks.positive_int("channels", channels)
    reduction = _checks.positive_int("reduction", reduction)
    return max(1, channels // reduction)


class Squeeze(nn.Module):
    """Module form of :func:`squeeze`, so it shows in ``print(model)`` and can carry hooks."""

    def __init__(self, pool: str = "avg") -> None:
        super().__init__()
        self.pool = _choice("pool", pool, POOLS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return squeeze(x, self.pool)

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"


class SEBlock(nn.Module):
    """Squeeze-and-Excitation block: ``y = x * gate(W2 relu(W1 squeeze(x)) + b2)``.

    Args:
        channels: ``C``, the number of channels of the input feature map.
        reduction: ``r``; the bottleneck has ``max(1, C // r)`` units (:func:`hidden_width`).
        pool: how to squeeze each channel, one of :data:`POOLS` (default ``"avg"``, the paper's).
        gate: the last non-linearity, one of :data:`GATES` (default ``"sigmoid"``, the paper's).
        bias1: whether ``fc1`` (``C -> C/r``) has a bias; off, as in the classic write-up.
        bias2: whether ``fc2`` (``C/r -> C``) has a bias; on.

    Sub-modules, in the order the data meets them: ``squeeze``, ``fc1``, ``relu``, ``fc2``,
    ``gate``. A forward hook on ``gate`` sees the ``(N, C)`` gates of every forward pass.

    Shapes: input ``(N, C, H, W)`` floating point; output the same shape and dtype.

    Traceable: ``torch.fx.symbolic_trace``, torchvision's ``create_feature_extractor`` (node
    ``gate`` holds the gates), ``torch.export``, ``torch.compile`` and ``torch.jit.script``.
    """

    __jit_unused_properties__ = ["gate_name"]  # TorchScript compiles properties; this one is for repr

    def __init__(self, channels: int, reduction: int = 16, *, pool: str = "avg",
                 gate: str = "sigmoid", bias1: bool = False, bias2: bool = True) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        self.reduction = _checks.positive_int("reduction", reduction)
        self.hidden = hidden_width(channels, reduction)
        self.squeeze = Squeeze(pool)
        self.fc1 = nn.Linear(channels, self.hidden, bias=_checks.boolean("bias1", bias1))
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(self.hidden, channels, bias=_checks.boolean("bias2", bias2))
        self.gate = GATES[_choice("gate", gate, GATES)]()

    def excite(self, z: torch.Tensor) -> torch.Tensor:
        """Excitation: ``(N, C)`` channel descriptors -> ``(N, C)`` gates.

        :func:`excite` written out (TorchScript cannot pass modules to a function)."""
        return self.gate(self.fc2(self.relu(self.fc1(z))))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """Squeeze then excite: ``(N, C, H, W) -> (N, C)`` gates (in (0, 1) for a sigmoid)."""
        _checks.feature_map("x", x, self.channels)
        return self.excite(self.squeeze(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.feature_map("x", x, self.channels)
        z = self.squeeze(x)  # Eq. 2, squeeze:    z = mean_hw(x)                 (N, C)
        s = self.excite(z)  # Eq. 3, excitation: s = sigmoid(W2 relu(W1 z) + b2) (N, C)
        return scale(x, s)  # Eq. 4, scale:      y_c = s_c * x_c                 (N, C, H, W)

    def extra_repr(self) -> str:
        knobs = "".join(f", {k}={v!r}" for k, v, d in
                        (("pool", self.squeeze.pool, "avg"), ("gate", self.gate_name, "sigmoid")) if v != d)
        return f"channels={self.channels}, reduction={self.reduction} (hidden={self.hidden}){knobs}"

    @property
    def gate_name(self) -> str:
        """The ``gate`` argument this block was built with."""
        return next(k for k, cls in GATES.items() if type(self.gate) is cls)


class NoSqueezeSE(nn.Module):
    """SE without the squeeze (paper Table 16): 1x1 convolutions on the whole map.

    ``y = x * sigmoid(conv2(relu(conv1(x))))`` where ``conv1`` is ``C -> max(1, C // r)`` and
    ``conv2`` back to ``C``, both 1x1: the same bottleneck as :class:`SEBlock`, applied at every
    position, so each position gets its own gates from its own pixel and no global context.
    Its FLOPs grow with ``H * W``; :class:`SEBlock`'s FC layers do not.

    Shapes: input ``(N, C, H, W)``, gates ``(N, C, H, W)``, output the input's shape.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        self.reduction = _checks.positive_int("reduction", reduction)
        self.hidden = hidden_width(channels, reduction)
        self.conv1 = nn.Conv2d(channels, self.hidden, 1, bias=False)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(self.hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.feature_map("x", x, self.channels)
        return x * self.gate(self.conv2(self.relu(self.conv1(x))))  # excite(x, conv1, conv2) per position

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction} (hidden={self.hidden})"


class ChannelScale(nn.Module):
    """A control for SE with no context at all: ``y_c = sigmoid(w_c) * x_c``, ``w`` learned.

    One gate per channel, the same for every image: what an SE block would be if its gates did
    not depend on the input. Starts at ``init`` for every channel (0.5, about where an SE
    block's gates start). After a batch norm it could be folded into the norm's weights, so a
    network with it can represent nothing a plain network cannot; it can only train differently.

    Shapes: input ``(N, C, H, W)``, gates ``(N, C)`` (equal rows), output the input's shape.
    """

    def __init__(self, channels: int, *, init: float = 0.5) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        if not isinstance(init, (int, float)) or isinstance(init, bool) or not 0 < init < 1:
            raise ValueError(f"init must be a gate value strictly between 0 and 1, got {init!r}")
        self.logit = nn.Parameter(torch.full((channels,), float(torch.logit(torch.tensor(float(init))))))
        self.gate = nn.Sigmoid()

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C)``: the same ``sigmoid(w)`` for every image."""
        _checks.feature_map("x", x, self.channels)
        return self.gate(self.logit).to(x.dtype).expand(x.shape[0], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale(x, self.gates(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"
