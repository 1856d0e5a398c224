"""Judging a results file: paired differences with their intervals, as numbers, tables and words.

Every comparison in the book is paired: two arms trained with the same seeds differ by
``d_i = 100 * (acc_arm(i) - acc_ref(i))`` points for seed ``i``, and Student's t on the ``d_i``
(``scipy.stats``) gives the mean, its standard error, ``t``, ``p`` and the 95 % interval
(:func:`paired_difference`). A difference is *clear* when that interval excludes 0.

* :func:`paired` / :func:`paired_summary`: one arm against a reference in a results file;
* :func:`accuracy`: an arm's accuracy over seeds; :func:`detectable_difference`: the true
  difference ``n`` seeds detect with a given power (a power estimate before a sweep);
* :func:`study_table`, :func:`verdict`: a study as a Markdown table and as sentences, what
  chapters 6, 8 and 10 show; :func:`format_sweep`: the whole file as text, for the terminal;
* :class:`Claim`, :func:`judge_claim`, :func:`claims_table`: a paper's finding ("r = 32 is worse
  than r = 16") judged by a results file: it *holds* here, *does not hold*, or this many seeds
  *cannot decide* it.

Numbers are in points of accuracy (percent) wherever they are differences or accuracies shown
to a reader; results files keep fractions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["t_critical", "paired_difference", "accuracy", "paired", "paired_summary",
           "detectable_difference", "study_arms", "acc_cell", "diff_cell", "study_table", "verdict",
           "format_sweep", "Claim", "HOLDS", "FAILS", "UNDECIDED", "judge_claim", "claims_table"]


def _level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a probability strictly between 0 and 1, such as 0.95, got {level!r}")
    return float(level)


def t_critical(df: int, level: float = 0.95) -> float:
    """Two-sided critical value of Student's t with ``df`` degrees of freedom: a mean is outside
    the ``level`` interval when ``|t| > t_critical(n - 1)`` (4.30 for 3 seeds, 2.78 for 5)."""
    from scipy import stats

    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"df must be an int >= 1 (seeds - 1), got {df!r}")
    return float(stats.t.ppf(0.5 + _level(level) / 2, df))


def paired_difference(values: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """Judge per-seed differences ``values`` (any unit, here points): ``n``, ``values``, ``mean``,
    ``std`` (sample), ``sem`` (standard error), ``df``, ``t = mean / sem``, ``p`` (two-sided),
    ``t_crit`` (:func:`t_critical`), ``low`` and ``high`` (the ``level`` interval of the mean),
    ``clear`` (the interval excludes 0) and ``wins`` (how many are > 0).

    With no spread at all (every difference equal) ``t`` is infinite unless the mean is 0, and
    the interval is the mean itself.

    Raises:
        ValueError: fewer than 2 values (no spread to judge the difference by).
    """
    from scipy import stats

    d = [float(v) for v in values]
    n = len(d)
    if n < 2:
        raise ValueError(f"need at least 2 seeds to judge a difference, got {n}")
    mean, std = statistics.fmean(d), statistics.stdev(d)
    sem = std / math.sqrt(n)
    t_crit = t_critical(n - 1, level)
    if sem > 0:
        t = mean / sem
        p = float(2 * stats.t.sf(abs(t), n - 1))
    else:
        t = 0.0 if mean == 0 else math.copysign(math.inf, mean)
        p = 1.0 if mean == 0 else 0.0
    low, high = mean - t_crit * sem, mean + t_crit * sem
    return {"n": n, "values": d, "mean": mean, "std": std, "sem": sem, "df": n - 1, "t": t, "p": p,
            "t_crit": t_crit, "low": low, "high": high, "clear": low > 0 or high < 0,
            "wins": sum(v > 0 for v in d)}


def _arm(results: Mapping[str, Any], arm: str) -> Mapping[str, Any]:
    if arm not in results.get("arms", {}):
        raise ValueError(f"arm must be one of the file's arms {list(results.get('arms', {}))}, got {arm!r}")
    return results["arms"][arm]


def _by_seed(results: Mapping[str, Any], arm: str) -> dict[int, float]:
    return {r["seed"]: r["final_test_acc"] for r in _arm(results, arm)["runs"]}


def accuracy(results: Mapping[str, Any], arm: str) -> dict[str, Any] | None:
    """``arm``'s final test accuracy over its seeds, in percent: ``n``, ``values``, ``mean``,
    ``std`` and ``sem`` (0 with one run); ``None`` when it has no runs yet."""
    v = [100 * a for _, a in sorted(_by_seed(results, arm).items())]
    if not v:
        return None
    std = statistics.stdev(v) if len(v) > 1 else 0.0
    return {"n": len(v), "values": v, "mean": statistics.fmean(v), "std": std, "sem": std / math.sqrt(len(v))}


def paired(results: Mapping[str, Any], arm: str, ref: str = "se", level: float = 0.95) -> dict[str, Any] | None:
    """``arm`` minus ``ref`` in points, paired seed by seed over the seeds both ran
    (:func:`paired_difference`, plus ``seeds``); ``None`` when ``arm == ref`` or they share
    fewer than 2 seeds."""
    a, b = _by_seed(results, arm), _by_seed(results, ref)
    seeds = sorted(set(a) & set(b))
    if arm == ref or len(seeds) < 2:
        return None
    return {**paired_difference([100 * (a[s] - b[s]) for s in seeds], level), "seeds": seeds}


def paired_summary(results: Mapping[str, Any], arm: str = "se", ref: str = "plain") -> dict[str, Any]:
    """What a results file says about ``arm`` minus ``ref`` (SE minus plain by default): what
    :func:`paired` returns without the values, and each arm's accuracy (``mean``, ``std``, in
    percent) under its name.

    Raises:
        ValueError: fewer than 2 seeds that both arms ran.
    """
    judged = paired(results, arm, ref)
    if judged is None:
        raise ValueError(f"need at least 2 seeds that both {arm!r} and {ref!r} ran to judge a difference")
    judged.pop("values")
    # both arms have runs (they share at least 2 seeds), so accuracy() is never None here
    acc = {k: {"mean": a["mean"], "std": a["std"]} for k in (ref, arm) if (a := accuracy(results, k)) is not None}
    return {**judged, **acc}


def detectable_difference(sd: float, n: int, *, level: float = 0.95, power: float = 0.8) -> float:
    """The smallest true mean difference that ``n`` paired seeds find clear (two-sided, at
    ``level``) with probability ``power``, when the per-seed differences have standard
    deviation ``sd`` (the same unit as ``sd``): the noncentral-t power of the paired t test.

    With ``n = 5`` and ``power = 0.8`` it is about 1.7 ``sd``; the observed mean that is
    just clear, ``t_critical(n - 1) * sd / sqrt(n)``, is smaller (1.24 ``sd``)."""
    from scipy import optimize, stats

    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2 (seeds), got {n!r}")
    if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd > 0:
        raise ValueError(f"sd must be a positive number, got {sd!r}")
    _level(power)
    df, crit = n - 1, t_critical(n - 1, level)

    def shortfall(delta: float) -> float:
        shift = delta * math.sqrt(n) / sd
        upper, lower = float(stats.nct.sf(crit, df, shift)), float(stats.nct.cdf(-crit, df, shift))
        # scipy's noncentral t gives NaN far in its tails (2 seeds, large shifts): there the
        # lower tail is negligible and the upper one is the normal's
        upper = upper if math.isfinite(upper) else float(stats.norm.sf(crit - shift))
        return upper + (lower if math.isfinite(lower) else 0.0) - power

    hi = sd
    while shortfall(hi) < 0:
        hi *= 2
    return float(optimize.brentq(shortfall, 0.0, hi, xtol=1e-10 * sd))


# --------------------------------------------------------------------------------------------
# Tables and words
# --------------------------------------------------------------------------------------------


def _reference(results: Mapping[str, Any], study: str, ref: str | None) -> str:
    return ref if ref is not None else results["studies"][study].get("reference", "se")


def study_arms(results: Mapping[str, Any], study: str) -> list[str]:
    """The arms a study shows, in order: the plain network first (unless the study has none),
    then the study's own (its default among them)."""
    studies = results.get("studies", {})
    if study not in studies:
        raise ValueError(f"study must be one of {list(studies)}, got {study!r}")
    spec = studies[study]
    own = [a for a in spec["arms"] if a != "plain"]
    return own if spec.get("plain", True) is False else ["plain", *own]


def _span(low: float, high: float) -> str:
    """``"+0.5 to +3.4"``: an interval's ends in points, to one decimal, or to two where one
    decimal would show an end that excludes 0 as ``+0.0`` or ``-0.0``."""
    def end(x: float) -> str:
        return f"{x:+.2f}" if x != 0 and round(x, 1) == 0 else f"{x:+.1f}"
    return f"{end(low)} to {end(high)}"


def _keep(text: str, nbsp: bool) -> str:
    """``text`` with no-break spaces when ``nbsp``: a narrow table column wraps around it, never inside."""
    return text.replace(" ", "\u00a0") if nbsp else text


def acc_cell(results: Mapping[str, Any], arm: str, *, nbsp: bool = False) -> str:
    """``"63.4 ± 0.8"`` (mean ± standard error over seeds, %), ``"63.4 (1 run)"`` or ``"(no runs yet)"``."""
    a = accuracy(results, arm)
    if a is None:
        return "(no runs yet)"
    return _keep(f"{a['mean']:.1f} ± {a['sem']:.1f}", nbsp) if a["n"] > 1 else f"{a['mean']:.1f} (1 run)"


def diff_cell(results: Mapping[str, Any], arm: str, ref: str = "se", *, nbsp: bool = False) -> str:
    """``"+0.36 ± 1.30 (t = +0.3)"`` (paired mean ± standard error, points; ``, clear`` when the
    95 % interval excludes 0), ``"0 (reference)"`` for ``ref`` itself, ``"—"`` with < 2 seeds."""
    if arm == ref:
        return "0 (reference)"
    j = paired(results, arm, ref)
    if j is None:
        return "—"
    return (_keep(f"{j['mean']:+.2f} ± {j['sem']:.2f}", nbsp) + " "
            + _keep(f"(t = {j['t']:+.1f}{', clear' if j['clear'] else ''})", nbsp))


def _paper_gain(paper: Mapping[str, Sequence[float]], arm: str, ref: str) -> float | None:
    """The paper's top-1 accuracy of ``arm`` minus ``ref``'s (100 minus the error), in points."""
    return None if arm not in paper or ref not in paper else paper[ref][0] - paper[arm][0]


def study_table(results: Mapping[str, Any], study: str, *, ref: str | None = None,
                labels: Mapping[str, str] | None = None,
                extra: Mapping[str, Callable[[str], str]] | None = None,
                paper: Mapping[str, Sequence[float]] | None = None, nbsp: bool = True) -> str:
    """A Markdown table of ``study``: a row per arm (:func:`study_arms`) with our accuracy
    (:func:`acc_cell`) and the paired difference to ``ref`` (:func:`diff_cell`; default: the
    study's reference, SE).

    Args:
        labels: a name per arm (default: the arm's key).
        extra: more columns before ours, ``{title: function of the arm -> cell text}``.
        paper: the paper's ``(top-1 error, top-5 error)`` in % per arm, for two more columns
            (its errors, and its top-1 accuracy minus ``ref``'s); arms it lacks say so.
        nbsp: no-break spaces inside the numbers (narrow columns wrap between them).
    """
    ref = _reference(results, study, ref)
    labels, extra = dict(labels or {}), dict(extra or {})
    head = ["arm", *extra, "our accuracy (%)", f"ours − {labels.get(ref, ref)} (points)"]
    if paper is not None:
        head += ["paper: top-1 / top-5 error (%)", f"paper: top-1 accuracy − {labels.get(ref, ref)} (points)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm in study_arms(results, study):
        cells = [labels.get(arm, arm), *(f(arm) for f in extra.values()), acc_cell(results, arm, nbsp=nbsp),
                 diff_cell(results, arm, ref, nbsp=nbsp)]
        if paper is not None:
            if arm not in paper:
                cells += ["not in the paper", "—"]
            else:
                gain = _paper_gain(paper, arm, ref)
                cells += [f"{paper[arm][0]:.2f} / {paper[arm][1]:.2f}",
                          "0 (reference)" if arm == ref else ("—" if gain is None else f"{gain:+.2f}")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def verdict(results: Mapping[str, Any], study: str, *, ref: str | None = None,
            labels: Mapping[str, str] | None = None, paper: Mapping[str, Sequence[float]] | None = None) -> str:
    """What the numbers say about ``study``, in sentences: which arms are clearly better or worse
    than ``ref`` (their 95 % interval excludes 0), which are not, and, given ``paper`` (as for
    :func:`study_table`), whether our order of the arms is the paper's and whether our clear
    differences point the paper's way. The plain network is left out (it is no variant)."""
    ref = _reference(results, study, ref)
    labels = dict(labels or {})

    def name(arm: str) -> str:
        return labels.get(arm, arm)

    arms = [a for a in study_arms(results, study) if a != "plain" or ref == "plain"]
    judged = {a: j for a in arms if a != ref and (j := paired(results, a, ref)) is not None}
    if not judged:
        return f"No arm of this study has two seeds in common with {name(ref)} yet: nothing to judge."
    out = []
    clear = [a for a in judged if judged[a]["clear"]]
    unclear = [a for a in judged if not judged[a]["clear"]]
    for a in clear:
        j = judged[a]
        out.append(f"{name(a)} is clearly {'better' if j['mean'] > 0 else 'worse'} than {name(ref)}, "
                   f"by {abs(j['mean']):.1f} points (95 % interval {_span(j['low'], j['high'])}).")
    if unclear:
        out.append(f"{', '.join(name(a) for a in unclear)}: no clear difference from {name(ref)} "
                   f"(95 % intervals include 0).")
    if paper is not None:
        both = [a for a in [ref, *judged] if a in paper]
        if len(both) > 1 and ref in paper:
            ours = {a: 0.0 if a == ref else judged[a]["mean"] for a in both}
            pairs = [(a, b) for i, a in enumerate(both) for b in both[i + 1:]]
            same = sum((ours[a] - ours[b]) * (paper[b][0] - paper[a][0]) > 0 for a, b in pairs)
            order = lambda key: " > ".join(name(a) for a in sorted(both, key=key, reverse=True))
            out.append(f"Best to worst, ours: {order(lambda a: ours[a])}; the paper's: "
                       f"{order(lambda a: -paper[a][0])} ({same} of {len(pairs)} pairs in the same order).")
            if not clear:
                out.append(f"With no clear difference from {name(ref)}, our order may be chance.")
        agree = {a: gain for a in clear if (gain := _paper_gain(paper, a, ref)) is not None}
        if agree:
            hits = sum((judged[a]["mean"] > 0) == (gain > 0) for a, gain in agree.items())
            out.append(f"Of our clear differences with a paper counterpart, {hits} of {len(agree)} point "
                       "the paper's way.")
    return " ".join(out)


def format_sweep(results: Mapping[str, Any]) -> str:
    """A text table of a results file, for the terminal: per study and arm, accuracy (mean ±
    standard error over seeds), the paired difference to the study's reference (mean ± s.e.,
    points), parameters and FLOPs."""
    lines = []
    for study, spec in results["studies"].items():
        ref = _reference(results, study, None)
        source = "not in the paper" if spec["paper_table"] is None else f"paper Table {spec['paper_table']}"
        lines.append(f"{study} ({source})")
        for arm in [a for a in study_arms(results, study) if a in results["arms"]]:
            e, acc = results["arms"][arm], accuracy(results, arm)
            if acc is None:
                lines.append(f"  {arm:<18} (no runs yet)")
                continue
            d = paired(results, arm, ref)
            diff = "" if d is None else f"  vs {ref} {d['mean']:+.2f} ± {d['sem']:.2f}"
            lines.append(f"  {arm:<18} {acc['mean']:6.2f} ± {acc['sem']:.2f} % (n={acc['n']}){diff:<25}"
                         f"  {e['params']:>9,} params  {e['flops'] / 1e6:7.2f} MFLOPs")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# A paper's findings, judged
# --------------------------------------------------------------------------------------------

#: The three verdicts of :func:`judge_claim`.
HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
_EXPECT = ("better", "worse", "same")


@dataclass(frozen=True)
class Claim:
    """A finding of a paper as a comparison of two arms of a results file.

    Attributes:
        arm, ref: the arms compared (``arm`` minus ``ref``, paired by seed).
        expect: ``"better"`` or ``"worse"`` (the paper found ``arm`` ahead of or behind ``ref``)
            or ``"same"`` (about as good).
        text: the finding in words, as a table shows it.
        paper: the paper's own difference, ``arm`` minus ``ref`` in points, if it gives one.
    """

    arm: str
    ref: str
    expect: str
    text: str
    paper: float | None = None

    def __post_init__(self) -> None:
        if self.expect not in _EXPECT:
            raise ValueError(f"expect must be one of {_EXPECT}, got {self.expect!r}")
        for name in ("arm", "ref", "text"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty str, got {getattr(self, name)!r}")


def judge_claim(results: Mapping[str, Any], claim: Claim, *, margin: float = 1.0,
                level: float = 0.95, power: float = 0.8) -> dict[str, Any]:
    """What ``results`` says of ``claim``: :func:`paired` (``arm`` minus ``ref``) plus
    ``verdict`` (:data:`HOLDS`, :data:`FAILS`, :data:`UNDECIDED`, or ``None`` with fewer than 2
    shared seeds), ``reason`` (a phrase) and ``detectable`` (the true difference these seeds
    detect with probability ``power``, :func:`detectable_difference`; ``None`` without spread).

    A "better" or "worse" finding holds when the ``level`` interval excludes 0 on its side and
    does not hold when it excludes 0 on the other side. A "same" finding does not hold when the
    interval excludes 0, and holds only when the whole interval lies within ``±margin`` points:
    an interval that merely includes 0 is no evidence that two arms are alike. Anything else
    cannot be decided with these seeds.
    """
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
        raise ValueError(f"margin must be a positive number of points, got {margin!r}")
    j = paired(results, claim.arm, claim.ref, level)
    if j is None:
        return {"claim": claim, "verdict": None, "reason": "fewer than 2 seeds of both arms", "detectable": None}
    span = _span(j["low"], j["high"])
    detectable = detectable_difference(j["std"], j["n"], level=level, power=power) if j["std"] > 0 else None
    side = "better" if j["mean"] > 0 else "worse"
    if claim.expect == "same":
        if j["clear"]:
            verdict, reason = FAILS, f"clearly {side} here ({span})"
        elif -margin <= j["low"] and j["high"] <= margin:
            verdict, reason = HOLDS, f"within ±{margin:g} points ({span})"
        else:
            verdict, reason = UNDECIDED, f"no clear difference, but the interval ({span}) is wider than ±{margin:g}"
    elif j["clear"]:
        verdict = HOLDS if side == claim.expect else FAILS
        reason = f"clearly {side} here ({span})"
    else:
        lean = "points the finding's way" if side == claim.expect else "points the other way"
        verdict, reason = UNDECIDED, f"the interval ({span}) includes 0; the mean {lean}"
    return {**j, "claim": claim, "verdict": verdict, "reason": reason, "detectable": detectable}


def claims_table(results: Mapping[str, Any], claims: Sequence[Claim], *, margin: float = 1.0,
                 level: float = 0.95, group: Mapping[Claim, str] | None = None,
                 finding: str = "the paper's finding", reasons: bool = True, unbroken: bool = False,
                 detectable: bool = True) -> str:
    """A Markdown table of ``claims`` judged by ``results`` (:func:`judge_claim`): the finding
    (its column titled ``finding``), the paper's difference (a column only when a claim has one),
    ours (the paired mean with its interval), the difference these seeds detect at 80 % power
    (unless not ``detectable``), and the verdict (with its reason when ``reasons``). ``group`` puts a first column (e.g. the study);
    ``unbroken`` keeps each finding on one line (no-break spaces), for short findings in a narrow page."""
    group = dict(group or {})
    with_paper = any(c.paper is not None for c in claims)
    pct = round(100 * level)
    head = ((["study"] if group else []) + [finding] + (["paper (points)"] if with_paper else [])
            + [f"ours (points, {pct} % interval)"] + (["detectable (points)"] if detectable else []) + ["here"])
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in claims:
        j = judge_claim(results, c, margin=margin, level=level)
        if j["verdict"] is None:
            ours, det, here = "—", "—", "not run yet"
        else:
            ours = _keep(f"{j['mean']:+.1f}", True) + " " + _keep(f"({_span(j['low'], j['high'])})", True)
            det = "—" if j["detectable"] is None else f"{j['detectable']:.1f}"
            here = f"**{j['verdict']}**" + (f": {j['reason']}" if reasons else "")
        cells = (([group.get(c, "")] if group else []) + [_keep(c.text, unbroken).replace("-", "\u2011") if unbroken else c.text]
                 + (["—" if c.paper is None else f"{c.paper:+.2f}"] if with_paper else []) + [ours]
                 + ([det] if detectable else []) + [here])
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
