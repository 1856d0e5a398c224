"""senet_lib.report: paired differences with scipy's Student t, tables and verdicts from a results file."""

import math

import numpy as np
import pytest

from senet_lib import report


def results(acc, studies=None):
    """A results dict with the layout the runner writes, from ``{arm: [accuracy per seed]}``."""
    studies = studies or {"reduction": {"paper_table": 10, "arms": ["r2", "se", "r32"]}}
    return {"studies": studies, "arms": {a: {"params": 100 + i, "flops": 1e6 * (1 + i),
                                             "runs": [{"seed": s, "final_test_acc": v} for s, v in enumerate(vals)]}
                                         for i, (a, vals) in enumerate(acc.items())}}


ACC = {"plain": [0.60, 0.62, 0.58], "se": [0.70, 0.71, 0.69], "r2": [0.69, 0.72, 0.70], "r32": [0.66, 0.67, 0.62]}


def test_t_critical_is_students():
    assert report.t_critical(2) == pytest.approx(4.3027, abs=1e-4)
    assert report.t_critical(4) == pytest.approx(2.7764, abs=1e-4)
    assert report.t_critical(1000) == pytest.approx(1.962, abs=1e-3)
    assert report.t_critical(4, level=0.9) == pytest.approx(2.1318, abs=1e-4)
    with pytest.raises(ValueError, match="df must be an int >= 1"):
        report.t_critical(0)
    with pytest.raises(ValueError, match="level must be a probability"):
        report.t_critical(3, level=95)


def test_paired_difference_on_known_numbers():
    j = report.paired_difference([3, 4, 5])
    assert j["n"] == 3 and j["wins"] == 3 and j["mean"] == pytest.approx(4.0) and j["df"] == 2
    assert j["std"] == pytest.approx(1.0) and j["sem"] == pytest.approx(1 / 3 ** 0.5)
    assert j["t"] == pytest.approx(4 * 3 ** 0.5) and j["clear"]
    assert (j["low"], j["high"]) == pytest.approx((4 - 4.3027 / 3 ** 0.5, 4 + 4.3027 / 3 ** 0.5), abs=1e-3)
    from scipy import stats

    assert j["p"] == pytest.approx(stats.ttest_1samp([3, 4, 5], 0).pvalue)
    k = report.paired_difference([3, -2, 0])            # mean +0.33, t = 0.23
    assert not k["clear"] and k["wins"] == 1 and k["low"] < 0 < k["high"]
    flat = report.paired_difference([1.0, 1.0])          # no spread: the interval is the mean itself
    assert flat["t"] == math.inf and flat["clear"] and flat["low"] == flat["high"] == 1.0
    zero = report.paired_difference([0.0, 0.0])
    assert zero["t"] == 0 and not zero["clear"]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        report.paired_difference([0.01])


def test_paired_and_accuracy_in_points_over_common_seeds():
    res = results({**ACC, "r32": [0.66, 0.67]})          # r32 lacks seed 2
    j = report.paired(res, "r32", "se")
    assert j["seeds"] == [0, 1] and j["values"] == pytest.approx([-4.0, -4.0])
    assert report.paired(res, "se", "se") is None
    assert report.paired(results({"se": [0.7], "r2": [0.6, 0.5]}), "r2", "se") is None
    a = report.accuracy(res, "se")
    assert a["mean"] == pytest.approx(70.0) and a["std"] == pytest.approx(1.0) and a["n"] == 3
    assert report.accuracy(results({"se": [], "r2": [0.1]}), "se") is None
    with pytest.raises(ValueError, match="arm must be one of"):
        report.paired(res, "sk", "se")


def test_paired_summary_is_chapter_6s_judgement():
    s = report.paired_summary(results({"plain": [0.5, 0.5, 0.5], "se": [0.53, 0.54, 0.55]}))
    assert s["n"] == 3 and s["wins"] == 3 and s["mean"] == pytest.approx(4.0) and s["clear"]
    assert s["plain"] == {"mean": pytest.approx(50.0), "std": 0.0} and s["se"]["mean"] == pytest.approx(54.0)
    assert "values" not in s
    with pytest.raises(ValueError, match="at least 2 seeds"):
        report.paired_summary(results({"plain": [0.5], "se": [0.6]}))


def test_detectable_difference_has_the_power_it_claims():
    d = report.detectable_difference(1.0, 5)
    assert 1.6 < d < 1.8
    # simulate: paired t tests on 5 seeds with true mean d and sd 1 clear about 80 % of the time
    rng = np.random.default_rng(0)
    x = rng.normal(d, 1.0, size=(20_000, 5))
    t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(5))
    assert np.mean(np.abs(t) > report.t_critical(4)) == pytest.approx(0.8, abs=0.015)
    assert report.detectable_difference(2.0, 5) == pytest.approx(2 * d)   # in the unit of sd
    assert report.detectable_difference(1.0, 20) < d                         # more seeds, finer
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        report.detectable_difference(1.0, 1)
    with pytest.raises(ValueError, match="sd must be a positive number"):
        report.detectable_difference(0.0, 5)


def test_cells_and_the_study_table():
    res = results(ACC)
    assert report.acc_cell(res, "se") == "70.0 ± 0.6"
    assert report.acc_cell(results({"se": [0.7]}), "se") == "70.0 (1 run)"
    assert report.acc_cell(results({"se": []}), "se") == "(no runs yet)"
    assert report.diff_cell(res, "se") == "0 (reference)"
    j = report.paired(res, "plain", "se")
    assert report.diff_cell(res, "plain") == f"{j['mean']:+.2f} ± {j['sem']:.2f} (t = {j['t']:+.1f}, clear)"
    assert "\u00a0" in report.diff_cell(res, "plain", nbsp=True)
    paper = {"plain": (23.30, 6.55), "se": (22.28, 6.03), "r2": (22.29, 6.00)}
    table = report.study_table(res, "reduction", labels={"se": "r = 16"}, paper=paper, nbsp=False,
                               extra={"params": lambda a: str(res["arms"][a]["params"])}).splitlines()
    assert table[0] == ("| arm | params | our accuracy (%) | ours − r = 16 (points) | paper: top-1 / top-5 error (%) "
                        "| paper: top-1 accuracy − r = 16 (points) |")
    assert [row.split(" | ")[0] for row in table[2:]] == ["| plain", "| r2", "| r = 16", "| r32"]
    assert table[3].endswith("| 22.29 / 6.00 | -0.01 |") and table[4].endswith("| 0 (reference) |")
    assert table[5].endswith("| not in the paper | — |")


def test_verdict_says_which_arms_differ_and_compares_the_order_with_the_paper():
    res = results(ACC)
    paper = {"se": (22.28, 6.03), "r2": (22.29, 6.00), "r32": (22.72, 6.20)}
    text = report.verdict(res, "reduction", labels={"se": "r = 16"}, paper=paper)
    j = report.paired(res, "r32", "se")
    assert j["clear"] and not report.paired(res, "r2", "se")["clear"]
    assert f"r32 is clearly worse than r = 16, by {abs(j['mean']):.1f} points" in text
    assert "r2: no clear difference from r = 16" in text
    assert "Best to worst, ours: r2 > r = 16 > r32; the paper's: r = 16 > r2 > r32 (2 of 3 pairs" in text
    assert "1 of 1 point the paper's way" in text and "plain" not in text
    assert "nothing to judge" in report.verdict(results({"se": [0.7], "r2": [0.6], "r32": [], "plain": []}),
                                                  "reduction")
    # chapter 6's study: SE judged against the plain network, its reference
    cmp = results({"plain": [0.5, 0.52, 0.5], "se": [0.55, 0.56, 0.57]},
                  {"compare": {"paper_table": None, "arms": ["se"], "reference": "plain"}})
    assert report.verdict(cmp, "compare").startswith("se is clearly better than plain, by 5.3 points")
    assert report.study_arms(cmp, "compare") == ["plain", "se"]
    ctx = results({"se": [0.7, 0.7], "scale": [0.6, 0.65]}, {"context": {"paper_table": None,
                                                                        "arms": ["se", "scale"], "plain": False}})
    assert report.study_arms(ctx, "context") == ["se", "scale"]
    with pytest.raises(ValueError, match="study must be one of"):
        report.study_arms(ctx, "beyond")


def test_format_sweep_lists_each_study_and_arm():
    lines = report.format_sweep(results(ACC)).splitlines()
    assert lines[0] == "reduction (paper Table 10)" and [ln.split()[0] for ln in lines[1:]] == ["plain", "r2", "se", "r32"]
    assert "vs se" in lines[2] and "vs se" not in lines[3]


def test_detectable_difference_with_two_seeds_where_scipys_tail_is_nan():
    # 2 seeds (df = 1): scipy's noncentral t returns NaN far in its lower tail; the search must
    # still end, with the power it claims (simulated as above)
    d = report.detectable_difference(1.7, 2)
    assert math.isfinite(d) and d > 10
    rng = np.random.default_rng(1)
    x = rng.normal(d, 1.7, size=(40_000, 2))
    t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(2))
    assert np.mean(np.abs(t) > report.t_critical(1)) == pytest.approx(0.8, abs=0.015)


def _claim_results(diffs, ref_acc=0.7):
    """A results file where arm "a" minus "se" is ``diffs`` points, seed by seed."""
    return results({"se": [ref_acc] * len(diffs), "a": [ref_acc + d / 100 for d in diffs]})


@pytest.mark.parametrize("diffs, expect, verdict", [
    ([-3.0, -2.5, -3.5, -2.8, -3.1], "worse", report.HOLDS),       # clearly worse, as claimed
    ([3.0, 2.5, 3.5, 2.8, 3.1], "worse", report.FAILS),           # clearly the other way
    ([-3.0, 2.5, -1.0, 1.8, 0.1], "worse", report.UNDECIDED),     # the interval includes 0
    ([3.0, 2.5, 3.5, 2.8, 3.1], "better", report.HOLDS),
    ([0.1, -0.1, 0.05, -0.05, 0.0], "same", report.HOLDS),        # inside ±1 point
    ([2.0, -2.5, 1.0, -1.8, 0.3], "same", report.UNDECIDED),      # includes 0, but wide
    ([3.0, 2.5, 3.5, 2.8, 3.1], "same", report.FAILS),            # clearly different
])
def test_judge_claim_has_three_outcomes(diffs, expect, verdict):
    j = report.judge_claim(_claim_results(diffs), report.Claim("a", "se", expect, "a vs se"))
    assert j["verdict"] == verdict
    assert j["mean"] == pytest.approx(sum(diffs) / len(diffs), abs=1e-9)
    assert j["detectable"] > 0 and j["reason"]


def test_judge_claim_margin_and_bad_input():
    near = _claim_results([0.6, 0.9, 0.7, 0.8, 0.75])        # clearly > 0, so "same" fails however wide
    assert report.judge_claim(near, report.Claim("a", "se", "same", "x"))["verdict"] == report.FAILS
    small = _claim_results([0.3, -0.4, 0.5, -0.2, 0.1])      # interval about ±0.45
    claim = report.Claim("a", "se", "same", "x")
    assert report.judge_claim(small, claim, margin=1.0)["verdict"] == report.HOLDS
    assert report.judge_claim(small, claim, margin=0.2)["verdict"] == report.UNDECIDED
    one = _claim_results([1.0])
    assert report.judge_claim(one, claim)["verdict"] is None
    with pytest.raises(ValueError, match="expect must be one of"):
        report.Claim("a", "se", "bigger", "x")
    with pytest.raises(ValueError, match="text must be a non-empty str"):
        report.Claim("a", "se", "same", "")
    with pytest.raises(ValueError, match="margin must be a positive number"):
        report.judge_claim(small, claim, margin=0)
    with pytest.raises(ValueError, match="arm must be one of"):
        report.judge_claim(small, report.Claim("zz", "se", "same", "x"))


def test_claims_table_rows_and_columns():
    res = _claim_results([-3.0, -2.5, -3.5, -2.8, -3.1])
    claims = [report.Claim("a", "se", "worse", "a is worse", paper=-0.5), report.Claim("a", "se", "better", "a wins")]
    table = report.claims_table(res, claims, group={claims[0]: "study 1"}).splitlines()
    assert table[0] == ("| study | the paper's finding | paper (points) | ours (points, 95 % interval) "
                        "| detectable (points) | here |")
    j = report.judge_claim(res, claims[0])
    ours = f"{j['mean']:+.1f} ({j['low']:+.1f} to {j['high']:+.1f})".replace(" ", "\u00a0").replace("\u00a0(", " (")
    assert table[2].startswith(f"| study 1 | a is worse | -0.50 | {ours} |") and "**holds**: clearly worse" in table[2]
    assert table[3].startswith("|  | a wins | — |") and "**does not hold**" in table[3]
    bare = report.claims_table(res, claims[1:], finding="finding", reasons=False).splitlines()
    assert bare[0] == "| finding | ours (points, 95 % interval) | detectable (points) | here |"
    assert bare[2].endswith("| **does not hold** |")


def test_claims_table_keeps_findings_on_one_line_when_asked():
    res = _claim_results([-3.0, -2.5, -3.5, -2.8, -3.1])
    claim = report.Claim("a", "se", "worse", "a is worse")
    assert "| a\u00a0is\u00a0worse |" in report.claims_table(res, [claim], unbroken=True)
    hyphen = report.Claim("a", "se", "worse", "SE-POST worse")   # a no-break hyphen too
    assert "| SE\u2011POST\u00a0worse |" in report.claims_table(res, [hyphen], unbroken=True)
    assert "| a is worse |" in report.claims_table(res, [claim])
    short = report.claims_table(res, [claim], detectable=False).splitlines()
    assert short[0] == "| the paper's finding | ours (points, 95 % interval) | here |"


def test_an_interval_end_that_excludes_0_never_shows_as_zero():
    # a clear difference whose interval starts just above 0 (chapter 8's "stage 3 alone beats
    # no SE" ran +0.02 to +3.38): one decimal would print "+0.0 to ...", next to "holds"
    res = _claim_results([0.44, 3.54, 1.24, 2.94, 0.64])
    j = report.judge_claim(res, report.Claim("a", "se", "better", "a wins"))
    assert j["clear"] and 0 < j["low"] < 0.05, j["low"]
    table = report.claims_table(res, [report.Claim("a", "se", "better", "a wins")])
    assert f"({j['low']:+.2f}\u00a0to\u00a0{j['high']:+.1f})" in table and "(+0.0\u00a0" not in table
    assert f"({j['low']:+.2f} to {j['high']:+.1f})" in j["reason"]
    assert report._span(-0.3, 0.0) == "-0.3 to +0.0" and report._span(-0.04, 2.25) == "-0.04 to +2.2"
