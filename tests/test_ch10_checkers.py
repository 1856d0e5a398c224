"""Chapter 10 checkers: each passes the right answer and catches plausible wrong ones."""

import math

import pytest
import torch
import torch.nn.functional as F
from checking import fails_with as _expect_hint

from senet_lib.exercises import check_block_params, check_channel_pool, check_eca_kernel_size, check_gather_excite
from senet_lib.registry import attention_options, make_attention
from senet_lib.successors import CBAMBlock, GatherExcite, SpatialAttention, eca_kernel_size

# --- ECA's kernel size ------------------------------------------------------------------------------

def eca_k(channels, gamma=2, b=1):
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


def test_the_reference_answer_is_the_library_s_rule():
    for c in (2, 4, 16, 100, 128, 2048):
        assert eca_k(c) == eca_kernel_size(c)


def test_eca_kernel_size():
    assert check_eca_kernel_size(eca_k).passed
    assert check_eca_kernel_size(lambda c, gamma=2, b=1: float(eca_k(c, gamma, b))).passed
    _expect_hint(check_eca_kernel_size(lambda c, gamma=2, b=1: max(3, eca_k(c, gamma, b))), "timm")
    _expect_hint(check_eca_kernel_size(lambda c, gamma=2, b=1: int(abs((math.log2(c) + b) / gamma))), "even")

    def odd_below(c, gamma=2, b=1):
        t = int(abs((math.log2(c) + b) / gamma))
        return t if t % 2 else t - 1
    _expect_hint(check_eca_kernel_size(odd_below), "went down to the odd number below")

    def rounded(c, gamma=2, b=1):
        t = round(abs((math.log2(c) + b) / gamma))
        return t if t % 2 else t + 1
    _expect_hint(check_eca_kernel_size(rounded), "round (log2 C + b) / gamma down")

    def natural_log(c, gamma=2, b=1):
        t = int(abs((math.log(c) + b) / gamma))
        return t if t % 2 else t + 1
    _expect_hint(check_eca_kernel_size(natural_log), "natural logarithm")

    def b_not_divided(c, gamma=2, b=1):
        t = int(abs(math.log2(c) / gamma + b))
        return t if t % 2 else t + 1
    _expect_hint(check_eca_kernel_size(b_not_divided), "divided by gamma")
    _expect_hint(check_eca_kernel_size(lambda c, gamma=2, b=1: 3), "the kernel size is")
    _expect_hint(check_eca_kernel_size(lambda c, gamma=2, b=1: 3.5), "whole number")
    _expect_hint(check_eca_kernel_size(lambda c, gamma=2, b=1: "3"), "not a number")
    _expect_hint(check_eca_kernel_size(lambda c: eca_k(c)), "TypeError")   # ignores gamma and b


# --- CBAM's channel pooling -------------------------------------------------------------------------

def channel_pool(x):
    return torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)


def test_channel_pool_is_what_cbam_s_spatial_attention_convolves():
    sa = SpatialAttention().eval()
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(sa.gates(x), torch.sigmoid(sa.bn(sa.conv(channel_pool(x)))))


def test_channel_pool():
    assert check_channel_pool(channel_pool).passed
    assert check_channel_pool(lambda x: torch.stack([x.mean(1), x.max(1).values], 1)).passed
    _expect_hint(check_channel_pool(lambda x: torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)),
                 "wrong order")
    _expect_hint(check_channel_pool(lambda x: torch.cat([x.mean(1), x.amax(1)], 1)), "keepdim")
    _expect_hint(check_channel_pool(lambda x: torch.cat([x.sum(1, keepdim=True), x.amax(1, keepdim=True)], 1)),
                 "sum over channels")
    _expect_hint(check_channel_pool(lambda x: torch.cat([x.mean((2, 3), keepdim=True),
                                                          x.amax((2, 3), keepdim=True)], 1)), "positions")
    _expect_hint(check_channel_pool(lambda x: x.mean(1, keepdim=True).repeat(1, 2, 1, 1)), "both maps are the mean")
    _expect_hint(check_channel_pool(lambda x: torch.cat([x.mean(1, keepdim=True), x.abs().amax(1, keepdim=True)], 1)),
                 "|x|")
    _expect_hint(check_channel_pool(lambda x: x[:, :2]), "differs")
    _expect_hint(check_channel_pool(lambda x: x.mean(1).tolist()), "torch.Tensor")


# --- gather-excite --------------------------------------------------------------------------------

def gather_excite(x, extent):
    h, w = x.shape[-2:]
    if extent == 0:
        g = x.mean(dim=(2, 3), keepdim=True)
    else:
        k = 2 * extent - 1
        g = F.avg_pool2d(x, k, stride=extent, padding=k // 2, count_include_pad=False)
    return x * torch.sigmoid(F.interpolate(g, size=(h, w), mode="nearest"))


def test_the_reference_answer_is_the_library_s_block():
    x = torch.randn(2, 6, 13, 11)
    for e in (0, 2, 4, 8):
        torch.testing.assert_close(gather_excite(x, e), GatherExcite(6, e)(x))


def _ge(x, extent, *, pad_counts=False, mode="nearest", sigmoid=True, nonoverlap=False, gates_only=False):
    h, w = x.shape[-2:]
    if extent == 0:
        g = x.mean(dim=(2, 3), keepdim=True)
    elif nonoverlap:
        g = F.avg_pool2d(x, extent, ceil_mode=True)
    else:
        k = 2 * extent - 1
        g = F.avg_pool2d(x, k, stride=extent, padding=k // 2, count_include_pad=pad_counts)
    g = F.interpolate(g, size=(h, w), mode=mode)
    g = torch.sigmoid(g) if sigmoid else g
    return g if gates_only else x * g


def test_gather_excite():
    assert check_gather_excite(gather_excite).passed
    _expect_hint(check_gather_excite(lambda x, e: _ge(x, e, pad_counts=True)), "count_include_pad")
    _expect_hint(check_gather_excite(lambda x, e: _ge(x, e, mode="bilinear")), "nearest")
    _expect_hint(check_gather_excite(lambda x, e: _ge(x, e, sigmoid=False)), "sigmoid")
    _expect_hint(check_gather_excite(lambda x, e: _ge(x, e, nonoverlap=True)), "non-overlapping")
    _expect_hint(check_gather_excite(lambda x, e: _ge(x, e, gates_only=True)), "returned the gates")
    _expect_hint(check_gather_excite(lambda x, e: _ge(x, 0)), "only extent 0 is global")

    def not_stretched(x, e):
        k = 2 * max(e, 1) - 1
        return torch.sigmoid(F.avg_pool2d(x, k, stride=max(e, 1), padding=k // 2, count_include_pad=False))
    _expect_hint(check_gather_excite(not_stretched), "stretched back")

    def extent_zero_forgotten(x, e):
        if e == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        return gather_excite(x, e)
    _expect_hint(check_gather_excite(extent_zero_forgotten), "ZeroDivisionError")

    def extent_zero_wrong(x, e):
        return x * 0.5 if e == 0 else gather_excite(x, e)
    _expect_hint(check_gather_excite(extent_zero_wrong), "extent 0")


# --- parameters of each block ---------------------------------------------------------------------

def block_params(kind, channels, reduction):
    h = max(1, channels // reduction)
    if kind == "se":
        return 2 * channels * h + channels
    if kind == "eca":
        return eca_kernel_size(channels)
    if kind == "cbam":
        return 2 * channels * h + 2 * 7 * 7 + 2
    if kind == "ge":
        return 0
    if kind == "ge_learned":
        return 2 * (9 * channels + 2 * channels)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["se", "eca", "cbam", "ge", "ge_learned"])
@pytest.mark.parametrize("c, r", [(64, 16), (24, 16), (40, 8), (12, 4)])
def test_the_reference_count_is_the_library_s(kind, c, r):
    reduction = {"reduction": r} if "reduction" in attention_options(kind) else {}
    assert block_params(kind, c, r) == sum(p.numel() for p in make_attention(kind, c, **reduction).parameters())


def test_block_params():
    assert check_block_params(block_params).passed

    def variant(**change):
        def fn(kind, c, r):
            h = max(1, c // r)
            if kind in change:
                return change[kind](c, r, h)
            return block_params(kind, c, r)
        return fn
    _expect_hint(check_block_params(variant(se=lambda c, r, h: 2 * c * h)), "bias in fc2")
    _expect_hint(check_block_params(variant(eca=lambda c, r, h: 2 * c * h)), "no bottleneck")
    _expect_hint(check_block_params(variant(eca=lambda c, r, h: max(3, eca_kernel_size(c)))), "timm")
    _expect_hint(check_block_params(variant(cbam=lambda c, r, h: 2 * c * h)), "spatial attention")
    _expect_hint(check_block_params(variant(cbam=lambda c, r, h: 2 * c * h + 49 + 2)), "98")
    _expect_hint(check_block_params(variant(cbam=lambda c, r, h: 2 * c * h + 98)), "batch norm")
    _expect_hint(check_block_params(variant(cbam=lambda c, r, h: 4 * c * h + 100)), "share one MLP")
    _expect_hint(check_block_params(variant(cbam=lambda c, r, h: 2 * c * h + c + h + 100)), "no biases")
    _expect_hint(check_block_params(variant(ge=lambda c, r, h: 2 * c * h + c)), "no parameters")
    _expect_hint(check_block_params(variant(ge_learned=lambda c, r, h: 18 * c)), "batch norm")
    _expect_hint(check_block_params(variant(ge_learned=lambda c, r, h: 18 * c * c + 4 * c)), "depthwise")
    _expect_hint(check_block_params(variant(ge_learned=lambda c, r, h: 11 * c)), "log2(4) = 2")
    _expect_hint(check_block_params(variant(se=lambda c, r, h: 2 * c * c / r + c)), "hidden width")
    _expect_hint(check_block_params(variant(se=lambda c, r, h: 2 * c * (c // r) + c)), "max(1, C // r)")
    _expect_hint(check_block_params(variant(ge_learned=lambda c, r, h: 22 * c + 0.5)), "whole number")
    _expect_hint(check_block_params(variant(se=lambda c, r, h: None)), "forget the return")


def test_cbam_in_the_library_has_no_mlp_biases_by_default():
    """The checker's 'no biases' hint describes the library's default (the paper's equation, timm)."""
    block = CBAMBlock(64)
    assert block.channel.fc1.bias is None and block.channel.fc2.bias is None
