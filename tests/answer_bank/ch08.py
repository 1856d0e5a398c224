"""Chapter 8's answers: SE's parameters in a CIFAR ResNet, a 95 % interval, the worst arm, the FLOPs
of SE without its squeeze."""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
from scipy import stats

from senet_lib.block import NoSqueezeSE
from senet_lib.cost import count_flops

from . import correct, malformed, raises, wrong

T_TABLE = tuple(round(float(stats.t.ppf(0.975, df)), 2) for df in range(1, 11))   # a printed table


def params(depth, width, reduction, *, bias=True, fc1_bias=False, floor=True, widths=None, blocks=None):
    n = (depth - 2) // 6 if blocks is None else blocks
    total = 0
    for c in widths or (width, 2 * width, 4 * width):
        h = max(1, c // reduction) if floor else c // reduction
        total += n * (c * h + h * c + (c if bias else 0) + (h if fc1_bias else 0))
    return total


def params_numpy(depth, width, reduction):
    c = width * np.array([1, 2, 4])
    h = np.maximum(1, c // reduction)
    return (depth - 2) // 6 * np.sum(2 * c * h + c)                           # an np.int64


def params_built(depth, width, reduction):
    from senet_lib.cifar_resnet import cifar_resnet
    from senet_lib.cost import count_parameters

    return (count_parameters(cifar_resnet(depth, width=width, attn="se", attn_options={"reduction": reduction}))
            - count_parameters(cifar_resnet(depth, width=width)))


def interval(arm, se, *, t=None, spread=statistics.stdev, sem=True, scale=100):
    d = [scale * (a - s) for a, s in zip(arm, se)]
    n = len(d)
    crit = T_TABLE[n - 2] if t is None else t(n)
    m = statistics.fmean(d)
    half = crit * spread(d) / (math.sqrt(n) if sem else 1)
    return m, m - half, m + half


def interval_numpy(arm, se):
    d = 100 * (np.asarray(arm) - np.asarray(se))
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return np.array([d.mean(), d.mean() - half, d.mean() + half])


def interval_torch(arm, se):
    d = 100 * (torch.tensor(arm, dtype=torch.float64) - torch.tensor(se, dtype=torch.float64))
    half = float(stats.t.ppf(0.975, len(d) - 1)) * d.std() / len(d) ** 0.5
    m = d.mean()
    return m, m - half, m + half


def worst(results, study):
    arms = results["studies"][study]["arms"]
    return min(arms, key=lambda a: results["arms"][a]["final_test_acc"]["mean"])


def worst_sorted(results, study):
    ranked = sorted((results["arms"][a]["final_test_acc"]["mean"], a) for a in results["studies"][study]["arms"])
    return ranked[0][1]


def worst_from_values(results, study):
    means = {a: np.mean(results["arms"][a]["final_test_acc"]["values"]) for a in results["studies"][study]["arms"]}
    return min(means, key=means.get)


def worst_with(results, study, *, arms=None, key=None, pick=min):
    arms = arms(results, study) if arms else results["studies"][study]["arms"]
    return pick(arms, key=lambda a: key(results["arms"][a]) if key else results["arms"][a]["final_test_acc"]["mean"])


def flops(channels, height, width, reduction):
    h = max(1, channels // reduction)
    return 2 * (channels * h + h * channels) * height * width


def flops_counted(channels, height, width, reduction):
    with torch.device("meta"):
        return count_flops(NoSqueezeSE(channels, reduction), (1, channels, height, width))


BANK = {
    "check_resnet_se_params": [
        correct("a loop over the stages (the solution)", params),
        correct("NumPy arrays", params_numpy),
        correct("counted on the built networks", params_built),
        correct("a whole float", lambda d, w, r: float(params(d, w, r))),
        wrong("the paper's 2 C^2 / r", lambda d, w, r: (d - 2) // 6 * sum(2 * c * c / r for c in (w, 2 * w, 4 * w)),
              "paper's formula"),
        wrong("no fc2 bias", lambda d, w, r: params(d, w, r, bias=False), "fc2's bias"),
        wrong("fc1 given a bias", lambda d, w, r: params(d, w, r, fc1_bias=True), "gave fc1 a bias"),
        wrong("bias counted twice", lambda d, w, r: params(d, w, r) + (d - 2) // 6 * 7 * w, "twice"),
        wrong("C // r = 0", lambda d, w, r: params(d, w, r, floor=False), "C // r is 0"),
        wrong("(depth - 2) / 2 blocks", lambda d, w, r: params(d, w, r, blocks=(d - 2) // 2), "count the blocks"),
        wrong("one width", lambda d, w, r: params(d, w, r, widths=(w, w, w)), "the widths double"),
        wrong("four stages", lambda d, w, r: params(d, w, r, widths=(w, 2 * w, 4 * w, 8 * w)), "four stages"),
        malformed("None", lambda d, w, r: None, "forget the return"),
        malformed("str", lambda d, w, r: str(params(d, w, r)), "not text"),
        malformed("list", lambda d, w, r: [params(d, w, r)], "not a number"),
        malformed("NaN", lambda d, w, r: math.nan, "NaN"),
        malformed("dtype", lambda d, w, r: params(d, w, r) + 0.25, "whole number"),
        malformed("shape", lambda d, w, r: torch.tensor([params(d, w, r)] * 3), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_paired_interval": [
        correct("statistics and a t table (the solution)", interval),
        correct("NumPy and SciPy, an array of three", interval_numpy),
        correct("float64 tensors", interval_torch),
        wrong("wrong sign", lambda a, s: interval(s, a), "wrong sign"),
        wrong("fractions", lambda a, s: interval(a, s, scale=1), "fractions"),
        wrong("standard deviation, not error", lambda a, s: interval(a, s, sem=False), "sqrt(n)"),
        wrong("1.96", lambda a, s: interval(a, s, t=lambda n: 1.96), "1.96"),
        wrong("pstdev", lambda a, s: interval(a, s, spread=statistics.pstdev), "divided by n in the standard deviation"),
        wrong("t for n degrees of freedom", lambda a, s: interval(a, s, t=lambda n: stats.t.ppf(0.975, n)),
              "t for"),
        wrong("(low, mean, high)", lambda a, s: (lambda m, lo, hi: (lo, m, hi))(*interval(a, s)), "order (mean, low, high)"),
        wrong("divided by n", lambda a, s: (lambda m, lo, hi: (m, m - (m - lo) / math.sqrt(len(a)),
                                                             m + (m - lo) / math.sqrt(len(a))))(*interval(a, s)),
              "s / sqrt(n)"),
        malformed("None", lambda a, s: None, "forget the return"),
        malformed("str", lambda a, s: "%.2f [%.2f, %.2f]" % interval(a, s), "three numbers"),
        malformed("list", lambda a, s: list(interval(a, s))[:2], "three numbers"),
        malformed("NaN", lambda a, s: (math.nan, math.nan, math.nan), "NaN"),
        malformed("dtype", lambda a, s: tuple(str(v) for v in interval(a, s)), "not text"),
        malformed("shape", lambda a, s: torch.tensor(interval(a, s)).repeat(2), "three numbers"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_worst_arm": [
        correct("min with a key (the solution)", worst),
        correct("sorted pairs", worst_sorted),
        correct("NumPy means of the values", worst_from_values),
        wrong("plain included", lambda r, s: worst_with(r, s, arms=lambda r, s: ["plain", *r["studies"][s]["arms"]]),
              "plain is the network without SE"),
        wrong("the default left out", lambda r, s: worst_with(r, s, arms=lambda r, s: [a for a in r["studies"][s]["arms"]
                                                                                       if a != "se"]),
              "the default 'se' is an arm"),
        wrong("the best", lambda r, s: worst_with(r, s, pick=max), "best arm"),
        wrong("seed 0 only", lambda r, s: worst_with(r, s, key=lambda arm: arm["runs"][0]["final_test_acc"]), "one seed"),
        wrong("averaged over epochs", lambda r, s: worst_with(r, s, key=lambda arm: statistics.fmean(
            statistics.fmean(run["history"]["test_acc"]) for run in arm["runs"])), "over epochs"),
        wrong("the accuracy, not the name", lambda r, s: min(r["arms"][a]["final_test_acc"]["mean"]
                                                             for a in r["studies"][s]["arms"]), "worst accuracy"),
        wrong("(name, accuracy)", lambda r, s: (worst(r, s), r["arms"][worst(r, s)]["final_test_acc"]["mean"]),
              "only the arm's name"),
        malformed("None", lambda r, s: None, "forget the return"),
        malformed("str", lambda r, s: "relu", "not an arm of the study"),
        malformed("list", lambda r, s: [worst(r, s)], "only the arm's name"),
        malformed("NaN", lambda r, s: math.nan, "return the arm's name"),
        malformed("dtype", lambda r, s: worst(r, s).encode(), "return the arm's name"),
        malformed("shape", lambda r, s: np.array([worst(r, s)] * 2), "return the arm's name"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_no_squeeze_flops": [
        correct("the formula (the solution)", flops),
        correct("count_flops on the block", flops_counted),
        correct("NumPy", lambda c, h, w, r: np.prod([4, c, max(1, c // r), h, w])),
        correct("a whole float", lambda c, h, w, r: 4.0 * c * max(1, c // r) * h * w),
        wrong("C // r = 0", lambda c, h, w, r: 4 * c * (c // r) * h * w, "C // r is 0"),
        wrong("C / r", lambda c, h, w, r: 4 * c * (c / r) * h * w, "not C / r"),
        wrong("multiply-adds", lambda c, h, w, r: flops(c, h, w, r) // 2, "half the count"),
        wrong("SEBlock's count", lambda c, h, w, r: 4 * c * max(1, c // r), "SEBlock's count"),
        wrong("biases counted", lambda c, h, w, r: flops(c, h, w, r) + 2 * (max(1, c // r) + c) * h * w,
              "leave the biases out"),
        wrong("H + W positions", lambda c, h, w, r: 4 * c * max(1, c // r) * (h + w), "every one of the H x W"),
        wrong("ceil", lambda c, h, w, r: 4 * c * max(1, -(-c // r)) * h * w, "rounded C / r up"),
        malformed("None", lambda c, h, w, r: None, "forget the return"),
        malformed("str", lambda c, h, w, r: f"{flops(c, h, w, r):,}", "not text"),
        malformed("list", lambda c, h, w, r: [flops(c, h, w, r) // 2] * 2, "not a number"),
        malformed("NaN", lambda c, h, w, r: math.nan, "NaN"),
        malformed("dtype", lambda c, h, w, r: flops(c, h, w, r) / 3, "whole number"),
        malformed("shape", lambda c, h, w, r: torch.full((h, w), 4.0 * c * max(1, c // r)), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
}
