"""Checkers for chapter 10, beyond SE: ECA's kernel size, CBAM's channel pooling, the
parameter-free gather-excite, and what each block costs in parameters."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..registry import attention_options, make_attention
from ..successors import eca_kernel_size
from ._core import (
    Hint,
    _LearnerRaised,
    as_count,
    call,
    checker,
    close,
    expect_close,
    expect_dtype,
    expect_shape,
    expect_tensor,
)

__all__ = ["check_eca_kernel_size", "check_channel_pool", "check_gather_excite", "check_block_params"]


def _whole_number(v: Any, what: str) -> int:
    """``v`` as an int (a whole float, a NumPy integer or a one-element tensor is fine), or a hint."""
    return as_count(v, what)


# --- ECA's kernel size ---------------------------------------------------------------------------

#: (channels, gamma, b): the paper's defaults over the widths of real networks, and other gamma, b.
_ECA_CASES = [(16, 2, 1), (64, 2, 1), (128, 2, 1), (512, 2, 1), (2048, 2, 1), (4, 2, 1), (2, 2, 1),
              (256, 3, 2), (100, 1.5, 1), (1024, 2, 4)]


def _odd_up(t: int) -> int:
    return t if t % 2 else t + 1


#: Plausible wrong rules, each with its hint: (rule(C, gamma, b) -> k, hint).
_ECA_WRONG: list[tuple[Callable[[int, float, float], int], str]] = [
    (lambda c, g, b: max(3, eca_kernel_size(c, g, b)),
     "your kernels never go below 3: that is timm's EcaModule, not the paper's rule. For narrow "
     "layers (C = 2 or 4) the paper's rule gives 1; write it without a floor of 3."),
    (lambda c, g, b: int(abs((math.log2(c) + b) / g)),
     "some of your kernels are even: the kernel must be odd (centred on channel c), so take t + 1 "
     "when t is even."),
    (lambda c, g, b: (lambda t: t if t % 2 else t - 1)(int(abs((math.log2(c) + b) / g))),
     "when t is even you went down to the odd number below it; the rule takes the odd number at or "
     "above t (t + 1)."),
    (lambda c, g, b: _odd_up(round(abs((math.log2(c) + b) / g))),
     "round (log2 C + b) / gamma down (int), not to the nearest whole number, before making it odd."),
    (lambda c, g, b: _odd_up(math.ceil(abs((math.log2(c) + b) / g))),
     "you rounded (log2 C + b) / gamma up (ceil): the rule rounds it down (floor, int) before making it odd."),
    (lambda c, g, b: _odd_up(int(abs((math.log(c) + b) / g))),
     "you used the natural logarithm: the rule has log2(C) (math.log2)."),
    (lambda c, g, b: _odd_up(int(abs(math.log2(c) / g + b))),
     "b is divided by gamma too: t = (log2(C) + b) / gamma, i.e. log2(C)/gamma + b/gamma."),
]


@checker("ECA's kernel size")
def check_eca_kernel_size(fn: Callable[..., int]) -> str:
    """``fn(channels, gamma=2, b=1)`` must return ECA's kernel size: ``t = |(log2 C + b) / gamma|``
    rounded down, then ``t`` if it is odd, else ``t + 1`` (:func:`senet_lib.successors.eca_kernel_size`
    with the paper's floor of 1)."""
    got = []
    for c, gamma, b in _ECA_CASES:
        args = (c,) if (gamma, b) == (2, 1) else (c, gamma, b)
        got.append(_whole_number(call(fn, *args), "your kernel size"))
    want = [eca_kernel_size(c, g, b) for c, g, b in _ECA_CASES]
    if got == want:
        return (f"right for {len(_ECA_CASES)} hidden (C, gamma, b), from C = 2 to 2048, including the "
                "narrow layers where the paper and timm differ.")
    for rule, hint in _ECA_WRONG:
        if got == [rule(c, g, b) for c, g, b in _ECA_CASES]:
            raise Hint(hint)
    i = next(i for i, (a, w) in enumerate(zip(got, want, strict=True)) if a != w)
    c, gamma, b = _ECA_CASES[i]
    label = f"for C = {c}" + ("" if (gamma, b) == (2, 1) else f", gamma = {gamma}, b = {b}")
    raise Hint(f"{label} the kernel size is {want[i]}; you gave {got[i]}.")


# --- CBAM's channel pooling ------------------------------------------------------------------------

def _pool_cases() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(10)
    return [torch.randn(2, 8, 5, 7, generator=g), torch.randn(1, 3, 4, 4, generator=g) + 2.0,
            torch.randn(3, 16, 6, 3, generator=g).abs()]


@checker("CBAM's channel pooling")
def check_channel_pool(fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """``fn(x)`` for ``x`` of shape ``(N, C, H, W)`` must return ``(N, 2, H, W)``: the mean over
    the channels, then the maximum over the channels (the input of CBAM's 7 x 7 convolution).
    Hidden maps: negative and positive values, three channels, N = 1."""
    for x in _pool_cases():
        n, c, h, w = x.shape
        try:
            out = call(fn, x)
        except _LearnerRaised as e:
            if "return_types.max" in str(e.exc) or "return_types.min" in str(e.exc):
                raise Hint("x.max(dim=1) returns a pair (values, indices), not a tensor: take its "
                           ".values, or use x.amax(dim=1, keepdim=True).") from None
            raise
        mean, mx = x.mean(1, keepdim=True), x.amax(1, keepdim=True)
        want = torch.cat([mean, mx], 1)
        if isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out):
            raise Hint("you returned the two maps as a pair: concatenate them into one (N, 2, H, W) "
                       "tensor, torch.cat([mean, max], dim=1).")
        out = expect_tensor(out, "your pooled map")
        if tuple(out.shape) == (n, 3, h, w) and close(out[:, :2], want):
            raise Hint("your map has 3 channels: x.max(dim=1, keepdim=True) is a pair (values, "
                       "indices), and the indices came along; keep only .values.")
        if tuple(out.shape) == (n, 2 * h, w) or tuple(out.shape) == (2 * n, h, w) or out.dim() == 3:
            raise Hint(f"your output has shape {tuple(out.shape)}: pooling over dim 1 drops that dimension; "
                       "keep it (keepdim=True), so that mean and max are (N, 1, H, W) each, then "
                       "concatenate them along dim 1.")
        if tuple(out.shape) == (n, 2 * c, 1, 1) or tuple(out.shape) == (n, 2, c):
            raise Hint("you pooled over the positions (H, W): CBAM's spatial attention pools over the "
                       "channels (dim 1), keeping one value per position.")
        out = expect_shape(out, (n, 2, h, w), "your pooled map", "Pool over dim 1 and keep it (keepdim=True).")
        if close(out, want):
            continue
        if close(out, torch.cat([mx, mean], 1)):
            raise Hint("the two maps are in the wrong order: the mean first, then the maximum "
                       "(the order the convolution's weights expect).")
        if close(out[:, :1], x.sum(1, keepdim=True)):
            raise Hint("your first map is the sum over channels, C times the mean: take the mean.")
        if close(out, mean.expand(-1, 2, -1, -1)):
            raise Hint("both maps are the mean: the second is the maximum over channels (amax).")
        if close(out, mx.expand(-1, 2, -1, -1)):
            raise Hint("both maps are the maximum: the first is the mean over channels.")
        if close(out[:, 1:], x.abs().amax(1, keepdim=True)) and not close(
                out[:, 1:], mx):
            raise Hint("your maximum is of |x|: take the maximum of x itself (negative values stay negative).")
        expect_close(out, want, "your pooled map", hint="Map 0: x.mean(dim=1); map 1: x.amax(dim=1).")
    return "right on 3 hidden feature maps: mean then maximum over channels, (N, 2, H, W)."


# --- the parameter-free gather-excite ---------------------------------------------------------------

def _ge_cases() -> list[tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(11)
    return [(torch.randn(2, 4, 16, 16, generator=g), 4), (torch.randn(1, 3, 10, 14, generator=g), 2),
            (torch.randn(2, 5, 12, 9, generator=g) + 1, 8), (torch.randn(2, 3, 7, 5, generator=g), 0)]


@checker("Gather-excite without parameters")
def check_gather_excite(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> str:
    """``fn(x, extent)`` must return GE-θ-'s output for ``x (N, C, H, W)``: gather with the mean
    over ``(2e - 1) x (2e - 1)`` windows every ``e`` positions (padding ``e - 1``, padded positions
    not counted; ``extent = 0``: the mean over the whole map), stretch the gathered map back to
    ``H x W`` (nearest neighbour), gate with a sigmoid and multiply ``x``
    (:class:`senet_lib.successors.GatherExcite` with ``learned=False``); shape and dtype of
    ``x``. Hidden maps: extents 0, 2, 4 and 8, sizes the extent does not divide."""
    from ..successors import GatherExcite

    for x, e in _ge_cases():
        n, c, h, w = x.shape
        out = expect_tensor(call(fn, x, e), "your output")
        block = GatherExcite(c, e)
        with torch.no_grad():
            want, gates = block(x), block.gates(x)
        if tuple(out.shape) != tuple(x.shape) and out.dim() == 4 and tuple(out.shape[:2]) == (n, c):
            small = tuple(out.shape[-2:])
            raise Hint(f"for an input of {h} x {w} (extent {e}) your output is {tuple(out.shape)}: the gathered "
                       f"map {small} must be stretched back to {h} x {w} (F.interpolate(..., size=(H, W), "
                       "mode='nearest')) before it gates x.")
        out = expect_shape(out, x.shape, "your output", "The block returns a map shaped like x.")
        if close(out, want):
            expect_dtype(out, x.dtype, "your output", "x")
            continue
        if close(out, gates):
            raise Hint("you returned the gates: the block returns x multiplied by them.")
        if e == 0:
            expect_close(out, want, "with extent 0 (a global gather) your output",
                         hint="Extent 0 gathers the whole map: x.mean(dim=(2, 3), keepdim=True), as SE's squeeze.")
            continue
        k = 2 * e - 1

        def with_gather(g: torch.Tensor, mode: str = "nearest", x: torch.Tensor = x, h: int = h,
                        w: int = w) -> torch.Tensor:
            kw = {} if mode == "nearest" else {"align_corners": False}
            return x * torch.sigmoid(F.interpolate(g, size=(h, w), mode=mode, **kw))

        pooled = F.avg_pool2d(x, k, stride=e, padding=k // 2, count_include_pad=False)
        if close(out, x * F.interpolate(pooled, size=(h, w), mode="nearest")):
            raise Hint("you multiplied by the gathered means themselves: excite passes them through a "
                       "sigmoid first, so that every gate lies in (0, 1).")
        if close(out, with_gather(F.avg_pool2d(x, k, stride=e, padding=k // 2,
                                                        count_include_pad=True))):
            raise Hint("near the border your windows count the zero padding in the mean: pass "
                       "count_include_pad=False, so that a clipped window averages only real positions.")
        if h % e == 0 and w % e == 0 and close(out, with_gather(F.avg_pool2d(x, e))):
            raise Hint(f"you averaged non-overlapping {e} x {e} windows: each gathered value covers "
                       f"(2e - 1) x (2e - 1) = {k} x {k} positions centred every e = {e} positions "
                       f"(kernel {k}, stride {e}, padding {k // 2}).")
        if close(out, with_gather(F.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False))):
            raise Hint(f"you gathered a window around every position (stride 1): gather-excite takes one "
                       f"window every e = {e} positions (stride {e}), then repeats each value over its window.")
        tiles = pooled.repeat_interleave(e, dim=2).repeat_interleave(e, dim=3)[:, :, :h, :w]
        if tiles.shape == x.shape and close(out, x * torch.sigmoid(tiles)):
            raise Hint(f"you repeated each gathered value over an {e} x {e} tile: where e does not divide "
                       f"the map ({h} x {w}) that is not the stretch the block uses; stretch with "
                       "F.interpolate(g, size=(H, W), mode='nearest').")
        for mode in ("bilinear", "bicubic"):
            if close(out, with_gather(pooled, mode)):
                raise Hint(f"you stretched the gathered map with {mode} interpolation: gather-excite "
                           "repeats each value over its window (mode='nearest').")
        if close(out, x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))):
            raise Hint(f"with extent {e} you gathered the whole map: only extent 0 is global; extent e "
                       "gathers local windows, so the gates vary across the map.")
        expect_close(out, want, f"for extent {e} on a {h} x {w} map your output")
    return ("right on 4 hidden maps (extents 0, 2, 4 and 8, sizes not divisible by the extent): "
            "gather, stretch, sigmoid, multiply.")


# --- what each block costs ---------------------------------------------------------------------------

_PARAM_CASES = [("se", 64, 16), ("eca", 64, 16), ("cbam", 64, 16), ("ge", 64, 16), ("ge_learned", 64, 16),
                ("se", 24, 16), ("cbam", 40, 8), ("eca", 512, 16), ("ge_learned", 12, 4), ("cbam", 8, 16),
                ("eca", 4, 16), ("se", 8, 16)]


def _params(kind: str, c: int, r: int) -> int:
    reduction = {"reduction": r} if "reduction" in attention_options(kind) else {}
    return sum(p.numel() for p in make_attention(kind, c, **reduction).parameters())


@checker("The parameters of each block")
def check_block_params(fn: Callable[[str, int, int], int]) -> str:
    """``fn(kind, channels, reduction)`` must return the number of parameters of
    ``senet_lib.registry.make_attention(kind, channels, reduction=reduction)`` (no ``reduction``
    for the blocks without an MLP) for ``kind`` in ``"se"``, ``"eca"``, ``"cbam"``, ``"ge"``
    (extent 4, no parameters) and ``"ge_learned"`` (extent 4)."""
    for kind, c, r in _PARAM_CASES:
        got = _whole_number(call(fn, kind, c, r), f"your count for {kind!r}")
        want = _params(kind, c, r)
        if got == want:
            continue
        h = max(1, c // r)
        where = f"for kind={kind!r}, C={c}, r={r}"
        if kind == "se" and got == 2 * c * h:
            raise Hint(f"{where}: senet_lib's SE block has a bias in fc2 (C more parameters; fc1 has none).")
        if kind in ("se", "cbam") and h != c / r and got in (
                2 * c * c / r, 2 * c * c / r + (c if kind == "se" else 100),
                2 * c * (c // r) + (c if kind == "se" else 100)):
            raise Hint(f"{where}: the hidden width is h = max(1, C // r) = {h}, a whole number of units.")
        if kind == "eca" and got == 2 * c * h:
            raise Hint(f"{where}: ECA has no bottleneck: one 1-D kernel of k = eca_kernel_size(C) weights, "
                       "whatever C is.")
        if kind == "eca" and got == max(eca_kernel_size(c), 3) != want:
            raise Hint(f"{where}: that is timm's kernel (at least 3); the library follows the paper's rule.")
        if kind == "cbam":
            mlp = 2 * c * h
            if got == mlp:
                raise Hint(f"{where}: you counted the channel MLP only; CBAM also has a spatial attention: a "
                           "7 x 7 convolution from 2 maps to 1 (no bias) and its batch norm (2).")
            if got in (mlp + 49 + 2, mlp + 49):
                raise Hint(f"{where}: the 7 x 7 convolution reads two maps (mean and max over channels): "
                           "2 x 7 x 7 = 98 weights.")
            if got == mlp + 98:
                raise Hint(f"{where}: add the spatial batch norm's weight and bias (2 parameters).")
            if got == 2 * mlp + 98 + 2:
                raise Hint(f"{where}: the average- and max-pooled descriptors share one MLP: count it once.")
            if got in (mlp + c + h + 100, mlp + c + 100):
                raise Hint(f"{where}: the library's CBAM MLP has no biases (as the paper's equation and timm; "
                           "the authors' code has them).")
        if kind == "ge" and got != 0:
            raise Hint(f"{where}: GE-θ- gathers with plain average pooling and has no parameters at all.")
        if kind == "ge_learned":
            steps = 2  # extent 4: two depthwise convolutions of stride 2
            if got == steps * 9 * c:
                raise Hint(f"{where}: each depthwise convolution is followed by a batch norm "
                           "(2 C parameters: weight and bias).")
            if got in (steps * 9 * c * c + steps * 2 * c, steps * 9 * c * c):
                raise Hint(f"{where}: the gather's convolutions are depthwise (groups = C): 9 weights per "
                           "channel, not 9 C.")
            if got in (9 * c + 2 * c, 16 * c + 2 * c):
                raise Hint(f"{where}: extent 4 takes log2(4) = 2 stride-2 convolutions of 3 x 3, each with "
                           "its batch norm.")
        raise Hint(f"{where} the block has {want:,} parameters; you gave {got:,}.")
    return f"right for all {len({k for k, _, _ in _PARAM_CASES})} blocks on {len(_PARAM_CASES)} hidden (kind, C, r)."
