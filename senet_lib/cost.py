"""What SE costs: parameters, floating-point operations and bytes, all in one place.

* The stage table (:data:`RESNET_LAYOUTS`, :data:`RESNET50_STAGES`): torchvision's ResNets as
  :class:`Stage` rows ``(blocks, channels, size)``, from which every count below starts.
* Parameters: :func:`count_parameters` counts a model's; :func:`analytic_se_params` is the
  paper's formula ``(2 / r) * sum_s N_s C_s**2`` per stage, plus the biases you say the blocks
  keep (``bias1`` and ``bias2`` have no defaults: the formula and the model must agree on them);
  :func:`count_se_params` counts the same numbers in a model, per stage.
* Operations: :func:`count_flops` runs ``torch.utils.flop_counter`` on the ``meta`` device (it
  sees matrix products and convolutions only); :func:`se_block_flops` is one SE block's work by
  part, and :func:`analytic_se_flops` adds it up, per stage, for the SE blocks of a model.
* Bytes: :func:`se_block_bytes` and :func:`se_network_bytes`, a memory-traffic model of SE;
  :func:`conv_cost` and :func:`residual_add_cost` (FLOPs and bytes of what surrounds an SE
  block, as :class:`OpCost`), and :func:`implied_bandwidth` for comparing the model with a
  measured time.

The traffic model counts each tensor an operation reads or writes exactly once (a lower bound:
caches that hold a small map make reality cheaper, re-reads make it dearer). For a feature map of
``M = N C H W`` elements, ``G = N C`` channel values, hidden width ``h`` and ``b`` bytes per
element, one SE block moves:

* pool (squeeze): read ``x`` (M), write ``z`` (G)                                  ``b (M + G)``
* excite (FCs):   read ``z`` (G), ``W1``, ``W2`` (``2 C h``), ``b2`` (C); write the gates (G)
                                                                                   ``b (2 G + 2 C h + C)``
* scale:          read ``x`` (M) and the gates (G), write ``y`` (M)                 ``b (2 M + G)``
* scale, folded into a residual addition that reads and writes the maps anyway (``fused=True``,
  the lesson of chapter 9; the library's networks do not do it): only the gates  ``b G``

The ``h``-wide vector between the two FCs (``N h`` values) is left out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from . import _checks
from .block import SEBlock, hidden_width

__all__ = [
    "Stage", "RESNET_LAYOUTS", "RESNET50_STAGES",
    "count_parameters", "StageParams", "SEParams", "analytic_se_params", "stage_of", "count_se_params",
    "count_flops", "se_block_flops", "analytic_se_flops",
    "se_block_bytes", "se_network_bytes", "OpCost", "conv_cost", "residual_add_cost", "implied_bandwidth",
]


# --------------------------------------------------------------------------------------------
# The stage table
# --------------------------------------------------------------------------------------------


class Stage(NamedTuple):
    """One stage of a ResNet: ``blocks`` residual units whose output has ``channels`` channels
    (where SE sits) on ``size x size`` maps for a 224 x 224 input."""

    blocks: int
    channels: int
    size: int


def _layout(blocks: tuple[int, ...], channels: tuple[int, ...]) -> tuple[Stage, ...]:
    # the stem divides 224 by 4 (stride-2 convolution, stride-2 max pooling), each later stage by 2
    return tuple(Stage(n, c, 56 >> k) for k, (n, c) in enumerate(zip(blocks, channels, strict=True)))


#: torchvision's ResNets (He et al., 2016), stage by stage (``layer1`` ... ``layer4``).
RESNET_LAYOUTS: dict[str, tuple[Stage, ...]] = {
    "resnet18": _layout((2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet34": _layout((3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet50": _layout((3, 4, 6, 3), (256, 512, 1024, 2048)),
    "resnet101": _layout((3, 4, 23, 3), (256, 512, 1024, 2048)),
    "resnet152": _layout((3, 8, 36, 3), (256, 512, 1024, 2048)),
}

#: ResNet-50's stages: ``Stage(3, 256, 56), Stage(4, 512, 28), Stage(6, 1024, 14), Stage(3, 2048, 7)``.
RESNET50_STAGES: tuple[Stage, ...] = RESNET_LAYOUTS["resnet50"]


def _stages(stages: object, *, need_size: bool = False) -> list[Stage]:
    """Check a stage table: :class:`Stage` rows, or ``(blocks, channels[, size])`` tuples."""
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or not stages:
        raise TypeError(f"stages must be a non-empty sequence of (blocks, channels, size) rows "
                        f"such as RESNET50_STAGES, got {stages!r}")
    out = []
    for i, row in enumerate(stages):
        if not isinstance(row, Sequence) or len(row) not in ((3,) if need_size else (2, 3)):
            want = "(blocks, channels, size)" if need_size else "(blocks, channels) or (blocks, channels, size)"
            raise ValueError(f"stages[{i}] must be {want}, got {row!r}")
        n = _checks.positive_int(f"stages[{i}] blocks", row[0])
        c = _checks.positive_int(f"stages[{i}] channels", row[1])
        s = _checks.positive_int(f"stages[{i}] size", row[2]) if len(row) == 3 else 0
        out.append(Stage(n, c, s))
    return out


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (buffers such as batch-norm statistics excluded)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class StageParams:
    """The SE parameters of one stage: ``blocks`` SE blocks on ``channels`` channels each."""

    stage: int
    blocks: int
    channels: int
    hidden: int
    weights: int
    biases: int

    @property
    def total(self) -> int:
        return self.weights + self.biases


class SEParams(tuple):
    """:func:`analytic_se_params`'s answer: one :class:`StageParams` per stage, and the sums."""

    @property
    def weights(self) -> int:
        return sum(s.weights for s in self)

    @property
    def biases(self) -> int:
        return sum(s.biases for s in self)

    @property
    def total(self) -> int:
        return sum(s.total for s in self)


def analytic_se_params(stages: Sequence, reduction: int, *, bias1: bool, bias2: bool) -> SEParams:
    """The parameters SE blocks add to a network, per stage, from the formula (no model is built).

    Stage ``s`` has ``N_s`` SE blocks on ``C_s`` channels, each with ``h_s = max(1, C_s // r)``
    hidden units (:func:`~senet_lib.block.hidden_width`):

    * weights: ``N_s * 2 * C_s * h_s``, the paper's ``(2 / r) * N_s * C_s**2`` when ``r`` divides ``C_s``;
    * biases: ``N_s * h_s`` if ``bias1`` (``fc1``'s), plus ``N_s * C_s`` if ``bias2`` (``fc2``'s).

    :class:`~senet_lib.SEBlock` keeps ``bias1=False, bias2=True``; timm's SE-ResNets keep both;
    the paper's formula counts neither.

    Args:
        stages: the stage table, e.g. :data:`RESNET50_STAGES`; rows ``(blocks, channels)`` do too.
        reduction: the reduction ratio ``r``.
        bias1, bias2: whether each block's first / second fully connected layer has a bias.

    Returns:
        An :class:`SEParams`: the :class:`StageParams` of each stage (numbered from 1), with
        ``.weights``, ``.biases`` and ``.total`` over all stages. At ``r = 16`` ResNet-50's
        weights are 2,514,944.
    """
    reduction = _checks.positive_int("reduction", reduction)
    bias1, bias2 = _checks.boolean("bias1", bias1), _checks.boolean("bias2", bias2)
    out = []
    for k, (n, c, _) in enumerate(_stages(stages), start=1):
        h = hidden_width(c, reduction)
        out.append(StageParams(k, n, c, h, n * 2 * c * h, n * (h * bias1 + c * bias2)))
    return SEParams(out)


def stage_of(name: str, model: nn.Module) -> int:
    """The stage a module of ``model`` belongs to, from its qualified ``name``: ``"layer3.2.se"``
    is in stage 3 (a ResNet's ``layerK``); in a VGG, ``features.i...`` is in the stage of the
    ``i``-th entry's max pooling. 0: not in a stage."""
    m = re.match(r"layer(\d+)\.", name)
    if m:
        return int(m.group(1))
    m = re.match(r"features\.(\d+)\.", name)
    features = getattr(model, "features", None)
    if m and isinstance(features, nn.Sequential):
        pools = [i for i, x in enumerate(features)
                 if isinstance(x, nn.MaxPool2d) or (isinstance(x, nn.Sequential) and hasattr(x, "pool"))]
        i = int(m.group(1))
        return pools.index(i) + 1 if i in pools else 0
    return 0


def count_se_params(model: nn.Module) -> dict[int, int]:
    """Parameters of the SE blocks in ``model``, counted, per stage: ``{stage: count}``
    (stages numbered as :func:`stage_of` does; SE blocks found as :func:`senet_lib.gates.se_blocks`
    finds them, timm's included)."""
    from .gates import se_blocks

    counts: dict[int, int] = {}
    for name, se in se_blocks(model).items():
        stage = stage_of(name, model)
        counts[stage] = counts.get(stage, 0) + count_parameters(se)
    return counts


# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------


def _input_size(input_size: object, length: int | None = None) -> tuple[int, ...]:
    if (not isinstance(input_size, (tuple, list)) or not input_size
            or (length is not None and len(input_size) != length)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_size)):
        what = f"{length} positive ints" if length else "positive ints"
        raise ValueError(f"input_size must be a tuple of {what} such as (1, 3, 224, 224), got {input_size!r}")
    return tuple(input_size)


def count_flops(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224), *,
                by_op: bool = False) -> int | dict[str, int]:
    """FLOPs (2 per multiply-add) of ``model`` on one input of ``input_size``, counted by
    ``torch.utils.flop_counter`` on a copy of ``model`` moved to the ``meta`` device (no memory,
    no time; ``model`` itself is not touched).

    The counter knows matrix products and convolutions only: pooling, element-wise products,
    batch norm and activations are not in its count (:func:`analytic_se_flops` adds SE's).

    Returns:
        The total, or with ``by_op=True`` a dict ``{operator: FLOPs}`` (such as
        ``"aten.convolution"``) whose values add up to the total.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    size = _input_size(input_size)
    _checks.boolean("by_op", by_op)
    meta = copy.deepcopy(model).to("meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(torch.empty(*size, device="meta"))
    if by_op:
        return {str(op): int(v) for op, v in counter.get_flop_counts()["Global"].items()}
    return int(counter.get_total_flops())


def se_block_flops(channels: int, height: int, width: int, *, batch: int = 1, reduction: int = 16,
                   hidden: int | None = None) -> dict[str, int]:
    """Floating-point operations of one SE block on ``(batch, channels, height, width)``, by part.

    ``"pool"``: ``M = N C H W`` additions; ``"excite"``: ``2 * 2 N C h`` (two matrix products, a
    multiply-add counted as 2); ``"scale"``: ``M`` products; and their ``"total"``. ``h`` is
    ``hidden``, or ``max(1, C // reduction)``. Biases, ReLU and sigmoid (``O(N C)``) are left out.
    """
    c = _checks.positive_int("channels", channels)
    n = _checks.positive_int("batch", batch)
    m = n * c * _checks.positive_int("height", height) * _checks.positive_int("width", width)
    h = hidden_width(c, reduction) if hidden is None else _checks.positive_int("hidden", hidden)
    parts = {"pool": m, "excite": 4 * n * c * h, "scale": m}
    parts["total"] = sum(parts.values())
    return parts


def analytic_se_flops(model: nn.Module, input_size: tuple[int, int, int, int] = (1, 3, 224, 224)
                      ) -> dict[int, dict[str, int]]:
    """What the :class:`~senet_lib.SEBlock` s of ``model`` compute for one input of ``input_size``,
    per stage: ``{stage: {"pool": ..., "fc": ..., "scale": ...}}``.

    A forward pass (on zeros, without gradients, on the model's device: ``meta`` is free) records
    the ``(N, C, H, W)`` map each SE block sees; :func:`se_block_flops` gives, per block,
    ``"pool"`` (``N C H W`` additions), ``"fc"`` (``N * 2 * C * h`` multiply-adds, one operation
    each, as the paper and torchinfo count) and ``"scale"`` (``N C H W`` multiplications).
    Counters such as torchinfo and :func:`count_flops` see only the ``"fc"`` part (chapter 5).
    """
    size = _input_size(input_size, 4)
    records: list[tuple[int, int, torch.Size]] = []  # (stage, hidden, input shape)
    handles = []
    for name, se in model.named_modules():
        if isinstance(se, SEBlock):
            def hook(mod, args, stage=stage_of(name, model)):
                records.append((stage, mod.hidden, args[0].shape))
            handles.append(se.register_forward_pre_hook(hook))
    if not handles:
        raise ValueError(f"model ({type(model).__name__}) has no SEBlock; use add_se first")
    ref = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(size, device=ref.device, dtype=ref.dtype))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    out: dict[int, dict[str, int]] = {}
    for stage, hidden, (n, c, h, w) in records:
        f = se_block_flops(c, h, w, batch=n, hidden=hidden)
        d = out.setdefault(stage, {"pool": 0, "fc": 0, "scale": 0})
        d["pool"] += f["pool"]
        d["fc"] += f["excite"] // 2  # multiply-adds
        d["scale"] += f["scale"]
    return out


# --------------------------------------------------------------------------------------------
# Bytes
# --------------------------------------------------------------------------------------------


def se_block_bytes(channels: int, height: int, width: int, *, batch: int = 1, reduction: int = 16,
                   hidden: int | None = None, dtype_bytes: int = 4, fused: bool = False) -> dict[str, int]:
    """Bytes one SE block's forward pass moves, by part: ``{"pool", "excite", "scale", "total"}``
    (the traffic model of the module docstring).

    Args:
        channels, height, width: the feature map ``(N, C, H, W)`` the block sees (``N = batch``).
        reduction / hidden: the bottleneck width ``h = max(1, C // reduction)``, or ``hidden``.
        dtype_bytes: bytes per element (4 for fp32, 2 for fp16 / bf16).
        fused: the rescale folded into a residual addition (only the gates are extra).

    Example: ``se_block_bytes(32, 8, 8)`` is ``{"pool": 8320, "excite": 896, "scale": 16512, ...}``.
    """
    c = _checks.positive_int("channels", channels)
    n = _checks.positive_int("batch", batch)
    m = n * c * _checks.positive_int("height", height) * _checks.positive_int("width", width)
    b = _checks.positive_int("dtype_bytes", dtype_bytes)
    _checks.boolean("fused", fused)
    h = hidden_width(c, reduction) if hidden is None else _checks.positive_int("hidden", hidden)
    g = n * c
    parts = {"pool": b * (m + g), "excite": b * (2 * g + 2 * c * h + c),
             "scale": b * g if fused else b * (2 * m + g)}
    parts["total"] = sum(parts.values())
    return parts


def se_network_bytes(stages: Sequence = RESNET50_STAGES, *, batch: int = 1, reduction: int = 16,
                     dtype_bytes: int = 4, fused: bool = False) -> dict[str, object]:
    """Bytes moved by all the SE blocks of a network, one forward pass of ``batch`` images.

    ``stages`` is the stage table (:class:`Stage` rows, square ``size x size`` maps); the
    default is SE-ResNet-50 at 224 x 224. Returns ``{"per_stage": [...], "total": int,
    "per_image": float}``, each stage entry with its ``"stage"``, ``"blocks"``, ``"channels"``,
    ``"size"`` and its ``"pool"``, ``"excite"``, ``"scale"`` and ``"total"`` bytes summed over
    the stage's blocks.
    """
    per_stage = []
    for k, (blocks, channels, size) in enumerate(_stages(stages, need_size=True), start=1):
        one = se_block_bytes(channels, size, size, batch=batch, reduction=reduction,
                             dtype_bytes=dtype_bytes, fused=fused)
        per_stage.append({"stage": k, "blocks": blocks, "channels": channels, "size": size,
                          **{part: blocks * v for part, v in one.items()}})
    total = sum(s["total"] for s in per_stage)
    return {"per_stage": per_stage, "total": total, "per_image": total / batch}


@dataclass(frozen=True)
class OpCost:
    """FLOPs and bytes of one operation; ``intensity`` is FLOPs per byte (the roofline's x axis)."""

    flops: int
    bytes: int

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes


def conv_cost(batch: int, c_in: int, c_out: int, size: int, kernel: int = 1,
              dtype_bytes: int = 4) -> OpCost:
    """A stride-1, 'same' convolution on ``size x size`` maps: ``2 N H W C_in C_out k^2`` FLOPs;
    bytes for reading the input and the weights (no bias) and writing the output, once each."""
    n, ci, co, s, k, b = (_checks.positive_int(a, v) for a, v in [
        ("batch", batch), ("c_in", c_in), ("c_out", c_out), ("size", size), ("kernel", kernel),
        ("dtype_bytes", dtype_bytes)])
    return OpCost(2 * n * s * s * ci * co * k * k, b * (n * s * s * (ci + co) + ci * co * k * k))


def residual_add_cost(batch: int, channels: int, size: int, *, gated: bool = False,
                      dtype_bytes: int = 4) -> OpCost:
    """The residual addition ``identity + branch`` on ``(N, C, size, size)`` maps: ``M`` additions,
    two maps read and one written (``3 M`` elements). ``gated=True``: ``identity + branch * s``
    with the ``(N, C)`` gates ``s`` folded in (``torch.addcmul``): ``2 M`` FLOPs, and the gates read."""
    n, c, s, b = (_checks.positive_int(a, v) for a, v in [
        ("batch", batch), ("channels", channels), ("size", size), ("dtype_bytes", dtype_bytes)])
    m = n * c * s * s
    if _checks.boolean("gated", gated):
        return OpCost(2 * m, b * (3 * m + n * c))
    return OpCost(m, b * 3 * m)


def implied_bandwidth(nbytes: float, seconds: float) -> float:
    """GB/s (10^9 bytes per second) needed to move ``nbytes`` in ``seconds``."""
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    return nbytes / seconds / 1e9
