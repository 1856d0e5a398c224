"""Checkers for chapter 8, the ablations: what SE's parts cost and what a sweep can tell."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..block import hidden_width
from ._core import Hint, as_count, as_number, call, checker, describe, same_number

__all__ = ["check_resnet_se_params", "check_paired_interval", "check_worst_arm",
           "check_no_squeeze_flops"]


def _t95(df: int) -> float:
    """Two-sided 95 % critical value of Student's t with ``df`` degrees of freedom (SciPy)."""
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


# --- SE's parameters in the CIFAR ResNet --------------------------------------------------------

def _se_params(depth: int, width: int, reduction: int, *, floor: bool = True, bias2: bool = True,
               bias1: bool = False, blocks: int | None = None, widths: Sequence[int] | None = None,
               ceil: bool = False) -> float:
    n = (depth - 2) // 6 if blocks is None else blocks
    total = 0
    for c in (width, 2 * width, 4 * width) if widths is None else widths:
        h = max(1, -(-c // reduction)) if ceil else hidden_width(c, reduction) if floor else c // reduction
        total += n * (2 * c * h + (c if bias2 else 0) + (h if bias1 else 0))
    return total


_PARAM_CASES = [(8, 16, 32), (14, 16, 16), (20, 16, 8), (32, 8, 4), (14, 16, 2), (14, 12, 8)]


@checker("SE's parameters in a CIFAR ResNet")
def check_resnet_se_params(fn: Callable[[int, int, int], int]) -> str:
    """``fn(depth, width, reduction)`` must return how many parameters the SE blocks add to
    ``cifar_resnet(depth, width=width, attn="se", attn_options={"reduction": reduction})``:
    ``n = (depth - 2) / 6``
    blocks in each of three stages of widths ``w, 2w, 4w``; per block ``fc1`` (``C x h``, no
    bias) and ``fc2`` (``h x C`` plus a bias of ``C``), with ``h = max(1, C // r)``. Hidden
    cases include stages with ``C < r`` and widths ``r`` does not divide."""
    for depth, width, r in _PARAM_CASES:
        got = as_number(call(fn, depth, width, r), "your count")
        want = _se_params(depth, width, r)
        if got == want:
            continue
        case = f"for depth={depth}, width={width}, r={r}"
        n = (depth - 2) // 6
        if same_number(got, n * sum(2 * c * c / r for c in (width, 2 * width, 4 * width))):
            raise Hint(f"{case} you used 2 C^2 / r per block, the paper's formula: it assumes C // r >= 1 "
                       "and no biases. senet_lib's block has h = max(1, C // r) hidden units and fc2 has "
                       "a bias of C.")
        if same_number(got, n * sum(2 * c * max(1.0, c / r) + c for c in (width, 2 * width, 4 * width))):
            raise Hint(f"{case} you used C / r hidden units; a layer has a whole number of them, "
                       "h = max(1, C // r).")
        got = as_count(got, "your count")
        if got == _se_params(depth, width, r, bias2=False):
            raise Hint("you left out fc2's bias: it adds C parameters per block (fc1 has none).")
        if got == _se_params(depth, width, r, bias1=True):
            raise Hint("you gave fc1 a bias: in senet_lib's SEBlock only fc2 has one (bias1=False).")
        if got == _se_params(depth, width, r) + n * 7 * width:
            raise Hint("you counted fc2's bias twice (C twice per block): fc2 has one bias of C.")
        if got == _se_params(depth, width, r, floor=False):
            raise Hint(f"for width={width}, r={r} some stage has C < r, so C // r is 0: the block keeps "
                       "h = max(1, C // r) hidden units (senet_lib.block.hidden_width).")
        if got == _se_params(depth, width, r, ceil=True):
            raise Hint(f"{case} you rounded C / r up; the hidden width rounds down, max(1, C // r).")
        if got in (_se_params(depth, width, r, blocks=depth), _se_params(depth, width, r, blocks=(depth - 2) // 2),
                   _se_params(depth, width, r, blocks=1), _se_params(depth, width, r, blocks=(depth - 2) // 3)):
            raise Hint("count the blocks: depth = 6n + 2 layers, so each of the three stages has "
                       "n = (depth - 2) / 6 basic blocks, each with one SE block.")
        if got == _se_params(depth, width, r, widths=(width,) * 3):
            raise Hint("every stage has the same width in your count: the widths double, w, 2w, 4w.")
        if got == _se_params(depth, width, r, widths=(width, 2 * width, 4 * width, 8 * width)):
            raise Hint("you counted four stages (ResNet-50's layout): this CIFAR ResNet has three, of "
                       "widths w, 2w, 4w.")
        raise Hint(f"{case} the SE blocks add {int(want):,} parameters; you gave {got:,}.")
    return f"right for {len(_PARAM_CASES)} hidden (depth, width, r), including stages with C < r."


# --- the 95 % interval of a paired difference ---------------------------------------------------

_INTERVAL_CASES = [([0.71, 0.74, 0.69], [0.73, 0.75, 0.73]),
                   ([0.62, 0.58, 0.66, 0.61], [0.60, 0.59, 0.63, 0.64]),
                   ([0.80, 0.84, 0.79, 0.83, 0.81], [0.78, 0.80, 0.80, 0.79, 0.77]),
                   ([0.55, 0.60], [0.57, 0.66])]


def _triple(out: Any) -> tuple[float, float, float]:
    if isinstance(out, (torch.Tensor, np.ndarray)) and (out.numel() if isinstance(out, torch.Tensor)
                                                        else out.size) == 3:
        out = out.flatten().tolist()
    if isinstance(out, dict):
        raise Hint(f"you returned {describe(out)}: return three numbers, return mean, low, high.")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        if out is None:
            raise Hint("your function returned None: did you forget the return statement? Return "
                       "(mean, low, high).")
        raise Hint(f"return three numbers: (mean, low, high) of the difference arm - se, in points; "
                   f"not {describe(out)}.")
    names = ("mean", "low", "high")
    mean, low, high = (float(as_number(v, f"your {k}")) for k, v in zip(names, out, strict=True))
    return mean, low, high


@checker("A 95 % interval for a paired difference")
def check_paired_interval(fn: Callable[[Sequence[float], Sequence[float]], tuple[float, float, float]]) -> str:
    """``fn(arm_accs, se_accs)`` (accuracies as fractions, one per seed, same seed order) must
    return ``(mean, low, high)`` in points: the mean of ``100 * (arm - se)`` and its two-sided
    95 % interval ``mean ± t * s / sqrt(n)``, ``t`` from Student's distribution with ``n - 1``
    degrees of freedom (a two-decimal table or ``scipy.stats.t.ppf(0.975, n - 1)``: both pass).
    Hidden runs: 2 to 5 seeds."""
    for arm, se in _INTERVAL_CASES:
        mean, low, high = _triple(call(fn, list(arm), list(se)))
        n = len(arm)
        d = [100 * (a - s) for a, s in zip(arm, se, strict=True)]
        m, sd = statistics.fmean(d), statistics.stdev(d)
        t = _t95(n - 1)
        half = t * sd / math.sqrt(n)
        where = f"for arm={arm}, se={se}"

        def same(a: float, b: float, rel: float = 1e-6) -> bool:
            return same_number(a, b, rel=rel, abs_=1e-6)

        got_half = (high - low) / 2
        centred = same(low + high, 2 * mean)
        if same(mean, m) and centred and same(got_half, half, rel=3e-3):
            continue
        if same(mean, -m) and abs(m) > 1e-9:
            raise Hint("your mean has the wrong sign: take arm - se (negative when the arm is worse).")
        if same(mean, m / 100):
            raise Hint("your numbers are fractions: multiply the differences by 100 to get points.")
        if same(low, m) and (same(mean, m - half, 3e-3) or same(mean, m + half, 3e-3)):
            raise Hint("return the three numbers in the order (mean, low, high).")
        if not same(mean, m):
            raise Hint(f"{where} the mean difference is {m:+.3f} points; you gave {mean:+.3f}.")
        if high < low:
            raise Hint("return (mean, low, high) with low below high.")
        if not centred:
            raise Hint("the interval should be centred on the mean: mean - half and mean + half.")

        def like(h: float, got_half: float = got_half) -> bool:
            return same(got_half, h, rel=3e-3)

        if like(t * sd):
            raise Hint("your interval uses the standard deviation of the differences; the mean "
                       "moves less than one difference: divide by sqrt(n) (the standard error).")
        if like(1.96 * sd / math.sqrt(n)):
            raise Hint(f"you used 1.96, the normal distribution's value: with n = {n} seeds the "
                       f"mean over s / sqrt(n) follows Student's t with {n - 1} degrees of freedom "
                       f"(t = {t:.2f}).")
        if like(t * statistics.pstdev(d) / math.sqrt(n)):
            raise Hint("you divided by n in the standard deviation: use the sample standard "
                       "deviation (n - 1), as statistics.stdev does.")
        if like(_t95(n) * sd / math.sqrt(n)):
            raise Hint(f"you used t for {n} degrees of freedom: n seeds leave n - 1 = {n - 1}.")
        if n > 2 and like(_t95(n - 2) * sd / math.sqrt(n)):
            raise Hint(f"you used t for {n - 2} degrees of freedom: n seeds leave n - 1 = {n - 1}, "
                       "so t_critical(n - 1).")
        if like(t * sd / n):
            raise Hint("you divided by n: the standard error is s / sqrt(n).")
        if like(2 * half):
            raise Hint("your interval is twice as wide: mean ± t s / sqrt(n), so high - low = 2 t s / sqrt(n).")
        raise Hint(f"{where} the interval is {m - half:+.3f} to {m + half:+.3f} points; you gave "
                   f"{low:+.3f} to {high:+.3f}.")
    return f"right on {len(_INTERVAL_CASES)} hidden sets of seeds (2, 3, 4 and 5 seeds)."


# --- which arm of a study is worst --------------------------------------------------------------

def _fake_sweep(accs: dict[str, list[float]], curves: dict[str, list[float]] | None = None) -> dict:
    """A results dict shaped like a sweep's: per arm and seed the final accuracy, and a test
    accuracy curve over epochs in ``history`` (``curves[arm]`` then the final value; default
    half, then final)."""
    arms = {}
    for name, values in accs.items():
        head = (curves or {}).get(name, None)
        runs = [{"seed": s, "final_test_acc": v, "history": {"test_acc": [*(head or [v / 2]), v]}}
                for s, v in enumerate(values)]
        arms[name] = {"runs": runs, "final_test_acc": {"values": list(values),
                                                       "mean": statistics.fmean(values),
                                                       "std": statistics.stdev(values)}}
    return {"studies": {"gates": {"paper_table": 12, "arms": [a for a in accs if a != "plain"]}},
            "arms": arms}


def _worst_cases() -> list[tuple[dict, str]]:
    # "c" is the worst arm. plain is lower but not an arm of the study; seed 0 alone would
    # pick "b"; averaging over epochs would pick "e" (it learns late); the best is "d".
    a = _fake_sweep({"plain": [0.40, 0.42, 0.41], "se": [0.70, 0.71, 0.69], "b": [0.55, 0.74, 0.75],
                     "c": [0.66, 0.65, 0.64], "d": [0.76, 0.77, 0.75], "e": [0.72, 0.73, 0.74]},
                    curves={"b": [0.6, 0.7], "c": [0.6, 0.7], "e": [0.05, 0.1]})
    b = _fake_sweep({"plain": [0.60, 0.61, 0.59, 0.62], "se": [0.64, 0.66, 0.63, 0.65],
                     "x": [0.66, 0.65, 0.66, 0.64], "y": [0.61, 0.63, 0.62, 0.60]})
    # the default "se" is the worst arm here (an answer that leaves it out picks "q")
    c = _fake_sweep({"plain": [0.50, 0.52], "se": [0.60, 0.61], "q": [0.63, 0.64], "w": [0.70, 0.69]})
    return [(a, "c"), (b, "y"), (c, "se")]


@checker("The worst arm of a study")
def check_worst_arm(fn: Callable[[dict, str], str]) -> str:
    """``fn(results, study)`` must return the name of the arm of ``results["studies"][study]["arms"]``
    (the default ``"se"`` among them, ``"plain"`` not) with the lowest mean final test accuracy
    over seeds (``results["arms"][arm]["final_test_acc"]["mean"]``). Hidden results: the plain
    network lowest, a seed or an epoch average that would mislead, the default the worst."""
    for results, want in _worst_cases():
        got = call(fn, results, "gates")
        arms = results["arms"]
        study_arms = results["studies"]["gates"]["arms"]
        means = {a: arms[a]["final_test_acc"]["mean"] for a in study_arms}
        if isinstance(got, (tuple, list)) and got and isinstance(got[0], str):
            raise Hint(f"you returned {describe(got)}: return only the arm's name (a str such as {want!r}).")
        if isinstance(got, (int, float, np.number)) and not isinstance(got, bool) and any(
                same_number(float(got), v) for v in means.values()):
            raise Hint("you returned the worst accuracy: return the name of the arm that has it "
                       "(min with key=..., not min of the values).")
        if not isinstance(got, str):
            raise Hint(f"return the arm's name (a str such as {want!r}), not {describe(got)}"
                       + (": did you forget the return statement?" if got is None else "."))
        if got == want:
            continue
        if got == "plain":
            raise Hint("plain is the network without SE, the reference every study shares, not an "
                       "arm of the study: take the arms from results['studies'][study]['arms'].")
        if got not in study_arms:
            raise Hint(f"{got!r} is not an arm of the study; its arms are {study_arms}.")
        if want == "se":
            raise Hint("the default 'se' is an arm of the study too, and in this hidden results file it "
                       "is the worst: do not leave it out.")
        if got == max(means, key=means.__getitem__):
            raise Hint("that is the best arm: the worst has the lowest mean accuracy (min, not max).")
        first = {a: arms[a]["runs"][0]["final_test_acc"] for a in study_arms}
        if got == min(first, key=first.__getitem__):
            raise Hint("you looked at one seed: compare the mean over all seeds, "
                       "results['arms'][arm]['final_test_acc']['mean'].")
        curve = {a: statistics.fmean(statistics.fmean(r["history"]["test_acc"]) for r in arms[a]["runs"])
                 for a in study_arms}
        if got == min(curve, key=curve.__getitem__):
            raise Hint("you averaged the accuracy over epochs: judge each run by its final test "
                       "accuracy (after the last epoch).")
        raise Hint(f"in a hidden results file the worst arm is {want!r} (mean accuracies "
                   f"{ {a: round(m, 4) for a, m in means.items()} }); you returned {got!r}.")
    return "right on 3 hidden results files (plain excluded, the default included, means over seeds, final accuracies)."


# --- the FLOPs of SE without its squeeze --------------------------------------------------------

_FLOP_CASES = [(16, 32, 32, 16), (64, 8, 8, 16), (32, 16, 16, 4), (8, 10, 6, 16), (24, 5, 7, 16)]


@checker("FLOPs of SE without the squeeze")
def check_no_squeeze_flops(fn: Callable[[int, int, int, int], int]) -> str:
    """``fn(channels, height, width, reduction)`` must return the FLOPs (2 per multiply-add,
    biases not counted, as :func:`senet_lib.cost.count_flops` counts) of
    :class:`senet_lib.block.NoSqueezeSE`'s two 1x1 convolutions on one ``(1, C, H, W)`` map:
    ``2 * 2 * C * h * H * W`` with ``h = max(1, C // r)``. Hidden maps include ``C < r``, a
    width ``r`` does not divide, and H != W."""
    for c, hgt, wid, r in _FLOP_CASES:
        got = as_number(call(fn, c, hgt, wid, r), "your FLOP count")
        h = hidden_width(c, r)
        want = 4 * c * h * hgt * wid
        if got == want:
            continue
        case = f"for C={c}, H={hgt}, W={wid}, r={r}"
        if h != c / r and any(same_number(got, 4 * c * v * hgt * wid) for v in (c / r, max(1.0, c / r))):
            raise Hint(f"{case}: use the whole number of hidden channels, h = max(1, C // r) = {h}, not C / r.")
        got = as_count(got, "your FLOP count")
        if h != c // r and got == 4 * c * (c // r) * hgt * wid:
            raise Hint(f"{case}: C // r is 0; the block keeps h = max(1, C // r) hidden channels.")
        if c % r and got == 4 * c * max(1, -(-c // r)) * hgt * wid:
            raise Hint(f"{case}: you rounded C / r up; the hidden width rounds down, max(1, C // r).")
        if got == want // 2:
            raise Hint("you have half the count: either you counted multiply-adds (a FLOP counter "
                       "counts 2 per multiply-add, one multiplication and one addition), or only one "
                       "of the two 1x1 convolutions (C -> h, then h -> C).")
        if got == 4 * c * h:
            raise Hint("that is SEBlock's count, whose FC layers see one pooled vector: without the "
                       "squeeze the 1x1 convolutions run at every one of the H x W positions.")
        if got in (want + 2 * (h + c) * hgt * wid, want + (h + c) * hgt * wid, want + 2 * c * hgt * wid,
                   want + c * hgt * wid):
            raise Hint(f"{case}: leave the biases out, as count_flops does: only the multiply-adds count.")
        if got == 4 * c * h * hgt or got == 4 * c * h * wid or got == 4 * c * h * (hgt + wid):
            raise Hint(f"{case}: the convolutions run at every one of the H x W = {hgt * wid} positions.")
        raise Hint(f"{case} the two convolutions take {want:,} FLOPs; you gave {got:,}.")
    return f"right on {len(_FLOP_CASES)} hidden maps, including one with C < r."
