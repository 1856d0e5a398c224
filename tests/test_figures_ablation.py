"""senet_lib.figures.plot_ablation: one study of a sweep, each arm minus the default SE arm."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math
import statistics

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text

from senet_lib.figures import MIN_FONT_SIZE, plot_ablation
from senet_lib.report import t_critical

ACC = {"plain": [0.60, 0.62, 0.58], "se": [0.70, 0.71, 0.69], "r2": [0.69, 0.72, 0.70], "r32": [0.66, 0.70]}


def sweep(acc=ACC):
    """A results dict with the layout of ``python -m senet_lib.experiments sweep``."""
    return {"studies": {"reduction": {"paper_table": 10, "arms": ["r2", "se", "r32"]}},
            "arms": {a: {"runs": [{"seed": i, "final_test_acc": v} for i, v in enumerate(vals)]}
                     for a, vals in acc.items()}}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_draws_every_seed_the_mean_interval_and_the_paper():
    ax = plot_ablation(sweep(), "reduction", paper={"r2": -0.01, "plain": -1.02},
                       labels={"plain": "no SE", "r2": "r = 2"}, title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["no SE", "r = 2", "r32"]
    assert ax.get_xlabel() and "default SE" in ax.get_ylabel()
    # per-seed markers: 3 (plain) + 3 (r2) + 2 (r32), at 100 * (arm - se) of the same seed
    seed_points = sorted(round(float(line.get_ydata()[0]), 6) for line in ax.lines
                         if line.get_color() == "0.55")
    # strict=False: r32 has seeds 0 and 1 only, each paired with se's run of the same seed
    want = sorted(round(100 * (a - s), 6) for arm in ("plain", "r2", "r32")
                  for a, s in zip(ACC[arm], ACC["se"], strict=False))
    assert seed_points == want
    # the mean bars with 95 % t intervals: one per arm with >= 2 seeds
    bars = [c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr]
    assert len(bars) == 3
    d = [100 * (a - s) for a, s in zip(ACC["r2"], ACC["se"], strict=True)]
    half = t_critical(2) * statistics.stdev(d) / math.sqrt(3)
    segs = bars[1].lines[2][0].get_segments()
    lo, hi = segs[0][:, 1]
    assert math.isclose(lo, statistics.fmean(d) - half, rel_tol=1e-9)
    assert math.isclose(hi, statistics.fmean(d) + half, rel_tol=1e-9)
    # the paper's diamonds, and a legend that names every kind of mark
    diamonds = [line for line in ax.lines if line.get_marker() == "D"]
    assert sorted(float(line.get_ydata()[0]) for line in diamonds) == [-1.02, -0.01]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"seed 0", "seed 1", "seed 2", "mean ± 95 % interval (t)", "paper (ImageNet)",
            "default SE (reference)"} <= set(legend)
    # r32 has two seeds (t = 12.71): its interval is cut at both edges of the y-axis, with arrowheads
    lo, hi = ax.get_ylim()
    heads = sorted((line.get_marker(), float(line.get_ydata()[0])) for line in ax.lines
                   if line.get_color() == "black" and line.get_marker() in ("^", "v")
                   and math.isclose(float(line.get_xdata()[0]), 2.1))      # r32's column
    assert heads == [("^", hi), ("v", lo)]
    assert "interval goes on beyond the axis" in legend
    assert lo < min(seed_points) and hi > max(seed_points)
    ax.figure.canvas.draw()
    sizes = [t.get_fontsize() for t in ax.figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert min(sizes) >= MIN_FONT_SIZE


def test_partial_sweeps_keep_their_columns():
    acc = {"plain": [0.6], "se": [0.7], "r2": [], "r32": [0.65]}
    _fig, ax = plt.subplots()
    assert plot_ablation(sweep(acc), "reduction", ax, legend=False) is ax
    assert len(ax.get_xticklabels()) == 3
    assert not [c for c in ax.containers if hasattr(c, "has_yerr")]      # one seed: no interval
    assert ax.get_legend() is None
    ys = [float(np.asarray(line.get_ydata())[0]) for line in ax.lines if line.get_color() == "0.55"]
    assert sorted(round(y, 6) for y in ys) == [-10.0, -5.0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="study must be one of"):
        plot_ablation(sweep(), "gates")
    with pytest.raises(ValueError, match="no arms"):
        res = sweep()
        del res["arms"]["r32"]
        plot_ablation(res, "reduction")
    with pytest.raises(ValueError, match="paper names arms"):
        plot_ablation(sweep(), "reduction", paper={"gate_relu": -1.2})
    with pytest.raises(TypeError, match="ax must be"):
        plot_ablation(sweep(), "reduction", ax="left")


# --- plot_overview: many studies on one axis --------------------------------------------------

def test_overview_draws_a_row_per_arm_with_its_interval_and_the_paper():
    from senet_lib.figures import plot_overview
    from senet_lib.report import paired

    res = sweep()
    ax = plot_overview(res, [("SE as a whole", ["plain"]), ("reduction", ["r2", "r32"])],
                       paper={"plain": -1.02}, labels={"plain": "no SE", "se": "default SE"}, title="t")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["no SE", "r2", "r32"]
    assert "default SE" in ax.get_xlabel()
    ticks = [t for t in ax.get_yticks()]
    assert ticks == sorted(ticks, reverse=True)                 # drawn top to bottom
    # each row's interval is the library's, and the one excluding 0 (plain) is drawn in colour
    bars = [c for c in ax.containers]
    assert len(bars) == 3
    for arm, bar in zip(["plain", "r2", "r32"], bars, strict=True):
        j = paired(res, arm, "se")
        (x,), _ = bar.lines[0].get_data()
        assert x == pytest.approx(j["mean"])
        seg = bar.lines[2][0].get_segments()[0]
        assert sorted(p[0] for p in seg) == pytest.approx([j["low"], j["high"]])
    assert bars[0].lines[0].get_color() != bars[1].lines[0].get_color()
    groups = [t.get_text() for t in ax.texts]
    assert groups == ["SE as a whole", "reduction"]
    labels = ax.figure.legends[0].get_texts()
    assert {t.get_text() for t in labels} >= {"one seed", "paper (ImageNet)"}
    assert min(t.get_fontsize() for t in [*ax.get_yticklabels(), *ax.texts, *labels]) >= MIN_FONT_SIZE


def test_overview_refuses_unknown_arms():
    from senet_lib.figures import plot_overview

    with pytest.raises(ValueError, match=r"results has no arms \['sk'\]"):
        plot_overview(sweep(), [("x", ["sk"])])
    with pytest.raises(ValueError, match="paper names arms"):
        plot_overview(sweep(), [("x", ["r2"])], paper={"r32": 1.0})
    with pytest.raises(ValueError, match="at least one arm"):
        plot_overview(sweep(), [("x", [])])
