"""Checkers for chapter 9, the cost of SE: bytes, arithmetic intensity, the roofline, paired ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from ..cost import conv_cost, se_block_bytes
from ._core import Hint, as_number, call, checker

__all__ = ["check_se_bytes", "check_conv1x1_intensity", "check_roofline", "check_paired_ratio"]


def _number(out: object, what: str) -> float:
    """The learner's answer as a float (a tensor or NumPy scalar is fine), else a hint."""
    return float(as_number(out, what))


def _same(a: float, b: float, rel: float = 1e-5) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


#: (batch, channels, height, width, reduction): stage-like shapes, a batch > 1, C < r, and r not dividing C.
_SE_CASES = [(1, 256, 56, 56, 16), (8, 2048, 7, 7, 16), (2, 64, 10, 12, 4), (1, 8, 5, 5, 16),
             (2, 100, 6, 6, 16)]


@checker("Bytes moved by an SE block")
def check_se_bytes(fn: Callable[..., float]) -> str:
    """``fn(n, c, h, w, reduction, fused)`` must return the bytes (fp32) one SE block moves in
    its forward pass, following the chapter's traffic model."""
    for n, c, h, w, r in _SE_CASES:
        hidden = max(1, c // r)
        m, g = n * c * h * w, n * c
        weights = 4 * (2 * c * hidden + c)
        for fused in (False, True):
            expected = se_block_bytes(c, h, w, batch=n, reduction=r, fused=fused)["total"]
            got = _number(call(fn, n, c, h, w, r, fused), "your answer")
            if _same(got, expected):
                continue
            case = f"for (N, C, H, W) = {(n, c, h, w)}, r = {r}, fused = {fused}"
            other = se_block_bytes(c, h, w, batch=n, reduction=r, fused=not fused)["total"]
            if _same(got, expected / 4):
                raise Hint(f"{case} you counted elements, not bytes: an fp32 number takes 4 bytes.")
            if _same(got, expected * 8):
                raise Hint(f"{case} you counted bits: the answer is in bytes (4 per fp32 number).")
            if _same(got, other):
                raise Hint(f"{case} your answer is the {'unfused' if fused else 'fused'} one: "
                           "check how `fused` changes the rescale's traffic.")
            if _same(got, expected - weights):
                raise Hint(f"{case} the weights are missing: the excitation reads W1, W2 and b2 "
                           f"({2 * c * hidden + c} numbers) on every forward pass.")
            if _same(got, expected - 4 * c):
                raise Hint(f"{case} b2, fc2's bias ({c} numbers), is missing from the weights the "
                           "excitation reads.")
            if n > 1 and _same(got, expected + (n - 1) * weights):
                raise Hint(f"{case} you counted the weights once per image: a batch reads them once per "
                           "forward pass.")
            if c % r and c >= r and _same(got, expected + 4 * 2 * c * (c / r - hidden)):
                raise Hint(f"{case} you used C / r = {c / r:g} hidden units; the block has max(1, C // r) "
                           f"= {hidden}.")
            if c < r and _same(got, expected - 4 * 2 * c):
                raise Hint(f"{case} C // r is 0; the block keeps at least 1 hidden unit.")
            if not fused and _same(got, expected - 4 * m):
                raise Hint(f"{case} the unfused rescale reads x and also writes a new "
                           "(N, C, H, W) tensor y: count both.")
            if _same(got, 4 * 3 * m) or _same(got, 4 * m):
                raise Hint(f"{case} you counted only the feature-map traffic; add the small "
                           "terms: z, the gates (N*C each, read and written) and the weights.")
            if _same(got, expected - 4 * 4 * g):
                raise Hint(f"{case} some of the (N, C) vectors are missing: pool writes z, the "
                           "excitation reads z and writes the gates, the rescale reads the gates.")
            raise Hint(f"{case} you said {got:.0f} bytes, the model gives {expected}.")
    return f"matches the traffic model on {len(_SE_CASES)} shapes, fused and unfused."


_CONV_CASES = [(1, 64, 256, 56), (8, 256, 1024, 14), (1, 512, 2048, 7), (4, 3, 5, 9)]


@checker("Arithmetic intensity of a 1x1 convolution")
def check_conv1x1_intensity(fn: Callable[[int, int, int, int], float]) -> str:
    """``fn(n, c_in, c_out, size)`` must return FLOPs per byte of a 1x1 convolution on
    ``(n, c_in, size, size)`` fp32 input (a multiply-add is 2 FLOPs; bytes: input, weights,
    output, each once)."""
    for n, ci, co, s in _CONV_CASES:
        cost = conv_cost(n, ci, co, s, 1)
        expected = cost.intensity
        got = _number(call(fn, n, ci, co, s), "your intensity")
        if _same(got, expected):
            continue
        case = f"for N={n}, C_in={ci}, C_out={co}, size={s}"
        flops, nbytes = cost.flops, cost.bytes
        act_bytes = 4 * n * s * s * (ci + co)
        if _same(got, expected / 2):
            raise Hint(f"{case} your FLOPs are half: a multiply-add counts as 2 FLOPs.")
        if _same(got, expected * 4) or _same(got, flops / (nbytes / 4) / 2):
            raise Hint(f"{case} you divided by the number of elements; divide by bytes (4 per fp32 number).")
        if _same(got, flops / act_bytes) or _same(got, flops / act_bytes / 2):
            raise Hint(f"{case} the weights are missing from the bytes: the convolution reads "
                       f"its C_in x C_out = {ci * co} weights too.")
        if _same(got, nbytes / flops):
            raise Hint(f"{case} you returned bytes per FLOP: intensity is FLOPs / bytes.")
        if _same(got, flops / (4 * (n * s * s * ci + ci * co))):
            raise Hint(f"{case} the output is missing from the bytes: the convolution writes its "
                       f"(N, C_out, size, size) result, {n * s * s * co} numbers.")
        if _same(got, flops / (nbytes + 4 * co)):
            raise Hint(f"{case} you counted a bias: this convolution has none (weights only).")
        side = 2 * n * s * ci * co / (4 * (n * s * (ci + co) + ci * co))
        if _same(got, side):
            raise Hint(f"{case} size is the side of the map: there are size * size = {s * s} positions.")
        raise Hint(f"{case} you said {got:.4g} FLOPs/byte, expected {expected:.4g}.")
    return f"right on {len(_CONV_CASES)} convolutions, from 0.5 to tens of FLOPs per byte."


_ROOF_CASES = [(0.25, 20.0, 100.0), (50.0, 20.0, 100.0), (5.0, 20.0, 100.0), (0.125, 8.0, 30.0),
               (1000.0, 8.0, 30.0)]


@checker("The roofline")
def check_roofline(fn: Callable[[float, float, float], float]) -> str:
    """``fn(intensity, bandwidth_gbps, peak_gflops)`` must return the attainable GFLOP/s:
    the lower of the compute ceiling and bandwidth times intensity. Hidden points lie below,
    above and far above the ridge, on two machines."""
    got = [_number(call(fn, i, bw, peak), "your attainable GFLOP/s") for i, bw, peak in _ROOF_CASES]

    def all_like(rule: Callable[[float, float, float], float]) -> bool:
        return all(_same(g, rule(*case)) for g, case in zip(got, _ROOF_CASES, strict=True))

    if all_like(lambda i, bw, peak: min(peak, i * bw)):
        return f"right on {len(_ROOF_CASES)} points on both sides of the ridge."
    if all_like(lambda i, bw, peak: max(peak, i * bw)):
        raise Hint("you took the higher ceiling: an operation is held back by the lower one "
                   "(min, not max).")
    if all_like(lambda i, bw, peak: peak):
        raise Hint("you returned the peak everywhere; an operation low in intensity cannot reach "
                   "it: memory delivers only bandwidth x intensity FLOP/s.")
    if all_like(lambda i, bw, peak: i * bw):
        raise Hint("bandwidth x intensity is right below the ridge point; above it the compute "
                   "peak caps the speed.")
    if all_like(lambda i, bw, peak: min(peak, i * bw) * 1e9) or all_like(lambda i, bw, peak: min(peak, i * bw) / 1e9) \
            or all_like(lambda i, bw, peak: min(peak * 1e9, i * bw)) or all_like(lambda i, bw, peak: min(peak, i * bw * 1e9)):
        raise Hint("the inputs are already in GB/s and GFLOP/s and the answer is in GFLOP/s: no factor 1e9.")
    if all_like(lambda i, bw, peak: min(peak, bw / i)):
        raise Hint("bandwidth (bytes/s) times intensity (FLOPs/byte) gives FLOPs/s; you divided.")
    for g, (i, bw, peak) in zip(got, _ROOF_CASES, strict=True):
        expected = min(peak, i * bw)
        if not _same(g, expected):
            raise Hint(f"for intensity {i} FLOP/byte, bandwidth {bw} GB/s, peak {peak} GFLOP/s "
                       f"you said {g:.4g}, expected {expected:.4g} GFLOP/s.")
    return f"right on {len(_ROOF_CASES)} points on both sides of the ridge."


#: (SE model ms, plain model ms) per round. In the first case the machine slows down round after
#: round, and the per-round ratio varies with it, so the ratio of the two medians (160 / 150)
#: is not the median of the ratios (1.05). The second has an even number of rounds and one
#: round where only the SE model was hit by a burst of other work. In the third the machine is
#: slow in rounds 2 and 4 and SE alone is hit in round 3, so sorting the two lists separately
#: pairs the wrong rounds (1.05 instead of 1.04).
_PAIRED_CASES = [
    ([104.0, 104.0, 160.0, 158.0, 210.0], [100.0, 100.0, 150.0, 150.0, 200.0]),
    ([83.0, 81.6, 250.0, 82.4, 84.0, 85.2], [80.0, 80.0, 80.0, 80.0, 80.0, 80.0]),
    ([93.6, 122.4, 110.5, 126.0, 86.7], [90.0, 120.0, 85.0, 120.0, 85.0]),
]


@checker("Paired ratios")
def check_paired_ratio(fn: Callable[[list, list], float]) -> str:
    """``fn(se_ms, plain_ms)`` must return the median over rounds of ``se_ms[i] / plain_ms[i]``
    (two lists of per-round times, the i-th of each from the same round)."""
    for se, plain in _PAIRED_CASES:
        ratios = [a / b for a, b in zip(se, plain, strict=True)]
        expected = statistics.median(ratios)
        got = _number(call(fn, list(se), list(plain)), "your ratio")
        if _same(got, expected):
            continue
        case = f"for SE times {se} and plain times {plain}"
        if _same(got, statistics.median(se) / statistics.median(plain)):
            raise Hint(f"{case} you divided the two medians. Pair the rounds: divide round by "
                       "round (times from the same round saw the same machine), then take the "
                       "median of those ratios.")
        if _same(got, statistics.fmean(ratios)):
            raise Hint(f"{case} you took the mean of the ratios; one round hit by other work "
                       "pulls a mean, not a median.")
        if _same(got, 1 / expected) or _same(got, statistics.median(b / a for a, b in zip(se, plain, strict=True))):
            raise Hint(f"{case} your ratio is upside down: SE model over plain model.")
        if _same(got, expected - 1) or _same(got, 100 * (expected - 1)):
            raise Hint(f"{case} you returned the extra time (ratio - 1): return the ratio itself, "
                       "SE time / plain time.")
        if _same(got, statistics.median(a - b for a, b in zip(se, plain, strict=True))):
            raise Hint(f"{case} you took the median of the differences (ms): the exercise asks for "
                       "ratios, se_ms[i] / plain_ms[i].")
        ordered = sorted(ratios)
        if len(ordered) % 2 == 0 and (_same(got, ordered[len(ordered) // 2])
                                      or _same(got, ordered[len(ordered) // 2 - 1])):
            raise Hint(f"{case} with an even number of rounds the median is the mean of the "
                       "two middle ratios.")
        if _same(got, statistics.median(a / b for a, b in zip(sorted(se), sorted(plain), strict=True))):
            raise Hint(f"{case} sorting each list on its own breaks the pairs: the i-th times of "
                       "the two lists must stay together.")
        raise Hint(f"{case} you said {got:.5g}, the median of the per-round ratios is {expected:.5g}.")
    return f"right on {len(_PAIRED_CASES)} runs, including drift, an even count and an outlier."
