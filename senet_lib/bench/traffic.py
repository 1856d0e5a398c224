"""A memory-traffic model of the SE block: how many bytes it must move, and how many FLOPs it does.

The model counts each tensor an operation reads or writes exactly once (a lower bound: caches
that happen to hold a small feature map make reality cheaper, re-reads make it dearer). For a
feature map of ``M = N * C * H * W`` elements, ``G = N * C`` channel values and ``b`` bytes per
element (4 for fp32), one SE block moves:

* pool (squeeze):   read ``x`` (M), write ``z`` (G)                          -> ``b (M + G)``
* excite (FCs):     read ``z`` (G), ``W1``, ``W2`` (``2 C h``) and ``b2`` (C),
                    write the gates (G)                                      -> ``b (2 G + 2 C h + C)``
* scale, unfused:   read ``x`` (M) and the gates (G), write ``y`` (M)        -> ``b (2 M + G)``
* scale, fused:     the residual addition reads the branch and the shortcut and writes the sum
                    anyway; folding the gates into it (``addcmul``) adds only the gates (G) -> ``b G``

``h = C // r`` is the bottleneck width; the ``h``-wide vector between the two FCs (``N h``
values) is left out. The big terms are ``M``: an unfused SE block reads its input twice and
writes it once (``3 M``), a fused one reads it once (``M``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import _checks
from ..block import hidden_width

__all__ = [
    "SE_RESNET50_STAGES",
    "se_block_bytes",
    "se_block_flops",
    "se_network_bytes",
    "conv_cost",
    "implied_bandwidth",
    "OpCost",
]

#: SE-ResNet-50 at 224 x 224 input: (blocks, channels, height = width) per stage.
SE_RESNET50_STAGES: tuple[tuple[int, int, int], ...] = ((3, 256, 56), (4, 512, 28), (6, 1024, 14), (3, 2048, 7))


def _hidden(channels: int, reduction: int, hidden: int | None) -> int:
    if hidden is None:
        return hidden_width(channels, reduction)
    return _checks.positive_int("hidden", hidden)


def se_block_bytes(
    channels: int,
    height: int,
    width: int,
    *,
    batch: int = 1,
    reduction: int = 16,
    hidden: int | None = None,
    dtype_bytes: int = 4,
    fused: bool = False,
) -> dict[str, int]:
    """Bytes one SE block's forward pass moves, by part: ``{"pool", "excite", "scale", "total"}``.

    Args:
        channels, height, width: the feature map ``(N, C, H, W)`` the block sees (``N = batch``).
        reduction / hidden: the bottleneck width ``h = C // reduction`` (at least 1), or ``hidden``.
        dtype_bytes: bytes per element (4 for fp32, 2 for fp16 / bf16).
        fused: the rescale folded into the residual addition (only the gates are extra).

    Example: ``se_block_bytes(32, 8, 8)`` is ``{"pool": 8320, "excite": 896, "scale": 16512, ...}``.
    """
    c = _checks.positive_int("channels", channels)
    hh = _checks.positive_int("height", height)
    ww = _checks.positive_int("width", width)
    n = _checks.positive_int("batch", batch)
    b = _checks.positive_int("dtype_bytes", dtype_bytes)
    _checks.boolean("fused", fused)
    h = _hidden(c, reduction, hidden)
    m, g = n * c * hh * ww, n * c
    parts = {
        "pool": b * (m + g),
        "excite": b * (2 * g + 2 * c * h + c),
        "scale": b * g if fused else b * (2 * m + g),
    }
    parts["total"] = sum(parts.values())
    return parts


def se_block_flops(channels: int, height: int, width: int, *, batch: int = 1, reduction: int = 16,
                   hidden: int | None = None) -> dict[str, int]:
    """Floating-point operations of one SE block, by part (a multiply-add counts as 2).

    pool: ``M`` additions; excite: ``2 * 2 N C h`` (two matrix products); scale: ``M`` products.
    Bias, ReLU and sigmoid (``O(N C)``) are left out.
    """
    c = _checks.positive_int("channels", channels)
    n = _checks.positive_int("batch", batch)
    m = n * c * _checks.positive_int("height", height) * _checks.positive_int("width", width)
    h = _hidden(c, reduction, hidden)
    parts = {"pool": m, "excite": 4 * n * c * h, "scale": m}
    parts["total"] = sum(parts.values())
    return parts


def se_network_bytes(
    stages: tuple[tuple[int, int, int], ...] = SE_RESNET50_STAGES,
    *,
    batch: int = 1,
    reduction: int = 16,
    dtype_bytes: int = 4,
    fused: bool = False,
) -> dict[str, object]:
    """Bytes moved by all the SE blocks of a network, one forward pass of ``batch`` images.

    ``stages`` lists ``(blocks, channels, size)`` per stage (square ``size x size`` maps);
    the default is SE-ResNet-50 at 224 x 224. Returns ``{"per_stage": [...], "total": int,
    "per_image": float}``, each stage entry with its ``"pool"``, ``"excite"``, ``"scale"`` and
    ``"total"`` bytes summed over the stage's blocks.
    """
    per_stage = []
    for k, st in enumerate(stages):
        if len(st) != 3:
            raise ValueError(f"stages[{k}] must be (blocks, channels, size), got {st!r}")
        blocks = _checks.positive_int(f"stages[{k}] blocks", st[0])
        one = se_block_bytes(st[1], st[2], st[2], batch=batch, reduction=reduction,
                             dtype_bytes=dtype_bytes, fused=fused)
        per_stage.append({"stage": k + 1, "blocks": blocks, "channels": st[1], "size": st[2],
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
    """A stride-1, 'same' convolution on ``size x size`` maps: ``2 N H W C_in C_out k^2`` FLOPs,
    bytes for reading input and weights and writing the output once each."""
    n, ci, co, s, k = (_checks.positive_int(a, v) for a, v in
                       [("batch", batch), ("c_in", c_in), ("c_out", c_out), ("size", size), ("kernel", kernel)])
    flops = 2 * n * s * s * ci * co * k * k
    nbytes = dtype_bytes * (n * s * s * (ci + co) + ci * co * k * k)
    return OpCost(flops, nbytes)


def implied_bandwidth(nbytes: float, seconds: float) -> float:
    """GB/s (10^9 bytes per second) needed to move ``nbytes`` in ``seconds``."""
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    return nbytes / seconds / 1e9
