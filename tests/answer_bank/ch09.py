"""Chapter 9's answers: the bytes of an SE block, the intensity of a 1x1 convolution, the roofline,
paired ratios."""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch

from senet_lib.cost import conv_cost, se_block_bytes

from . import correct, malformed, raises, wrong


def se_bytes(n, c, h, w, reduction, fused, *, bias=True, weights_per_image=False, elements=False,
             unfused_y=True, vectors=True, hidden=None):
    hid = max(1, c // reduction) if hidden is None else hidden(c, reduction)
    m, g = n * c * h * w, n * c
    weights = (2 * c * hid + (c if bias else 0)) * (n if weights_per_image else 1)
    pool = m + (g if vectors else 0)
    excite = (2 * g if vectors else 0) + weights
    scale = (g if vectors else 0) + (0 if fused else (2 * m if unfused_y else m))
    return (pool + excite + scale) * (1 if elements else 4)


def se_bytes_table(n, c, h, w, reduction, fused):
    """Row by row as the chapter's table reads: what each step reads and writes, in NumPy."""
    hidden = max(1, c // reduction)
    rows = np.array([
        [n * c * h * w, n * c],                               # pool: read x, write z
        [n * c + 2 * c * hidden + c, n * c],                  # excite: read z and weights, write s
        [n * c + (0 if fused else n * c * h * w), 0 if fused else n * c * h * w],   # scale
    ], dtype=np.int64)
    return 4 * rows.sum()


def intensity(n, c_in, c_out, size, *, half=False, per_element=False, no_weights=False, inverted=False,
              no_output=False, bias=False, side=False):
    positions = size if side else size * size
    flops = (1 if half else 2) * n * positions * c_in * c_out
    numbers = n * positions * c_in + (0 if no_output else n * positions * c_out) + (0 if no_weights else c_in * c_out) \
        + (c_out if bias else 0)
    nbytes = numbers * (1 if per_element else 4)
    return nbytes / flops if inverted else flops / nbytes


def roofline(i, bw, peak):
    return min(peak, i * bw)


def paired(se, plain):
    return statistics.median(a / b for a, b in zip(se, plain))


def paired_sorted_each(se, plain):
    return statistics.median(a / b for a, b in zip(sorted(se), sorted(plain)))


def paired_even_wrong(se, plain):
    r = sorted(a / b for a, b in zip(se, plain))
    return r[len(r) // 2]


BANK = {
    "check_se_bytes": [
        correct("step by step (the solution)", se_bytes),
        correct("the chapter's table in NumPy", se_bytes_table),
        correct("the library's se_block_bytes", lambda n, c, h, w, r, fused: se_block_bytes(
            c, h, w, batch=n, reduction=r, fused=fused)["total"]),
        correct("a whole float", lambda *a: float(se_bytes(*a))),
        wrong("elements, not bytes", lambda *a: se_bytes(*a, elements=True), "elements, not bytes"),
        wrong("bits", lambda *a: se_bytes(*a) * 8, "bits"),
        wrong("fused and unfused swapped", lambda n, c, h, w, r, fused: se_bytes(n, c, h, w, r, not fused),
              "check how `fused`"),
        wrong("no weights", lambda n, c, h, w, r, fused: se_bytes(n, c, h, w, r, fused) - 4 * (2 * c * max(1, c // r) + c),
              "weights are missing"),
        wrong("no bias", lambda *a: se_bytes(*a, bias=False), "fc2's bias"),
        wrong("weights per image", lambda *a: se_bytes(*a, weights_per_image=True), "once per image"),
        wrong("the new map y forgotten", lambda *a: se_bytes(*a, unfused_y=False), "writes a new"),
        wrong("no (N, C) vectors", lambda *a: se_bytes(*a, vectors=False), "(N, C) vectors are missing"),
        wrong("C // r = 0", lambda *a: se_bytes(*a, hidden=lambda c, r: c // r), "at least 1 hidden unit"),
        malformed("None", lambda *a: None, "forget the return"),
        malformed("str", lambda *a: f"{se_bytes(*a) / 1e6:.1f} MB", "not text"),
        malformed("list", lambda *a: [se_bytes(*a)], "not a number"),
        malformed("NaN", lambda *a: math.nan, "NaN"),
        malformed("dtype", lambda *a: se_bytes(*a) > 0, "bool"),
        malformed("shape", lambda *a: torch.tensor([se_bytes(*a), 0.0]), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_conv1x1_intensity": [
        correct("FLOPs over bytes (the solution)", intensity),
        correct("the library's conv_cost", lambda n, ci, co, s: conv_cost(n, ci, co, s, 1).intensity),
        correct("NumPy float32", lambda n, ci, co, s: np.float32(2 * n * s * s * ci * co)
                / np.float32(4 * (n * s * s * (ci + co) + ci * co))),
        wrong("a multiply-add as 1 FLOP", lambda *a: intensity(*a, half=True), "half"),
        wrong("elements", lambda *a: intensity(*a, per_element=True), "divided by the number of elements"),
        wrong("no weights", lambda *a: intensity(*a, no_weights=True), "weights are missing"),
        wrong("bytes per FLOP", lambda *a: intensity(*a, inverted=True), "bytes per FLOP"),
        wrong("no output", lambda *a: intensity(*a, no_output=True), "output is missing"),
        wrong("a bias", lambda *a: intensity(*a, bias=True), "bias"),
        wrong("size as the number of positions", lambda *a: intensity(*a, side=True), "side of the map"),
        malformed("None", lambda *a: None, "forget the return"),
        malformed("str", lambda *a: f"{intensity(*a):.1f}", "not text"),
        malformed("list", lambda *a: [intensity(*a)], "not a number"),
        malformed("NaN", lambda *a: math.nan, "NaN"),
        malformed("dtype", lambda *a: complex(intensity(*a), 1), "expected a number"),
        malformed("shape", lambda *a: np.array([intensity(*a)] * 2), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_roofline": [
        correct("min (the solution)", roofline),
        correct("if and else", lambda i, bw, peak: min(peak, i * bw)),
        correct("NumPy minimum", lambda i, bw, peak: np.minimum(peak, np.float32(i) * np.float32(bw))),
        correct("a tensor", lambda i, bw, peak: torch.tensor([peak, i * bw]).min()),
        wrong("max", lambda i, bw, peak: max(peak, i * bw), "min, not max"),
        wrong("always the peak", lambda i, bw, peak: peak, "the peak everywhere"),
        wrong("always memory-bound", lambda i, bw, peak: i * bw, "caps the speed"),
        wrong("divided", lambda i, bw, peak: min(peak, bw / i), "you divided"),
        wrong("a factor 1e9", lambda i, bw, peak: min(peak, i * bw) * 1e9, "no factor 1e9"),
        malformed("None", lambda i, bw, peak: None, "forget the return"),
        malformed("str", lambda i, bw, peak: f"{roofline(i, bw, peak)} GFLOP/s", "not text"),
        malformed("list", lambda i, bw, peak: [peak, i * bw], "not a number"),
        malformed("NaN", lambda i, bw, peak: math.nan, "NaN"),
        malformed("dtype", lambda i, bw, peak: i * bw < peak, "bool"),
        malformed("shape", lambda i, bw, peak: torch.tensor([peak, i * bw]), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_paired_ratio": [
        correct("median of round ratios (the solution)", paired),
        correct("NumPy", lambda se, plain: np.median(np.array(se) / np.array(plain))),
        correct("a tensor", lambda se, plain: (torch.tensor(se) / torch.tensor(plain)).median()
                if len(se) % 2 else (torch.tensor(se) / torch.tensor(plain)).quantile(0.5)),
        wrong("ratio of medians", lambda se, plain: statistics.median(se) / statistics.median(plain),
              "divided the two medians"),
        wrong("mean of ratios", lambda se, plain: statistics.fmean(a / b for a, b in zip(se, plain)), "mean of the ratios"),
        wrong("upside down", lambda se, plain: paired(plain, se), "upside down"),
        wrong("middle ratio of an even count", paired_even_wrong, "two middle ratios"),
        wrong("each list sorted", paired_sorted_each, "breaks the pairs"),
        wrong("extra time", lambda se, plain: paired(se, plain) - 1, "ratio - 1"),
        wrong("differences", lambda se, plain: statistics.median(a - b for a, b in zip(se, plain)), "differences"),
        malformed("None", lambda se, plain: None, "forget the return"),
        malformed("str", lambda se, plain: f"{paired(se, plain):.3f}x", "not text"),
        malformed("list", lambda se, plain: [a / b for a, b in zip(se, plain)], "not a number"),
        malformed("NaN", lambda se, plain: math.nan, "NaN"),
        malformed("dtype", lambda se, plain: paired(se, plain) > 1, "bool"),
        malformed("shape", lambda se, plain: torch.tensor(se) / torch.tensor(plain), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
}
