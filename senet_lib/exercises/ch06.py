"""Checkers for chapter 6, training ResNet vs SE-ResNet."""

from __future__ import annotations

import math
import statistics
from typing import Callable, Sequence

import torch

from ..train import lr_at
from ._core import Hint, call, checker, expect_close, expect_shape

__all__ = ["check_colour_cast", "check_lr_schedule", "check_paired_difference"]


@checker("Colour casts, one per image")
def check_colour_cast(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """``fn(images (N, 3, H, W) in [0, 1], gains (N, 3))`` must multiply channel ``c`` of
    image ``n`` by ``gains[n, c]`` and clip the result to ``[0, 1]``."""
    g = torch.Generator().manual_seed(6)
    for n, h, w in [(4, 5, 7), (3, 8, 8), (2, 3, 4)]:
        x = torch.rand(n, 3, h, w, generator=g)
        gains = torch.exp(torch.rand(n, 3, generator=g) * 1.6 - 0.8)
        out = expect_shape(call(fn, x, gains), x.shape, "your output",
                           "A colour cast changes pixel values, not the shape.")
        expected = (x * gains[:, :, None, None]).clamp(0, 1)
        if torch.allclose(out, x * gains[:, :, None, None], atol=1e-5) and not torch.allclose(
                out, expected, atol=1e-5):
            raise Hint("some values are above 1: clip the result to [0, 1] (torch.clamp), "
                       "as a camera's sensor saturates.")
        if torch.allclose(out, (x * gains[0][None, :, None, None]).clamp(0, 1), atol=1e-5):
            raise Hint("every image got the gains of image 0: each image n has its own gains[n].")
        if n == 3 and torch.allclose(out, (x * gains[:, :, None, None].transpose(0, 1)).clamp(0, 1),
                                     atol=1e-5):
            raise Hint("you indexed gains as [channel, image]: gains[n, c] is image n, channel c.")
        if torch.allclose(out, (x * gains.mean(1)[:, None, None, None]).clamp(0, 1), atol=1e-5):
            raise Hint("you scaled every channel by the same factor: a colour cast has one gain per "
                       "channel (red, green, blue).")
        expect_close(out, expected, "your output", atol=1e-5,
                     hint="Expected images[n, c] * gains[n, c], clipped to [0, 1].")
    return "right on 3 hidden batches, including clipping."


@checker("Warm-up and cosine learning-rate schedule")
def check_lr_schedule(fn: Callable[[int, int, float, int], float]) -> str:
    """``fn(step, total_steps, base_lr, warmup_steps)`` must give the rate of :func:`senet_lib.train.lr_at`:
    ``base_lr * (step + 1) / warmup_steps`` during warm-up, then a cosine from ``base_lr`` to 0."""
    cases = [(100, 0.1, 10), (40, 0.5, 1), (7, 1.0, 3)]
    for total, base, warm in cases:
        got = []
        for step in range(total):
            v = call(fn, step, total, base, warm)
            if isinstance(v, torch.Tensor):
                v = v.item()
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise Hint(f"your function returned a {type(v).__name__}; return a float learning rate.")
            got.append(float(v))
        want = [lr_at(s, total, base, warm) for s in range(total)]
        if all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in zip(got, want)):
            continue
        if got[0] == 0.0 and warm > 1:
            raise Hint("your first step has learning rate 0, a wasted step: warm up with (step + 1) / warmup_steps.")
        if got[warm] > base * (1 + 1e-6) or any(v > base * (1 + 1e-6) for v in got):
            raise Hint(f"the rate goes above base_lr={base}: the cosine should start at base_lr and fall.")
        if got[-1] > 0.5 * base:
            raise Hint("the rate does not decay towards 0 by the last step: after warm-up use "
                       "0.5 * base_lr * (1 + cos(pi * t)), t going from 0 to 1.")
        if all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got[warm:], want[warm:])):
            raise Hint("the cosine part is right; check the warm-up: base_lr * (step + 1) / warmup_steps.")
        if all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got[:warm], want[:warm])):
            raise Hint("the warm-up is right; check the cosine: t = (step - warmup_steps) / "
                       "(total_steps - warmup_steps).")
        bad = next(i for i, (a, b) in enumerate(zip(got, want)) if not math.isclose(a, b, rel_tol=1e-6))
        raise Hint(f"for total_steps={total}, base_lr={base}, warmup_steps={warm}: at step {bad} "
                   f"you gave {got[bad]:.6g}, expected {want[bad]:.6g}.")
    return "matches the schedule at every step of 3 hidden runs."


@checker("Paired difference over seeds")
def check_paired_difference(fn: Callable[[Sequence[float], Sequence[float]], tuple[float, float]]) -> str:
    """``fn(plain_accs, se_accs)`` (one accuracy per seed, same seed order) must return the mean
    and the sample standard deviation (``n - 1``) of the per-seed differences ``se - plain``."""
    cases = [([0.71, 0.74, 0.69], [0.73, 0.73, 0.72]),
             ([0.5, 0.6, 0.55, 0.52], [0.58, 0.61, 0.57, 0.5]),
             ([0.9, 0.8], [0.85, 0.86])]
    for plain, se in cases:
        out = call(fn, list(plain), list(se))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Hint("return a pair (mean, std) of the differences se - plain.")
        mean, std = (float(v.item() if isinstance(v, torch.Tensor) else v) for v in out)
        d = [s - p for p, s in zip(plain, se)]
        m, sd = statistics.fmean(d), statistics.stdev(d)
        if math.isclose(mean, -m, abs_tol=1e-9) and abs(m) > 1e-9:
            raise Hint("your mean has the wrong sign: take se - plain (positive when SE is better).")
        if not math.isclose(mean, m, abs_tol=1e-9):
            raise Hint(f"for plain={plain}, se={se} the mean difference is {m:.4f}, you gave {mean:.4f}.")
        if math.isclose(std, statistics.pstdev(d), abs_tol=1e-9):
            raise Hint("you divided by n: with a handful of seeds use the sample standard deviation "
                       "(divide by n - 1; statistics.stdev or torch.std with its default).")
        unpaired = math.sqrt(statistics.variance(plain) + statistics.variance(se))
        if math.isclose(std, unpaired, abs_tol=1e-9):
            raise Hint("you combined the two models' spreads as if the runs were independent; pair "
                       "them by seed: take the standard deviation of the per-seed differences.")
        if not math.isclose(std, sd, abs_tol=1e-9):
            raise Hint(f"for plain={plain}, se={se} the standard deviation of the differences is "
                       f"{sd:.4f}, you gave {std:.4f}.")
    return "right on 3 hidden sets of runs."
