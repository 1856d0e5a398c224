"""Chapter 8 checkers: each passes the right answer and catches plausible wrong ones."""

import math
import statistics

import pytest
import torch
from scipy import stats

from senet_lib.block import NoSqueezeSE, hidden_width
from senet_lib.cifar_resnet import cifar_resnet
from senet_lib.cost import count_flops, count_parameters
from senet_lib.exercises import check_no_squeeze_flops, check_paired_interval, check_resnet_se_params, check_worst_arm

#: two-sided 95 % values of Student's t for 1 to 10 degrees of freedom, rounded as a printed table
T_CRIT_5 = tuple(round(float(stats.t.ppf(0.975, df)), 2) for df in range(1, 11))
from checking import fails_with as _expect_hint

# --- parameters ---------------------------------------------------------------------------------

def se_params(depth, width, r):
    n = (depth - 2) // 6
    return sum(n * (2 * c * max(1, c // r) + c) for c in (width, 2 * width, 4 * width))


@pytest.mark.parametrize("depth, width, r", [(14, 16, 16), (8, 16, 32), (20, 8, 4)])
def test_the_formula_the_checker_wants_is_the_network_s_count(depth, width, r):
    plain = count_parameters(cifar_resnet(depth, width=width))
    se = count_parameters(cifar_resnet(depth, width=width, attn="se", attn_options={"reduction": r}))
    assert se - plain == se_params(depth, width, r)


def test_se_param_count():
    assert check_resnet_se_params(se_params).passed

    def paper(depth, width, r):
        return (depth - 2) // 6 * sum(2 * c * c / r for c in (width, 2 * width, 4 * width))
    _expect_hint(check_resnet_se_params(paper), "paper's formula")

    def no_bias(depth, width, r):
        return sum((depth - 2) // 6 * 2 * c * max(1, c // r) for c in (width, 2 * width, 4 * width))
    _expect_hint(check_resnet_se_params(no_bias), "fc2's bias")

    def both_biases(depth, width, r):
        return se_params(depth, width, r) + sum((depth - 2) // 6 * max(1, c // r)
                                                for c in (width, 2 * width, 4 * width))
    _expect_hint(check_resnet_se_params(both_biases), "only fc2")

    def no_floor(depth, width, r):
        return sum((depth - 2) // 6 * (2 * c * (c // r) + c) for c in (width, 2 * width, 4 * width))
    _expect_hint(check_resnet_se_params(no_floor), "max(1, C // r)")

    def blocks_wrong(depth, width, r):
        return sum(depth * (2 * c * max(1, c // r) + c) for c in (width, 2 * width, 4 * width))
    _expect_hint(check_resnet_se_params(blocks_wrong), "n = (depth - 2) / 6")
    _expect_hint(check_resnet_se_params(lambda d, w, r: "1568"), "not a number")
    _expect_hint(check_resnet_se_params(lambda d, w, r: 0), "you gave 0")


# --- the interval -------------------------------------------------------------------------------

def interval(arm, se, crit=None, spread=statistics.stdev, sem=True):
    d = [100 * (a - s) for a, s in zip(arm, se, strict=True)]
    n = len(d)
    t = T_CRIT_5[n - 2] if crit is None else crit
    m = statistics.fmean(d)
    half = t * spread(d) / (math.sqrt(n) if sem else 1)
    return m, m - half, m + half


def test_paired_interval():
    assert check_paired_interval(interval).passed

    def scipy_t(arm, se):  # the exact quantile instead of the table's rounded value
        pytest.importorskip("scipy")
        from scipy import stats
        return interval(arm, se, crit=stats.t.ppf(0.975, len(arm) - 1))
    assert check_paired_interval(scipy_t).passed

    _expect_hint(check_paired_interval(lambda a, s: interval(s, a)), "sign")
    _expect_hint(check_paired_interval(lambda a, s: tuple(v / 100 for v in interval(a, s))), "fractions")
    _expect_hint(check_paired_interval(lambda a, s: interval(a, s, sem=False)), "sqrt(n)")
    _expect_hint(check_paired_interval(lambda a, s: interval(a, s, crit=1.96)), "Student's t")
    _expect_hint(check_paired_interval(lambda a, s: interval(a, s, spread=statistics.pstdev)), "n - 1")
    _expect_hint(check_paired_interval(lambda a, s: interval(a, s, crit=T_CRIT_5[len(a) - 1])),
                 "degrees of freedom")
    _expect_hint(check_paired_interval(lambda a, s: interval(a, s)[:2]), "three numbers")


# --- the worst arm ------------------------------------------------------------------------------

def worst(results, study):
    arms = results["studies"][study]["arms"]
    return min(arms, key=lambda a: results["arms"][a]["final_test_acc"]["mean"])


def test_worst_arm():
    assert check_worst_arm(worst).passed

    def with_plain(results, study):
        return min(["plain", *results["studies"][study]["arms"]],
                   key=lambda a: results["arms"][a]["final_test_acc"]["mean"])
    _expect_hint(check_worst_arm(with_plain), "plain is the network without SE")

    def best(results, study):
        return max(results["studies"][study]["arms"], key=lambda a: results["arms"][a]["final_test_acc"]["mean"])
    _expect_hint(check_worst_arm(best), "best arm")

    def first_seed(results, study):
        return min(results["studies"][study]["arms"],
                   key=lambda a: results["arms"][a]["runs"][0]["final_test_acc"])
    _expect_hint(check_worst_arm(first_seed), "one seed")

    def over_epochs(results, study):
        return min(results["studies"][study]["arms"],
                   key=lambda a: statistics.fmean(statistics.fmean(r["history"]["test_acc"])
                                                  for r in results["arms"][a]["runs"]))
    _expect_hint(check_worst_arm(over_epochs), "over epochs")
    _expect_hint(check_worst_arm(lambda r, s: 3), "not int 3")
    _expect_hint(check_worst_arm(lambda r, s: "relu"), "not an arm of the study")


def test_worst_arm_on_a_real_sweep_layout():
    """The right answer also works on the layout the sweep command writes."""
    from senet_lib.results import finish

    res = {"studies": {"s": {"paper_table": 0, "arms": ["se", "a"]}},
           "arms": {k: {"runs": [{"seed": i, "final_test_acc": v, "history": {"test_acc": [v]}}
                             for i, v in enumerate(vals)]}
                    for k, vals in {"plain": [0.1, 0.2], "se": [0.5, 0.6], "a": [0.4, 0.45]}.items()}}
    finish(res)
    assert worst(res, "s") == "a"


# --- FLOPs --------------------------------------------------------------------------------------

def no_squeeze_flops(c, h, w, r):
    return 4 * c * hidden_width(c, r) * h * w


@pytest.mark.parametrize("c, h, w, r", [(16, 32, 32, 16), (8, 10, 6, 16), (64, 8, 8, 4)])
def test_the_flops_the_checker_wants_are_the_counter_s(c, h, w, r):
    assert count_flops(NoSqueezeSE(c, r), (1, c, h, w)) == no_squeeze_flops(c, h, w, r)


def test_no_squeeze_flops():
    assert check_no_squeeze_flops(no_squeeze_flops).passed
    _expect_hint(check_no_squeeze_flops(lambda c, h, w, r: no_squeeze_flops(c, h, w, r) // 2), "half the count")
    _expect_hint(check_no_squeeze_flops(lambda c, h, w, r: 4 * c * hidden_width(c, r)), "every one of the H x W")
    _expect_hint(check_no_squeeze_flops(lambda c, h, w, r: 4 * c * (c // r) * h * w), "max(1, C // r)")
    _expect_hint(check_no_squeeze_flops(lambda c, h, w, r: 4 * c * c / r * h * w), "whole number")
    _expect_hint(check_no_squeeze_flops(lambda c, h, w, r: torch.tensor(1.0)), "you gave 1")


def test_stubs_are_pending():
    def stub(*args):
        raise NotImplementedError("Exercise")
    for check in (check_resnet_se_params, check_paired_interval, check_worst_arm, check_no_squeeze_flops):
        r = check(stub)
        assert not r.passed and r.pending


def test_strict_mode_raises(monkeypatch):
    from senet_lib.exercises import ExerciseCheckError

    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ExerciseCheckError):
        check_worst_arm(lambda r, s: "se")
