"""Chapter 9 checkers: the right answer passes, plausible wrong answers get their hint."""

from __future__ import annotations

import statistics

import pytest
from checking import fails_with as _fails_with

from senet_lib.exercises import check_conv1x1_intensity, check_paired_ratio, check_roofline, check_se_bytes


def se_bytes(n, c, h, w, reduction=16, fused=False):
    hidden = max(1, c // reduction)
    m, g = n * c * h * w, n * c
    pool = m + g
    excite = 2 * g + 2 * c * hidden + c
    scale = g if fused else 2 * m + g
    return 4 * (pool + excite + scale)


def test_se_bytes_passes():
    assert check_se_bytes(se_bytes).passed
    from senet_lib.cost import se_block_bytes
    assert check_se_bytes(lambda n, c, h, w, r, fused: se_block_bytes(
        c, h, w, batch=n, reduction=r, fused=fused)["total"]).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda n, c, h, w, r, f: se_bytes(n, c, h, w, r, f) / 4, "elements, not bytes"),
    (lambda n, c, h, w, r, f: se_bytes(n, c, h, w, r, f) * 8, "bits"),
    (lambda n, c, h, w, r, f: se_bytes(n, c, h, w, r, not f), "check how `fused`"),
    (lambda n, c, h, w, r, f: se_bytes(n, c, h, w, r, f) - 4 * (2 * c * max(1, c // r) + c),
     "weights are missing"),
    (lambda n, c, h, w, r, f: se_bytes(n, c, h, w, r, f) - (0 if f else 4 * n * c * h * w),
     "writes a new"),
    (lambda n, c, h, w, r, f: 4 * (1 if f else 3) * n * c * h * w, "only the feature-map traffic"),
    (lambda n, c, h, w, r, f: se_bytes(n, c, h, w, r, f) - 16 * n * c, "(N, C) vectors"),
    (lambda n, c, h, w, r, f: 4 * (n * c * h * w + 2 * c * (c // r) + c + 4 * n * c
                                   + (0 if f else 2 * n * c * h * w)), "at least 1 hidden unit"),
    (lambda n, c, h, w, r, f: 12345, "the model gives"),
    (lambda n, c, h, w, r, f: "many", "not a number"),
])
def test_se_bytes_rejects(wrong, text):
    _fails_with(check_se_bytes(wrong), text)


def conv1x1_intensity(n, c_in, c_out, size):
    flops = 2 * n * size * size * c_in * c_out
    nbytes = 4 * (n * size * size * (c_in + c_out) + c_in * c_out)
    return flops / nbytes


def test_conv1x1_intensity_passes():
    assert check_conv1x1_intensity(conv1x1_intensity).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda n, ci, co, s: conv1x1_intensity(n, ci, co, s) / 2, "multiply-add counts as 2"),
    (lambda n, ci, co, s: conv1x1_intensity(n, ci, co, s) * 4, "divide by bytes"),
    (lambda n, ci, co, s: 2 * n * s * s * ci * co / (4 * n * s * s * (ci + co)), "weights are missing"),
    (lambda n, ci, co, s: 1 / conv1x1_intensity(n, ci, co, s), "bytes per FLOP"),
    (lambda n, ci, co, s: 1.0, "expected"),
])
def test_conv1x1_intensity_rejects(wrong, text):
    _fails_with(check_conv1x1_intensity(wrong), text)


def test_roofline_passes():
    assert check_roofline(lambda i, bw, peak: min(peak, i * bw)).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda i, bw, peak: max(peak, i * bw), "min, not max"),
    (lambda i, bw, peak: peak, "cannot reach"),
    (lambda i, bw, peak: i * bw, "compute peak caps"),
    (lambda i, bw, peak: min(peak, bw / i), "you divided"),
    (lambda i, bw, peak: 0.0, "expected"),
])
def test_roofline_rejects(wrong, text):
    _fails_with(check_roofline(wrong), text)


def test_stub_is_pending_not_failed():
    def stub(*args):
        raise NotImplementedError("Exercise")
    for check in (check_se_bytes, check_conv1x1_intensity, check_roofline):
        r = check(stub)
        assert not r.passed and r.pending


def paired(se, plain):
    return statistics.median(a / b for a, b in zip(se, plain, strict=True))


def test_paired_ratio_passes():
    assert check_paired_ratio(paired).passed
    from senet_lib.bench import paired_ratio
    assert check_paired_ratio(lambda se, plain: paired_ratio(se, plain)["median"]).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda se, plain: statistics.median(se) / statistics.median(plain), "divided the two medians"),
    (lambda se, plain: statistics.fmean(a / b for a, b in zip(se, plain, strict=True)), "mean of the ratios"),
    (lambda se, plain: 1 / paired(se, plain), "upside down"),
    (lambda se, plain: sorted(a / b for a, b in zip(se, plain, strict=True))[len(se) // 2], "two middle"),
    (lambda se, plain: paired(sorted(se), sorted(plain)), "breaks the pairs"),
    (lambda se, plain: 1.0, "median of the per-round ratios"),
    (lambda se, plain: [1.0], "not a number"),
])
def test_paired_ratio_rejects(wrong, text):
    _fails_with(check_paired_ratio(wrong), text)
