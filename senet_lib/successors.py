"""After SE: ECA, CBAM and gather-excite, each written as its paper's equation (chapter 10).

All three take a feature map ``x`` of shape ``(N, C, H, W)`` and return ``x`` rescaled by gates
in ``(0, 1)``, like :class:`~senet_lib.block.SEBlock`; they differ in what the gates see and
how many numbers they have:

* :class:`ECABlock` (Wang et al., 2020): no bottleneck. The squeezed vector ``z (N, C)`` is
  convolved along the channel axis with one kernel of ``k`` weights,
  ``s = sigmoid(conv1d_k(z))``, so each gate sees its ``k`` neighbouring channels.
* :class:`CBAMBlock` (Woo et al., 2018): channel attention from the average- *and*
  max-pooled descriptors through one shared MLP, ``M_c = sigmoid(MLP(avg) + MLP(max))``, then
  spatial attention, one gate per position from a 7 x 7 convolution over the channel-wise
  mean and maximum of the recalibrated map, ``M_s = sigmoid(BN(conv7x7([mean_c; max_c])))``.
* :class:`GatherExcite` (Hu et al., 2018b): *gather* summarises each channel over a local
  extent (every ``e``-th position sees a ``(2e - 1)``-wide window; ``extent=0`` is the whole
  map), *excite* stretches the small gate map back to ``H x W`` (nearest neighbour) and gates
  every position. Parameter-free (GE-θ-), with a learned depthwise gather (GE-θ), and with an
  SE-style MLP on top (``mlp=True``, GE-θ+).

:func:`senet_lib.registry.make_attention` builds any of them (and SE, and the controls with no
context at all) from a name; :func:`senet_lib.networks.add_attention` and
:func:`senet_lib.cifar_resnet.cifar_resnet` use it to put them into networks.

Each block has a ``gates(x)`` method returning what it multiplies ``x`` by, and its gates pass
through a sub-module named ``gate`` (CBAM: ``channel.gate`` and ``spatial.gate``), so a forward
hook sees them. Weights load from timm's ``EcaModule``, ``CbamModule`` and ``GatherExcite``
with :func:`from_timm_state_dict`; the tests check the outputs agree to 1e-6.

Every block here traces: ``torch.fx.symbolic_trace`` and torchvision's
``create_feature_extractor`` (gates by node name, ``gate``, ``channel.gate``, ``spatial.gate``;
the traced module keeps the input check, see :func:`senet_lib._checks.feature_map`),
``torch.export``, ``torch.compile`` and ``torch.jit.script`` (which skips the input check);
``tests/test_tracing.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .block import ChannelScale, SEBlock, hidden_width, scale

__all__ = ["ECABlock", "CBAMBlock", "ChannelAttention", "SpatialAttention",
           "GatherExcite", "eca_kernel_size", "elementwise_ops", "from_timm_state_dict"]


def eca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0, minimum: int = 1) -> int:
    """ECA's kernel size: the odd integer nearest above ``|log2(C) / gamma + b / gamma|``.

    The ECA paper's rule (its Eq. 12) gives ``k = 3`` for 16 to 64 channels and ``k = 5`` for
    128 to 512. ``minimum`` floors the result; timm's ``EcaModule`` uses ``minimum=3``, so for
    ``C < 8`` timm and the paper differ (``C = 4``: timm 3, the paper 1).
    """
    channels = _checks.positive_int("channels", channels)
    minimum = _checks.positive_int("minimum", minimum)
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma!r}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return max(t if t % 2 else t + 1, minimum)


class ECABlock(nn.Module):
    """Efficient Channel Attention: ``y = x * sigmoid(conv1d_k(mean_hw(x)))``.

    Args:
        channels: ``C``, channels of the input.
        kernel_size: ``k``, odd; ``None`` (default) takes :func:`eca_kernel_size` of ``C``.
        minimum_kernel: floor for the computed ``k`` (1 as in the paper; timm uses 3).

    The convolution has ``k`` weights and no bias, whatever ``C`` is: the block is ``k``
    parameters where SE has about ``2 C^2 / r``. Channel ``c``'s gate sees channels
    ``c - (k-1)/2 ... c + (k-1)/2`` (zero padding at the ends).

    Shapes: input ``(N, C, H, W)``, gates ``(N, C)``, output the input's shape.
    """

    def __init__(self, channels: int, kernel_size: int | None = None, *, minimum_kernel: int = 1) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        if kernel_size is None:
            kernel_size = eca_kernel_size(channels, minimum=minimum_kernel)
        kernel_size = _checks.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so the gate of channel c is centred on c), got {kernel_size}")
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.gate = nn.Sigmoid()

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C)`` gates."""
        _checks.feature_map("x", x, self.channels)
        z = F.adaptive_avg_pool2d(x, 1).flatten(1)  # squeeze, as SE: (N, C)
        return self.gate(self.conv(z[:, None, :])[:, 0, :])  # k-tap convolution along C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale(x, self.gates(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"


class ChannelAttention(nn.Module):
    """CBAM's channel attention: ``M_c = sigmoid(MLP(avg_hw x) + MLP(max_hw x))``.

    One MLP (``C -> max(1, C // r) -> C``, ReLU) is shared by the two descriptors. ``bias``
    is off by default, as in the paper's equation and timm; the authors' code has biases.
    """

    def __init__(self, channels: int, reduction: int = 16, *, bias: bool = False) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        hidden = hidden_width(channels, reduction)
        self.fc1 = nn.Linear(channels, hidden, bias=_checks.boolean("bias", bias))
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels, bias=bias)
        self.gate = nn.Sigmoid()

    def mlp(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(z)))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C)`` channel gates."""
        return self.gate(self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale(x, self.gates(x))


class SpatialAttention(nn.Module):
    """CBAM's spatial attention: ``M_s = sigmoid(BN(conv_kxk([mean_c x; max_c x])))``.

    The channel-wise mean and maximum give a ``(N, 2, H, W)`` map; a ``k x k`` convolution
    (no bias) and a batch norm (as in the authors' code and timm; the paper's equation has no
    BN) give one gate per position, shared by all channels.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        kernel_size = _checks.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (to keep H x W), got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.gate = nn.Sigmoid()

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, 1, H, W)`` spatial gates."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return self.gate(self.bn(self.conv(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gates(x)


class CBAMBlock(nn.Module):
    """Convolutional Block Attention Module: ``x' = M_c(x) * x``, then ``y = M_s(x') * x'``.

    Args:
        channels: ``C``, channels of the input.
        reduction: ``r`` of the channel MLP (hidden width ``max(1, C // r)``, as SE).
        spatial_kernel: side of the spatial convolution (7 in the paper).
        bias: biases in the channel MLP (off, as in the paper's equation and timm).

    Sub-modules ``channel`` (:class:`ChannelAttention`) and ``spatial``
    (:class:`SpatialAttention`). Shapes: input ``(N, C, H, W)``; channel gates ``(N, C)``,
    spatial gates ``(N, 1, H, W)``; output the input's shape.
    """

    def __init__(self, channels: int, reduction: int = 16, *, spatial_kernel: int = 7,
                 bias: bool = False) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        self.channel = ChannelAttention(channels, reduction, bias=bias)
        self.spatial = SpatialAttention(spatial_kernel)

    def gates(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(channel gates (N, C), spatial gates (N, 1, H, W))`` for input ``x``."""
        _checks.feature_map("x", x, self.channels)
        m_c = self.channel.gates(x)
        return m_c, self.spatial.gates(scale(x, m_c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.feature_map("x", x, self.channels)
        x = self.channel(x)  # x' = M_c(x) * x
        return self.spatial(x)  # y = M_s(x') * x'


class GatherExcite(nn.Module):
    """Gather-excite: ``y = x * sigmoid(interpolate(gather_e(x)))``.

    Args:
        channels: ``C``, channels of the input.
        extent: ``e``; each gathered value summarises a window of ``2e - 1`` positions and
            the gate map is ``e`` times smaller than ``x`` in each direction. ``0`` gathers the
            whole map (one gate per channel, SE's squeeze without the MLP).
        learned: ``False``: average pooling, no parameters (GE-θ-). ``True``: ``log2(e)``
            depthwise 3 x 3 convolutions of stride 2, each with a batch norm, ReLU between
            them (GE-θ); ``e`` must then be a power of two, or 0 with ``feature_size`` given
            (one depthwise convolution as large as the map).
        mlp: add SE's bottleneck MLP (1 x 1 convolutions with biases, ``C -> C // r -> C``)
            between gather and excite (GE-θ+).
        reduction: ``r`` of that MLP.
        feature_size: ``(H, W)`` of the input; needed only for ``learned=True, extent=0``.

    timm's ``GatherExcite`` has the MLP on by default (``use_mlp=True``); the paper's
    parameter-free GE-θ- has none, so here it is off by default.

    Shapes: input ``(N, C, H, W)``; gates ``(N, C, H, W)`` (constant over each window);
    output the input's shape.
    """

    def __init__(self, channels: int, extent: int = 0, *, learned: bool = False, mlp: bool = False,
                 reduction: int = 16, feature_size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.channels = _checks.positive_int("channels", channels)
        if isinstance(extent, bool) or not isinstance(extent, int) or extent < 0 or extent % 2:
            raise ValueError(f"extent must be 0 (the whole map) or an even positive int, got {extent!r}")
        self.extent, self.learned = extent, _checks.boolean("learned", learned)
        self.gather: nn.Module | None = None
        if learned:
            self.gather = self._learned_gather(channels, extent, feature_size)
        self.mlp: nn.Module = nn.Identity()
        if _checks.boolean("mlp", mlp):
            hidden = hidden_width(channels, reduction)
            self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))
        self.gate = nn.Sigmoid()

    @staticmethod
    def _learned_gather(channels: int, extent: int, feature_size) -> nn.Sequential:
        layers = []
        if extent == 0:
            if (not isinstance(feature_size, (tuple, list)) or len(feature_size) != 2
                    or not all(isinstance(s, int) and s > 0 for s in feature_size)):
                raise ValueError("learned=True with extent=0 (a global gather) needs feature_size=(H, W), "
                                 f"the input's spatial size, got {feature_size!r}")
            layers += [nn.Conv2d(channels, channels, tuple(feature_size), groups=channels, bias=False),
                       nn.BatchNorm2d(channels)]
            return nn.Sequential(*layers)
        steps = int(math.log2(extent))
        if 2 ** steps != extent:
            raise ValueError(f"learned=True needs extent to be a power of two (2, 4, 8, ...), got {extent}")
        for i in range(steps):
            layers += [nn.Conv2d(channels, channels, 3, 2, 1, groups=channels, bias=False), nn.BatchNorm2d(channels)]
            if i < steps - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def gather_map(self, x: torch.Tensor) -> torch.Tensor:
        """Gather: ``(N, C, H, W) -> (N, C, h, w)``, ``h ~ H / e`` (``1 x 1`` for ``extent=0``)."""
        if self.gather is not None:
            return self.gather(x)
        if self.extent == 0:
            return F.adaptive_avg_pool2d(x, 1)
        k = 2 * self.extent - 1  # a window of 2e - 1 positions every e positions
        return F.avg_pool2d(x, k, stride=self.extent, padding=k // 2, count_include_pad=False)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)`` gates (each window's gate repeated over it)."""
        _checks.feature_map("x", x, self.channels)
        g = self.mlp(self.gather_map(x))
        return self.gate(F.interpolate(g, size=x.shape[-2:], mode="nearest"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gates(x)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, extent={self.extent or 'global'}, learned={self.learned}, "
                f"mlp={not isinstance(self.mlp, nn.Identity)}")


def elementwise_ops(block: nn.Module, shape: tuple[int, ...] | torch.Size) -> int:
    """The operations of ``block`` on an input of ``shape`` that FLOP counters do not count.

    Counters count multiply-adds of convolutions and linear layers; the passes over the whole
    ``(N, C, H, W)`` map that pool, stretch or multiply are missed. One operation per element
    and pass: SE and ECA pool and scale (2); parameter-free gather-excite pools, stretches its
    gate map and scales (3), the learned one stretches and scales (2, its convolutions are
    counted); CBAM pools twice over ``H, W``, scales, pools twice over ``C`` and scales again
    (6); SE without squeeze and the constant-gate controls only scale (1).
    """
    from .block import NoSqueezeSE
    from .removal import ConstantGate

    numel = math.prod(shape)
    if isinstance(block, (SEBlock, ECABlock)):
        return 2 * numel
    if isinstance(block, GatherExcite):
        return (2 if block.learned else 3) * numel
    if isinstance(block, CBAMBlock):
        return 6 * numel
    if isinstance(block, (NoSqueezeSE, ChannelScale, ConstantGate)):
        return numel
    raise TypeError(f"block must be one of the library's attention blocks, got {type(block).__name__}")


# --------------------------------------------------------------------------------------------
# timm's weights
# --------------------------------------------------------------------------------------------


def from_timm_state_dict(block: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load the state dict of timm's matching module into ``block`` (in place).

    ``ECABlock`` <- ``EcaModule`` (same keys). ``CBAMBlock`` <- ``CbamModule``: timm's MLP is
    two 1 x 1 convolutions, ours two ``nn.Linear`` (same numbers, reshaped), and its spatial
    batch norm sits at ``spatial.conv.bn``. ``GatherExcite`` <- ``GatherExcite``: its learned
    gather is a sequence of ``convI`` / ``normI`` / ``actI``, ours is numbered; its MLP is
    ``mlp.fc1`` / ``mlp.fc2``, ours ``mlp.0`` / ``mlp.2``.
    """
    state = dict(state)
    if isinstance(block, ECABlock):
        mapped = state
    elif isinstance(block, CBAMBlock):
        mapped = {}
        for k, v in state.items():
            if k.startswith("channel.fc"):
                mapped[k] = v.flatten(1) if k.endswith("weight") else v
            elif k.startswith("spatial.conv.conv."):
                mapped["spatial.conv." + k.rsplit(".", 1)[1]] = v
            elif k.startswith("spatial.conv.bn."):
                mapped["spatial.bn." + k.rsplit(".", 1)[1]] = v
            else:
                mapped[k] = v
    elif isinstance(block, GatherExcite):
        mapped = {}
        ours = [name for name, m in (block.gather.named_children() if block.gather is not None else [])
                if not isinstance(m, nn.ReLU)]
        theirs: list[str] = []
        for k in state:
            if k.startswith("gather.") and k.split(".")[1] not in theirs:
                theirs.append(k.split(".")[1])
        if len(ours) != len(theirs):
            raise ValueError(f"timm's gather has layers {theirs}, this block's has {ours}: build the "
                             "block with the same extent / learned setting")
        rename = dict(zip(theirs, ours, strict=True))
        for k, v in state.items():
            if k.startswith("gather."):
                _, layer, rest = k.split(".", 2)
                mapped[f"gather.{rename[layer]}.{rest}"] = v
            elif k.startswith("mlp.fc1."):
                mapped["mlp.0." + k[len("mlp.fc1."):]] = v
            elif k.startswith("mlp.fc2."):
                mapped["mlp.2." + k[len("mlp.fc2."):]] = v
            else:
                mapped[k] = v
    else:
        raise TypeError(f"block must be an ECABlock, CBAMBlock or GatherExcite, got {type(block).__name__}")
    block.load_state_dict(mapped)
