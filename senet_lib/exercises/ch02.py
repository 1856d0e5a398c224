"""Checkers for chapter 2, the squeeze: global pooling and receptive fields."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..spatial import receptive_field
from ._core import Hint, as_count, call, checker, close, describe, expect_close, expect_shape

__all__ = ["check_squeeze", "check_std_pool", "check_receptive_field"]


def _cases(seed: int) -> list[torch.Tensor]:
    """Hidden feature maps. The first is (2, 4, 4, 4): with C == H == W, pooling over the
    wrong axes still gives an (N, C) result, so it can be recognised by its values. One map
    has a single row (H = 1) and one a single image (N = 1)."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(2, 4, 4, 4), (1, 8, 7, 7), (3, 16, 5, 9), (2, 5, 1, 6)]
    return [torch.rand(*s, generator=g) * 2 + torch.rand(1, s[1], 1, 1, generator=g) for s in shapes]


def _wrong_axes(out: Any, x: torch.Tensor, op: Callable[..., torch.Tensor]) -> bool:
    return any(close(out, op(x, dims)) for dims in [(1, 2), (1, 3), (0, 2), (0, 3), (0, 1)])


def _pooled_keepdim(out: Any, n: int, c: int) -> bool:
    return isinstance(out, torch.Tensor) and tuple(out.shape) == (n, c, 1, 1)


@checker("Squeeze by hand")
def check_squeeze(fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """``fn(x)`` must return the mean of each channel of ``x (N, C, H, W)``, shape ``(N, C)``."""
    cases = _cases(2)
    for x in cases:
        n, c, h, w = x.shape
        out = call(fn, x)
        if _pooled_keepdim(out, n, c):
            raise Hint("your output has shape (N, C, 1, 1): the squeeze returns an (N, C) "
                       "descriptor; flatten it or average without keepdim=True.")
        if isinstance(out, torch.Tensor) and out.dim() == 3 and tuple(out.shape[:2]) == (n, c) and (
                close(out, x.mean(dim=2)) or close(out, x.mean(dim=3))):
            raise Hint("you averaged over one spatial axis only: pool over both H and W, dims (2, 3).")
        if isinstance(out, torch.Tensor) and out.dim() == 0:
            raise Hint("you returned one number, the mean of the whole tensor: average over H and W "
                       "only (dims 2 and 3), one value per image and channel.")
        out = expect_shape(out, (n, c), "your descriptor",
                           "Average over the spatial axes H and W (dims 2 and 3), keeping N and C.")
        if close(out, x.mean(dim=(2, 3))):
            continue
        if close(out, x.amax(dim=(2, 3))):
            raise Hint("you took the maximum of each channel: the SE squeeze is the average "
                       "over H and W (max pooling is an ablation, not the SE squeeze).")
        if close(out, x.sum(dim=(2, 3))):
            raise Hint(f"you summed each channel: divide by the number of positions H*W "
                       f"(here {h}*{w} = {h * w}) to get the mean.")
        if close(out, x.sum(dim=(2, 3)) / (h + w)) or close(out, x.sum(dim=(2, 3)) / h) or close(
                out, x.sum(dim=(2, 3)) / w):
            raise Hint(f"you divided the sum by the wrong count: a channel has H*W = {h}*{w} = "
                       f"{h * w} positions.")
        if close(out, x.mean(dim=2).amax(dim=2)) or close(out, x.amax(dim=2).mean(dim=2)) or close(
                out, x.mean(dim=3).amax(dim=2)):
            raise Hint("you mixed a mean and a maximum over the two spatial axes: average over both.")
        if _wrong_axes(out, x, lambda t, d: t.mean(dim=d)):
            raise Hint("you averaged over the wrong axes: in (N, C, H, W) the channels are "
                       "axis 1 and the spatial positions axes 2 and 3; pool over dims (2, 3).")
        if close(out, x.mean(dim=(2, 3)).mean(dim=0, keepdim=True).expand(n, c)):
            raise Hint("you also averaged over the batch: each image needs its own descriptor.")
        expect_close(out, x.mean(dim=(2, 3)), "your descriptor",
                     hint="Each entry z[n, c] should be the mean of x[n, c] over all H*W positions.")
    return f"matches the mean over (H, W) on {len(cases)} hidden feature maps."


@checker("Standard-deviation pooling")
def check_std_pool(fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """``fn(x)`` must return the population standard deviation of each channel over
    its ``H * W`` positions, shape ``(N, C)``."""
    cases = _cases(3)
    for x in cases:
        n, c, h, w = x.shape
        out = call(fn, x)
        if _pooled_keepdim(out, n, c):
            raise Hint("your output has shape (N, C, 1, 1): return the (N, C) descriptor "
                       "(no keepdim=True, or flatten it).")
        out = expect_shape(out, (n, c), "your descriptor",
                           "Pool over the spatial axes H and W (dims 2 and 3), keeping N and C.")
        ref = x.std(dim=(2, 3), correction=0)
        if close(out, ref):
            continue
        if close(out, ref ** 2):
            raise Hint("you returned the variance: take its square root to get the standard deviation.")
        if close(out, x.std(dim=(2, 3), correction=1)):
            raise Hint(f"you used the sample standard deviation (dividing by H*W - 1 = {h * w - 1}): "
                       "this descriptor divides by H*W, i.e. correction=0 (unbiased=False).")
        if close(out, x.mean(dim=(2, 3))):
            raise Hint("you returned the mean of each channel: the task asks how much each "
                       "channel varies around its mean, i.e. its standard deviation.")
        if close(out, (x ** 2).mean(dim=(2, 3)).sqrt()):
            raise Hint("you forgot to subtract the mean: sqrt(mean(x^2)) is the root mean square, "
                       "not the spread around the mean. Subtract each channel's mean first.")
        if h > 1 and w > 1 and any(close(out, v) for v in (
                x.std(dim=2, correction=0).mean(dim=2), x.std(dim=3, correction=0).mean(dim=2),
                x.std(dim=2, correction=1).mean(dim=2), x.std(dim=3, correction=1).mean(dim=2))):
            raise Hint("you took the standard deviation along one spatial axis, then averaged: "
                       "take it over all H*W positions at once, dims (2, 3).")
        if _wrong_axes(out, x, lambda t, d: t.std(dim=d, correction=0)) or _wrong_axes(
                out, x, lambda t, d: t.std(dim=d, correction=1)):
            raise Hint("you pooled over the wrong axes: the spatial positions are dims 2 and 3 "
                       "of (N, C, H, W).")
        expect_close(out, ref, "your descriptor",
                     hint="sqrt(mean over (H, W) of (x - mean)^2), for each image and channel.")
    return f"matches the standard deviation over (H, W) on {len(cases)} hidden feature maps."


@checker("Receptive field of a stack")
def check_receptive_field(fn: Callable[[Sequence[tuple[int, int]]], int]) -> str:
    """``fn(layers)`` must return the receptive field (one side, in input pixels) of the
    last layer of a stack given as ``(kernel_size, stride)`` pairs."""
    stacks = [
        [(3, 1)] * 5,
        [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2), (3, 1)],
        [(7, 2), (3, 2), (3, 1), (3, 1)],
        [(5, 1)],
        [(3, 2), (3, 2), (3, 2), (3, 2)],
        [(1, 2), (3, 1)],
    ]
    for layers in stacks:
        expected = receptive_field(layers)[-1]
        got = call(fn, list(layers))
        if isinstance(got, (list, tuple)) or (isinstance(got, torch.Tensor) and got.numel() > 1):
            raise Hint(f"you returned {describe(got)}: return one int, the receptive field after "
                       "the last layer.")
        got = as_count(got, "your receptive field")
        if got == expected:
            continue
        no_strides = 1 + sum(k - 1 for k, _ in layers)
        if got == no_strides:
            raise Hint(f"for {layers} you said {got}: you ignored the strides. After a layer with "
                       "stride s, one step in its output is s input pixels apart, so every later "
                       "layer's (k - 1) counts s times more.")
        if got == sum(k for k, _ in layers):
            raise Hint(f"for {layers} you said {got}, the sum of the kernel sizes: neighbouring "
                       "windows overlap, so each layer adds k - 1 pixels (times the stride so far), not k.")
        if got == math.prod(k for k, _ in layers):
            raise Hint(f"for {layers} you said {got}, the product of the kernel sizes: each layer "
                       "adds (k - 1) times the stride so far; it does not multiply the field.")
        rf, jump = 1, 1
        for k, s in layers:  # the stride of the current layer applied too early
            jump *= s
            rf += (k - 1) * jump
        if got == rf:
            raise Hint(f"for {layers} you said {got}: you multiplied a layer's (k - 1) by its own "
                       "stride; a layer's stride only affects the layers after it.")
        if got == expected - 1:
            raise Hint(f"for {layers} you said {got}, one less: start from 1 (before any layer, an "
                       "output value sees exactly one pixel), then add each layer's share.")
        if got == receptive_field([(s, k) for k, s in layers])[-1]:
            raise Hint(f"for {layers} you said {got}: you read each pair as (stride, kernel_size); "
                       "it is (kernel_size, stride).")
        raise Hint(f"for {layers} you said {got!r}, but the receptive field is {expected}.")
    return f"right for {len(stacks)} hidden stacks, with and without strides."
