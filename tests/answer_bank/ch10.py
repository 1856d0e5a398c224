"""Chapter 10's answers: ECA's kernel size, CBAM's channel pooling, gather-excite without parameters,
the parameters of each block."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from senet_lib.registry import attention_options, make_attention
from senet_lib.successors import eca_kernel_size

from . import correct, malformed, raises, wrong


def eca_k(channels, gamma=2, b=1):
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


def eca_numpy(channels, gamma=2, b=1):
    t = np.floor(np.abs((np.log2(channels) + b) / gamma)).astype(np.int64)
    return t + (1 - t % 2)                                  # an np.int64


def eca_rule(channels, gamma=2, b=1, *, rounding=int, log=math.log2, odd=lambda t: t if t % 2 else t + 1,
             b_inside=True):
    t = rounding(abs((log(channels) + b) / gamma if b_inside else log(channels) / gamma + b))
    return odd(t)


def pool(x):
    return torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)


def pool_loops(x):
    n, c, h, w = x.shape
    out = torch.empty(n, 2, h, w)
    for i in range(n):
        out[i, 0] = sum(x[i, k] for k in range(c)) / c
        best = x[i, 0].clone()
        for k in range(1, c):
            best = torch.maximum(best, x[i, k])
        out[i, 1] = best
    return out


def ge(x, extent, *, mode="nearest", sigmoid=True, include_pad=False, stride=None):
    h, w = x.shape[-2:]
    if extent == 0:
        g = x.mean(dim=(2, 3), keepdim=True)
    else:
        k = 2 * extent - 1
        g = F.avg_pool2d(x, k, stride=extent if stride is None else stride, padding=k // 2,
                         count_include_pad=include_pad)
    kw = {} if mode == "nearest" else {"align_corners": False}
    g = F.interpolate(g, size=(h, w), mode=mode, **kw)
    return x * (torch.sigmoid(g) if sigmoid else g)


def ge_repeat(x, extent):
    """Stretch by repeating each gathered value over an e x e tile, then crop."""
    h, w = x.shape[-2:]
    if extent == 0:
        return x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))
    k = 2 * extent - 1
    g = F.avg_pool2d(x, k, stride=extent, padding=k // 2, count_include_pad=False)
    g = g.repeat_interleave(extent, dim=2).repeat_interleave(extent, dim=3)[:, :, :h, :w]
    return x * g.sigmoid()


def ge_counted_by_hand(x, extent):
    """Sums and counts through avg_pool2d of x and of ones (the padding does not count)."""
    h, w = x.shape[-2:]
    if extent == 0:
        return x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))
    k = 2 * extent - 1
    total = F.avg_pool2d(x, k, extent, k // 2, count_include_pad=True) * k * k
    count = F.avg_pool2d(torch.ones_like(x[:, :1]), k, extent, k // 2, count_include_pad=True) * k * k
    return x * torch.sigmoid(F.interpolate(total / count, size=(h, w), mode="nearest"))


def block_params(kind, channels, reduction):
    h = max(1, channels // reduction)
    return {"se": 2 * channels * h + channels, "eca": eca_kernel_size(channels),
            "cbam": 2 * channels * h + 2 * 7 * 7 + 2, "ge": 0,
            "ge_learned": 2 * (9 * channels + 2 * channels)}[kind]


def block_params_built(kind, channels, reduction):
    options = {"reduction": reduction} if "reduction" in attention_options(kind) else {}
    return sum(p.numel() for p in make_attention(kind, channels, **options).parameters())


def params_variant(**change):
    def fn(kind, c, r):
        h = max(1, c // r)
        return change[kind](c, r, h) if kind in change else block_params(kind, c, r)
    return fn


BANK = {
    "check_eca_kernel_size": [
        correct("int and an odd test (the solution)", eca_k),
        correct("the library's eca_kernel_size", lambda c, gamma=2, b=1: eca_kernel_size(c, gamma, b)),
        correct("NumPy floor", eca_numpy),
        correct("a whole float", lambda c, gamma=2, b=1: float(eca_k(c, gamma, b))),
        wrong("a floor of 3 (timm)", lambda c, gamma=2, b=1: max(3, eca_k(c, gamma, b)), "timm"),
        wrong("even kernels", lambda c, gamma=2, b=1: eca_rule(c, gamma, b, odd=lambda t: t), "even"),
        wrong("odd number below", lambda c, gamma=2, b=1: eca_rule(c, gamma, b, odd=lambda t: t if t % 2 else t - 1),
              "odd number below"),
        wrong("rounded to nearest", lambda c, gamma=2, b=1: eca_rule(c, gamma, b, rounding=round), "round (log2 C + b)"),
        wrong("ceil", lambda c, gamma=2, b=1: eca_rule(c, gamma, b, rounding=math.ceil), "rounded (log2 C + b) / gamma up"),
        wrong("natural log", lambda c, gamma=2, b=1: eca_rule(c, gamma, b, log=math.log), "natural logarithm"),
        wrong("b not divided", lambda c, gamma=2, b=1: eca_rule(c, gamma, b, b_inside=False), "divided by gamma"),
        malformed("None", lambda c, gamma=2, b=1: None, "forget the return"),
        malformed("str", lambda c, gamma=2, b=1: str(eca_k(c, gamma, b)), "not text"),
        malformed("list", lambda c, gamma=2, b=1: [eca_k(c, gamma, b)], "not a number"),
        malformed("NaN", lambda c, gamma=2, b=1: math.nan, "NaN"),
        malformed("dtype", lambda c, gamma=2, b=1: abs((math.log2(c) + b) / gamma), "whole number"),
        malformed("shape", lambda c, gamma=2, b=1: torch.tensor([eca_k(c, gamma, b)] * 2), "one number"),
        malformed("raises", raises, "ValueError"),
        malformed("raises", lambda c: eca_k(c), "TypeError"),
    ],
    "check_channel_pool": [
        correct("cat of mean and amax (the solution)", pool),
        correct("stack of mean and max().values", lambda x: torch.stack([x.mean(1), x.max(1).values], 1)),
        correct("loops", pool_loops),
        correct("NumPy", lambda x: np.stack([x.numpy().mean(axis=1), x.numpy().max(axis=1)], axis=1)),
        wrong("wrong order", lambda x: torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1), "wrong order"),
        wrong("no keepdim", lambda x: torch.cat([x.mean(1), x.amax(1)], 1), "keepdim"),
        wrong("sum", lambda x: torch.cat([x.sum(1, keepdim=True), x.amax(1, keepdim=True)], 1), "sum over channels"),
        wrong("over positions", lambda x: torch.cat([x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)], 1),
              "positions"),
        wrong("two means", lambda x: torch.cat([x.mean(1, keepdim=True)] * 2, 1), "both maps are the mean"),
        wrong("max of |x|", lambda x: torch.cat([x.mean(1, keepdim=True), x.abs().amax(1, keepdim=True)], 1), "|x|"),
        wrong("max's pair", lambda x: torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True)], 1), ".values"),
        wrong("indices kept", lambda x: torch.cat([x.mean(1, keepdim=True), *x.max(1, keepdim=True)], 1), "indices"),
        wrong("a pair of maps", lambda x: (x.mean(1, keepdim=True), x.amax(1, keepdim=True)), "as a pair"),
        malformed("None", lambda x: None, "forget the return"),
        malformed("str", lambda x: "mean, max", "should be a torch.Tensor"),
        malformed("list", lambda x: pool(x).tolist(), "Python list"),
        malformed("NaN", lambda x: pool(x) * math.nan, "NaN"),
        malformed("dtype", lambda x: pool(x).half(), "torch.float16"),
        malformed("shape", lambda x: pool(x).flatten(2), "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_gather_excite": [
        correct("avg_pool2d and interpolate (the solution)", ge),
        wrong("e x e tiles instead of interpolate", ge_repeat, "tile"),
        correct("sums and counts by hand", ge_counted_by_hand),
        correct("float64 inside, cast back", lambda x, e: ge(x.double(), e).float()),
        wrong("no sigmoid", lambda x, e: ge(x, e, sigmoid=False), "sigmoid first"),
        wrong("padding counted", lambda x, e: ge(x, e, include_pad=True), "count_include_pad=False"),
        wrong("bilinear", lambda x, e: ge(x, e, mode="bilinear"), "bilinear"),
        wrong("stride 1", lambda x, e: ge(x, e, stride=1), "stride 1"),
        wrong("always global", lambda x, e: x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True)), "gathered the whole map"),
        wrong("not stretched back", lambda x, e: torch.sigmoid(F.avg_pool2d(x, 2 * e - 1, e, e - 1,
                                                                            count_include_pad=False))
              if e else x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True)), "stretched back"),
        malformed("None", lambda x, e: None, "forget the return"),
        malformed("str", lambda x, e: "x * sigmoid(gather(x))", "should be a torch.Tensor"),
        malformed("list", lambda x, e: [ge(x, e)], "Python list"),
        malformed("NaN", lambda x, e: ge(x, e) * math.nan, "NaN"),
        malformed("dtype", lambda x, e: ge(x, e).double(), "torch.float64"),
        malformed("shape", lambda x, e: ge(x, e)[0], "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_block_params": [
        correct("a dict of formulas (the solution)", block_params),
        correct("counted on the built blocks", block_params_built),
        correct("NumPy integers", lambda kind, c, r: np.int64(block_params(kind, c, r))),
        wrong("SE without fc2's bias", params_variant(se=lambda c, r, h: 2 * c * h), "bias in fc2"),
        wrong("ECA with a bottleneck", params_variant(eca=lambda c, r, h: 2 * c * h), "no bottleneck"),
        wrong("CBAM's MLP only", params_variant(cbam=lambda c, r, h: 2 * c * h), "channel MLP only"),
        wrong("CBAM's conv on one map", params_variant(cbam=lambda c, r, h: 2 * c * h + 49 + 2), "2 x 7 x 7 = 98"),
        wrong("CBAM's MLP twice", params_variant(cbam=lambda c, r, h: 4 * c * h + 98 + 2), "share one MLP"),
        wrong("GE-θ full convolutions", params_variant(ge_learned=lambda c, r, h: 2 * 9 * c * c + 4 * c), "depthwise"),
        wrong("GE-θ without batch norms", params_variant(ge_learned=lambda c, r, h: 18 * c), "batch norm"),
        wrong("GE-θ- with parameters", params_variant(ge=lambda c, r, h: 2 * c), "no parameters at all"),
        malformed("None", lambda kind, c, r: None, "forget the return"),
        malformed("str", lambda kind, c, r: f"{block_params(kind, c, r):,}", "not text"),
        malformed("list", lambda kind, c, r: [block_params(kind, c, r)], "not a number"),
        malformed("NaN", lambda kind, c, r: math.nan, "NaN"),
        malformed("dtype", lambda kind, c, r: block_params(kind, c, r) + 0.5, "whole number"),
        malformed("shape", lambda kind, c, r: torch.ones(2), "one number"),
        malformed("raises", raises, "ValueError"),
        malformed("raises", lambda kind, c, r: {"eca": 1}[kind], "KeyError"),
    ],
}
