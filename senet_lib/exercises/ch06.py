"""Checkers for chapter 6, training ResNet vs SE-ResNet."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..train import lr_at
from ._core import (
    Hint,
    _LearnerRaised,
    as_number,
    call,
    checker,
    close,
    describe,
    expect_close,
    expect_dtype,
    expect_shape,
    same_number,
)

__all__ = ["check_colour_cast", "check_lr_schedule", "check_paired_difference"]


@checker("Colour casts, one per image")
def check_colour_cast(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """``fn(images (N, 3, H, W) in [0, 1], gains (N, 3))`` must multiply channel ``c`` of
    image ``n`` by ``gains[n, c]`` and clip the result to ``[0, 1]``; shape and dtype of
    ``images``. Hidden batches: gains above and below 1 (clipping matters), three images (so
    gains indexed [channel, image] fit), width 3 (so gains broadcast against W fit) and
    height 2 = N with width 3 (so unreshaped gains fit)."""
    g = torch.Generator().manual_seed(6)
    # The first three batches are those where a wrong broadcast runs silently; a function that
    # fails on one of them may still reveal its mistake on another, so failures wait until then.
    batches = [(2, 6, 3), (2, 2, 3), (3, 8, 8), (4, 5, 7)]
    failed = ""
    for i, (n, h, w) in enumerate(batches):
        if i == 3 and failed:
            raise Hint(failed)
        x = torch.rand(n, 3, h, w, generator=g)
        gains = torch.exp(torch.rand(n, 3, generator=g) * 1.6 - 0.8)
        try:
            out = call(fn, x, gains)
        except _LearnerRaised as e:
            if "must match the size of tensor" in str(e.exc):
                failed = (f"for images {tuple(x.shape)} and gains {tuple(gains.shape)} your function failed "
                          f"({e.exc}): gains (N, 3) must become (N, 3, 1, 1), gains[:, :, None, None], to "
                          "broadcast over H and W.")
                if i < 3:
                    continue
                raise Hint(failed) from None
            raise
        if w == 3 and close(out, (x * gains[:, None, None, :]).clamp(0, 1)):
            raise Hint(f"for images {tuple(x.shape)} (width 3) the gains multiplied the columns: they "
                       "were broadcast against W instead of the channels. Use gains[:, :, None, None].")
        if h == n and w == 3 and close(out, (x * gains).clamp(0, 1)):
            raise Hint(f"for images {tuple(x.shape)} images * gains ran but paired gains (N, 3) with "
                       "(H, W): reshape them to (N, 3, 1, 1), gains[:, :, None, None].")
        out = expect_shape(out, x.shape, "your output", "A colour cast changes pixel values, not the shape.")
        expected = (x * gains[:, :, None, None]).clamp(0, 1)
        if close(out, expected):
            expect_dtype(out, x.dtype, "your output", "images")
            continue
        if close(out, x * gains[:, :, None, None]):
            raise Hint("some values are above 1: clip the result to [0, 1] (torch.clamp), "
                       "as a camera's sensor saturates. (Clipping the images before multiplying, or "
                       "to [0, 255], the range of 8-bit images, leaves the product above 1.)")
        if close(out, (x * gains[0][None, :, None, None]).clamp(0, 1)):
            raise Hint("every image got the gains of image 0: each image n has its own gains[n].")
        if n == 3 and close(out, (x * gains[:, :, None, None].transpose(0, 1)).clamp(0, 1)):
            raise Hint("you indexed gains as [channel, image]: gains[n, c] is image n, channel c.")
        if close(out, (x * gains.mean(1)[:, None, None, None]).clamp(0, 1)):
            raise Hint("you scaled every channel by the same factor: a colour cast has one gain per "
                       "channel (red, green, blue).")
        if close(out, (x + gains[:, :, None, None]).clamp(0, 1)) or close(out, (x + gains[:, :, None, None] - 1)
                                                                           .clamp(0, 1)):
            raise Hint("you added the gains: a colour cast multiplies each channel by its gain.")
        expect_close(out, expected, "your output", hint="Expected images[n, c] * gains[n, c], clipped to [0, 1].")
    return "right on 4 hidden batches, including clipping and shapes where a missing broadcast hides."


def _rate(v: Any, step: int) -> float:
    if isinstance(v, (list, tuple)) or (isinstance(v, (torch.Tensor, np.ndarray)) and
                                        (v.numel() if isinstance(v, torch.Tensor) else v.size) > 1):
        raise Hint(f"at step {step} your function returned {describe(v)}: return the rate at that one "
                   "step, a float.")
    return float(as_number(v, f"your learning rate at step {step}"))


@checker("Warm-up and cosine learning-rate schedule")
def check_lr_schedule(fn: Callable[[int, int, float, int], float]) -> str:
    """``fn(step, total_steps, base_lr, warmup_steps)`` must give the rate of :func:`senet_lib.train.lr_at`:
    ``base_lr * (step + 1) / warmup_steps`` during warm-up, then a cosine from ``base_lr`` to 0.
    Hidden runs: a long warm-up, a one-step warm-up, a short run, and no warm-up at all."""
    cases = [(100, 0.1, 10), (40, 0.5, 1), (7, 1.0, 3), (12, 0.2, 0)]
    for total, base, warm in cases:
        got = []
        for step in range(total):
            try:
                v = call(fn, step, total, base, warm)
            except _LearnerRaised as e:
                if warm == 0 and isinstance(e.exc, ZeroDivisionError):
                    raise Hint(f"with warmup_steps = 0 your function divided by zero at step {step}: there "
                               "is no warm-up then, and the cosine starts at step 0 (step < 0 is never true).") from None
                raise
            got.append(_rate(v, step))
        want = [lr_at(s, total, base, warm) for s in range(total)]

        def same(a: float, b: float, base: float = base) -> bool:
            return same_number(a, b, rel=1e-5, abs_=1e-7 * base)

        if all(same(a, b) for a, b in zip(got, want, strict=True)):
            continue
        where = f"for total_steps={total}, base_lr={base}, warmup_steps={warm}"
        if warm > 1 and same(got[0], 0.0):
            raise Hint(f"{where} your first step has learning rate 0, a wasted step: warm up with "
                       "(step + 1) / warmup_steps.")
        if any(v > base * (1 + 1e-5) for v in got):
            raise Hint(f"{where} the rate goes above base_lr={base}: the cosine should start at base_lr "
                       "and fall (is the warm-up test step < warmup_steps, not <=?).")
        if got[-1] > 0.5 * base:
            raise Hint(f"{where} the rate does not decay towards 0 by the last step: after warm-up use "
                       "0.5 * base_lr * (1 + cos(pi * t)), t going from 0 to 1.")
        cosine_from_0 = [0.5 * base * (1 + math.cos(math.pi * s / total)) for s in range(total)]
        if warm and all(same(a, b) for a, b in zip(got[warm:], cosine_from_0[warm:], strict=True)):
            raise Hint(f"{where} your cosine counts t from step 0 over all total_steps: it starts after "
                       "the warm-up, t = (step - warmup_steps) / (total_steps - warmup_steps).")
        if all(same(a, b) for a, b in zip(got[warm:], want[warm:], strict=True)):
            raise Hint(f"{where} the cosine part is right; check the warm-up: base_lr * (step + 1) / warmup_steps.")
        if all(same(a, b) for a, b in zip(got[:warm], want[:warm], strict=True)):
            raise Hint(f"{where} the warm-up is right; check the cosine: t = (step - warmup_steps) / "
                       "(total_steps - warmup_steps), rate 0.5 * base_lr * (1 + cos(pi * t)).")
        bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not same(a, b))
        raise Hint(f"{where}: at step {bad} you gave {got[bad]:.6g}, expected {want[bad]:.6g}.")
    return f"matches the schedule at every step of {len(cases)} hidden runs, including one without warm-up."


def _pair(out: Any) -> tuple[float, float]:
    """The learner's (mean, std) as floats, or a hint."""
    if out is None:
        raise Hint("your function returned None: did you forget the return statement? Return the "
                   "pair (mean, std).")
    if isinstance(out, dict):
        raise Hint(f"you returned {describe(out)}: return a pair, return mean, std.")
    if isinstance(out, (torch.Tensor, np.ndarray)) and (out.numel() if isinstance(out, torch.Tensor)
                                                        else out.size) == 2:
        out = out.flatten().tolist()
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Hint(f"return a pair (mean, std) of the differences se - plain, not {describe(out)}.")
    return (float(as_number(out[0], "your mean")), float(as_number(out[1], "your standard deviation")))


@checker("Paired difference over seeds")
def check_paired_difference(fn: Callable[[Sequence[float], Sequence[float]], tuple[float, float]]) -> str:
    """``fn(plain_accs, se_accs)`` (one accuracy per seed, same seed order) must return the mean
    and the sample standard deviation (``n - 1``) of the per-seed differences ``se - plain``
    (a tuple, a list or a two-element array; NumPy or tensor numbers are fine). Hidden runs:
    3, 4 and 2 seeds."""
    cases = [([0.71, 0.74, 0.69], [0.73, 0.73, 0.72]),
             ([0.5, 0.6, 0.55, 0.52], [0.58, 0.61, 0.57, 0.5]),
             ([0.9, 0.8], [0.85, 0.86])]
    for plain, se in cases:
        mean, std = _pair(call(fn, list(plain), list(se)))
        d = [s - p for p, s in zip(plain, se, strict=True)]
        m, sd = statistics.fmean(d), statistics.stdev(d)
        where = f"for plain={plain}, se={se}"

        def same(a: float, b: float) -> bool:
            return same_number(a, b, rel=1e-5, abs_=1e-7)

        if same(mean, m) and same(std, sd):
            continue
        if same(mean, sd) and same(std, m) and not same(m, sd):
            raise Hint("you returned (std, mean): the exercise asks for (mean, std), the mean first.")
        if same(mean, -m) and abs(m) > 1e-9:
            raise Hint("your mean has the wrong sign: take se - plain (positive when SE is better).")
        if same(mean, 100 * m) and abs(m) > 1e-9:
            raise Hint("you returned points (times 100): the accuracies are fractions, and so are the "
                       "differences.")
        if not same(mean, m):
            raise Hint(f"{where} the mean difference is {m:.4f}, you gave {mean:.4f}.")
        if same(std, statistics.pstdev(d)):
            raise Hint("you divided by n: with a handful of seeds use the sample standard deviation "
                       "(divide by n - 1; statistics.stdev, torch.std with its default, np.std(..., ddof=1)).")
        if same(std, sd / math.sqrt(len(d))):
            raise Hint("you returned the standard error of the mean (s / sqrt(n)): the exercise asks "
                       "for the standard deviation of the differences, s.")
        if same(std, sd ** 2):
            raise Hint("you returned the variance of the differences: take its square root.")
        unpaired = math.sqrt(statistics.variance(plain) + statistics.variance(se))
        if same(std, unpaired):
            raise Hint("you combined the two models' spreads as if the runs were independent; pair "
                       "them by seed: take the standard deviation of the per-seed differences.")
        raise Hint(f"{where} the standard deviation of the differences is {sd:.4f}, you gave {std:.4f}.")
    return "right on 3 hidden sets of runs (2 to 4 seeds)."
