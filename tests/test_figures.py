"""senet_lib.figures: each plot draws (Agg backend), labels its axes, keeps text legible, and
rejects bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text

from senet_lib import figures as Fg
from senet_lib.gates import record_feature_maps, record_gates, saturation_by_block, specificity_by_block

NAMES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def gates(model, images):
    return record_gates(model, images)


@pytest.fixture(scope="module")
def labels():
    return torch.arange(4).repeat_interleave(3)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _smallest_text(fig) -> float:
    """The smallest font size (pt) of any visible, non-empty text in ``fig``, once drawn."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes)


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_gate_heatmap(gates):
    g = gates["layer2.0.se"]
    ax = Fg.plot_gate_heatmap(g, row_labels=[str(i) for i in range(12)], title="t")
    assert ax.get_xlabel() == "channel" and ax.get_ylabel() == "image" and ax.get_title() == "t"
    assert ax.images[0].get_array().shape == (12, 32) and ax.images[0].get_clim() == (0, 1)
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "gate $s_c$"   # colour bar
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    _, into = plt.subplots()
    assert Fg.plot_gate_heatmap(g, into, colorbar=False) is into and len(into.figure.axes) == 1
    with pytest.raises(ValueError, match="row_labels"):
        Fg.plot_gate_heatmap(g, row_labels=["x"])
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        Fg.plot_gate_heatmap(g[0])
    with pytest.raises(TypeError, match="Axes"):
        Fg.plot_gate_heatmap(g, ax="left")


def test_class_excitations(gates, labels):
    g = gates["layer2.0.se"]
    ax = Fg.plot_class_excitations(g, labels, NAMES, classes=[0, 2], title="t")
    assert len(ax.lines) == 3 and ax.get_ylabel() == "mean excitation"
    assert ax.get_xlabel() == "channel index" and ax.get_ylim() == (0, 1)
    assert _legend_texts(ax) == ["a", "c", "all images"]
    # the class lines are told apart by style as well as colour (grey printing)
    assert len({line.get_linestyle() for line in ax.lines[:2]}) == 2
    torch.testing.assert_close(torch.as_tensor(ax.lines[0].get_ydata()), g[labels == 0].double().mean(0))
    torch.testing.assert_close(torch.as_tensor(ax.lines[-1].get_ydata()), g.double().mean(0))
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    ax = Fg.plot_class_excitations(g, labels, NAMES, channels=[5, 1], legend=False)
    assert len(ax.lines) == 5 and ax.get_legend() is None and len(ax.lines[0].get_xdata()) == 2
    assert ax.get_xlabel() == "channel (in the order shown)"
    with pytest.raises(ValueError, match="no images"):
        Fg.plot_class_excitations(g, labels, NAMES, classes=[7])
    with pytest.raises(ValueError, match="class_names"):
        Fg.plot_class_excitations(g, labels, NAMES[:2])
    with pytest.raises(ValueError, match="channels"):
        Fg.plot_class_excitations(g, labels, NAMES, channels=[32])
    with pytest.raises(ValueError, match="one label per row"):
        Fg.plot_class_excitations(g, labels[:4], NAMES)


def test_within_class(gates, labels):
    g = gates["layer2.0.se"]
    ax = Fg.plot_within_class(g, labels, NAMES, [1, 3], title="t")
    assert len(ax.lines) == 2 and len(ax.collections) == 2      # a mean line and a ±std band each
    assert ax.get_xlabel() == "channel index" and ax.get_ylabel() == "excitation"
    assert _legend_texts(ax) == ["b (mean ± std)", "d (mean ± std)"]
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    with pytest.raises(ValueError, match="no images"):
        Fg.plot_within_class(g, labels, NAMES, [9])
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_within_class(g, labels, NAMES, [])


def test_channel_maps(model, images):
    before, s, after = record_feature_maps(model, images[:1], "layer2.0.se")
    photo = images[0].sigmoid()
    fig = Fg.plot_channel_maps(photo, before[0], after[0], s[0], [0, 5], labels=["most", "least"])
    assert len(fig.axes) == 4 + 2           # 2 rows x 2 panels + a colour bar per row
    assert [a.get_title() for a in fig.axes[:2]] == ["channel 0: before", f"after (x gate {float(s[0, 0]):.2f})"]
    assert fig.axes[0].get_ylabel() == "most" and fig.axes[2].get_ylabel() == "least"
    assert all(cb.get_ylabel() == "activation" for cb in fig.axes[4:])
    assert _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    with pytest.raises(ValueError, match="channels"):
        Fg.plot_channel_maps(photo, before[0], after[0], s[0], [99])
    with pytest.raises(ValueError, match="photo"):
        Fg.plot_channel_maps(photo[0], before[0], after[0], s[0], [0])
    with pytest.raises(ValueError, match=r"\(C,\)"):
        Fg.plot_channel_maps(photo, before[0], after[0], s[0, :3], [0])
    with pytest.raises(ValueError, match="labels"):
        Fg.plot_channel_maps(photo, before[0], after[0], s[0], [0, 1], labels=["one"])


def test_specificity(gates, labels):
    spec = specificity_by_block(gates, labels)
    chance = {n: v / 2 for n, v in spec.items()}
    ax = Fg.plot_specificity(spec, chance, title="t")
    assert len(ax.lines) == 2 and ax.get_ylabel() == "class-specificity"
    assert ax.get_xlabel() == "SE block (input side to output side)"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(gates)
    assert list(ax.lines[1].get_ydata()) == list(chance.values())
    assert _legend_texts(ax) == ["true classes", "shuffled labels (chance)"]
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    assert len(Fg.plot_specificity(spec).lines) == 1
    with pytest.raises(ValueError, match="same blocks"):
        Fg.plot_specificity(spec, {"x": 1.0})
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_specificity({})


def test_saturation(gates):
    sat = saturation_by_block(gates)
    ax = Fg.plot_saturation(sat, title="t")
    assert len(ax.patches) == 2 * len(gates) and ax.get_ylabel() == "fraction of gates"
    assert ax.get_xlabel() == "SE block (input side to output side)"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(gates)
    assert _legend_texts(ax) == ["gate > 0.95", "gate < 0.05"]
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    assert not Fg.plot_saturation({"a": (0.2, 0.0)}).texts           # a bar to see: no note
    none = Fg.plot_saturation({"a": (0.0, 0.0), "b": (0.0, 0.0)})
    assert [t.get_text() for t in none.texts] == ["no gate above 0.95 or below 0.05\nin any block"]
    few = Fg.plot_saturation({"a": (0.0, 0.001), "b": (0.0, 0.0)})
    assert [t.get_text() for t in few.texts] == ["in every block, under 1 % of the gates\nare above 0.95 or below 0.05"]
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_saturation({})
    with pytest.raises(ValueError, match="pair of fractions"):
        Fg.plot_saturation({"a": (1.5, 0.0)})


def _panels_per_row(fig) -> int:
    """The largest number of visible axes whose tops are level (one row of the grid)."""
    fig.canvas.draw()
    tops = [round(ax.get_position().y1, 3) for ax in fig.axes if ax.get_visible()]
    return max(tops.count(t) for t in set(tops))


def test_images(images):
    photos = images[:5].sigmoid()
    fig = Fg.plot_images(photos, ["p0", "p1", "p2", "p3", "p4"], title="t")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 6 and len(shown) == 5              # a 2 x 3 grid, the sixth cell hidden
    assert [ax.get_title() for ax in shown] == ["p0", "p1", "p2", "p3", "p4"]
    assert all(len(ax.images) == 1 and not ax.get_xticks().size for ax in shown)
    assert shown[0].images[0].get_array().shape[:2] == tuple(photos.shape[2:])
    assert _panels_per_row(fig) == 3 and fig._suptitle.get_text() == "t"
    assert fig.get_figwidth() <= Fg.COLUMN_WIDTH
    assert _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    assert len(Fg.plot_images(photos[:2], ["a", "b"]).axes) == 2    # one row of two, nothing hidden
    with pytest.raises(ValueError, match="titles"):
        Fg.plot_images(photos, ["a"])
    with pytest.raises(ValueError, match="ncols"):
        Fg.plot_images(photos, list("abcde"), ncols=4)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        Fg.plot_images(photos[0], ["a", "b", "c"])


def test_class_excitations_grid(gates, labels):
    gates = {f"{n}/{k}": g for k in range(2) for n, g in gates.items()}     # 6 "blocks"
    blocks = list(gates)[:5]
    fig = Fg.plot_class_excitations_grid(gates, labels, NAMES, blocks, classes=[0, 1, 3], title="t")
    panels, legend_cell = fig.axes[:5], fig.axes[5]
    assert [ax.get_title() for ax in panels] == blocks and _panels_per_row(fig) == 3
    for ax, name in zip(panels, blocks, strict=True):            # three classes and the all-image mean each
        assert len(ax.lines) == 4 and ax.get_legend() is None
        torch.testing.assert_close(torch.as_tensor(ax.lines[-1].get_ydata()), gates[name].double().mean(0))
    assert [ax.get_ylabel() for ax in panels] == ["mean excitation", "", "", "mean excitation", ""]
    # one legend, in the free sixth cell, names every series and tells them apart by style too
    assert not legend_cell.axison and _legend_texts(legend_cell) == ["a", "b", "d", "all images"]
    styles = {(line.get_linestyle(), line.get_linewidth()) for line in legend_cell.get_legend().get_lines()}
    assert len(styles) == 4
    assert fig.get_figwidth() <= Fg.COLUMN_WIDTH and _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    # a full grid has no free cell: the legend goes below the panels, on the figure
    full = Fg.plot_class_excitations_grid(gates, labels, NAMES, blocks[:3])
    assert len(full.axes) == 3 and len(full.legends) == 1
    assert [t.get_text() for t in full.legends[0].get_texts()] == [*NAMES, "all images"]
    with pytest.raises(ValueError, match="unknown"):
        Fg.plot_class_excitations_grid(gates, labels, NAMES, ["nope"])
    with pytest.raises(ValueError, match="ncols"):
        Fg.plot_class_excitations_grid(gates, labels, NAMES, blocks, ncols=5)
    with pytest.raises(TypeError, match="mapping"):
        Fg.plot_class_excitations_grid(gates[blocks[0]], labels, NAMES, blocks)


def test_class_distances(gates, labels):
    from senet_lib.gates import class_separation

    sep = {n: class_separation(g, labels) for n, g in gates.items()}
    ax = Fg.plot_class_distances(sep, title="t")
    assert len(ax.lines) == 2 and ax.get_title() == "t"
    assert list(ax.lines[0].get_ydata()) == [s.between for s in sep.values()]
    assert list(ax.lines[1].get_ydata()) == [s.within for s in sep.values()]
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(gates)
    assert ax.get_xlabel() == "SE block (input side to output side)" and "gate units" in ax.get_ylabel()
    assert _legend_texts(ax) == ["between class means", "within a class (RMS)"]
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    pairs = Fg.plot_class_distances({"x": (0.2, 0.1), "y": (0.3, 0.1)})   # plain pairs work too
    assert list(pairs.lines[0].get_ydata()) == [0.2, 0.3]
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_class_distances({})
    with pytest.raises(ValueError, match="between"):
        Fg.plot_class_distances({"x": 0.5})


def test_gate_distribution(gates):
    ax = Fg.plot_gate_distribution(gates, title="t", low=0.1, high=0.9)
    medians = [line for line in ax.lines if line.get_linewidth() == 2]     # the medians are thicker
    assert len(medians) == len(gates)                           # one box (median line) per block
    for line, g in zip(medians, gates.values(), strict=True):
        assert line.get_ydata()[0] == pytest.approx(float(g.flatten().median()), abs=0.02)
    levels = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--")
    assert levels == [0.1, 0.9]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(gates)
    assert ax.get_ylabel() == "gate value" and ax.get_ylim() == (0, 1) and ax.get_title() == "t"
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    with pytest.raises(ValueError, match="low and high"):
        Fg.plot_gate_distribution(gates, low=0.9, high=0.1)
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_gate_distribution({})


# --- chapter 10 ---------------------------------------------------------------------------------

def test_gate_profiles():
    g = {"SE": torch.tensor([0.2, 0.9, 0.5]), "ECA": torch.tensor([0.4, 0.6, 0.1, 0.3])}
    ax = Fg.plot_gate_profiles(g, title="t")
    assert len(ax.lines) == 2 and ax.get_title() == "t"
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.9, 0.5, 0.2])      # sorted, largest first
    assert list(ax.lines[1].get_ydata()) == pytest.approx([0.6, 0.4, 0.3, 0.1])
    assert list(ax.lines[1].get_xdata()) == [0, 1, 2, 3]
    assert ax.get_ylim() == (0, 1) and "rank" in ax.get_xlabel() and ax.get_ylabel() == "gate"
    assert _legend_texts(ax) == ["SE (C = 3)", "ECA (C = 4)"]
    a, b = ax.lines
    assert a.get_linestyle() != b.get_linestyle() and a.get_marker() != b.get_marker()   # grey-safe
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_gate_profiles({})
    with pytest.raises(ValueError, match="1-D"):
        Fg.plot_gate_profiles({"SE": torch.ones(2, 3)})


def test_gate_maps():
    photo = torch.rand(3, 16, 24)
    blocky = torch.tensor([[0.1, 0.9], [0.5, 0.3]])
    fine = torch.full((16, 24), 0.4)
    fig = Fg.plot_gate_maps(photo, [blocky, fine], ["ge", "cbam"], title="t")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["photograph", "ge", "cbam"]
    assert _panels_per_row(fig) <= Fg.MAX_PANELS_PER_ROW and fig.get_figwidth() <= Fg.COLUMN_WIDTH
    assert len(panels[0].images) == 1 and panels[0].images[0].get_array().shape == (16, 24, 3)
    # each map over the grey photo: stretched by repetition to the photo's size, one colour scale
    under, over = panels[1].images
    assert under.get_cmap().name == "gray" and over.get_cmap().name == "viridis"
    arr = over.get_array()
    assert arr.shape == (16, 24) and arr[0, 0] == pytest.approx(0.1) and arr[-1, -1] == pytest.approx(0.3)
    assert arr[7, 11] == pytest.approx(0.1) and arr[8, 12] == pytest.approx(0.3)
    assert over.get_clim() == pytest.approx((0.1, 0.9)) == panels[2].images[1].get_clim()
    assert fig.axes[-1].get_ylabel() == "gate"                    # one colour bar, labelled
    assert fig._suptitle.get_text() == "t" and _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    many = Fg.plot_gate_maps(photo, [fine] * 4, list("abcd"), show_photo=False, vmin=0, vmax=1, label="x")
    assert _panels_per_row(many) == 3 and many.axes[-1].get_ylabel() == "x"
    assert [ax.images[1].get_clim() for ax in many.axes[:4]] == [(0, 1)] * 4
    with pytest.raises(ValueError, match="titles"):
        Fg.plot_gate_maps(photo, [fine], ["a", "b"])
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        Fg.plot_gate_maps(photo, [torch.ones(1, 2, 2)], ["a"])
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        Fg.plot_gate_maps(photo[0], [fine], ["a"])


def _bench_entry(network, ratios, cis, batch=1):
    return {"network": network, "batch": batch, "ratio": ratios, "ratio_ci95": cis}


def test_latency_ratios():
    small = _bench_entry("small", {"se": 1.1, "eca": 1.05}, {"se": [1.0, 1.2], "eca": [0.95, 9.0]}, batch=32)
    big = _bench_entry("big", {"se": 1.3, "eca": 1.2}, {"se": [1.25, 1.35], "eca": [1.1, 1.3]})
    ax = Fg.plot_latency_ratios([small, big], labels={"se": "SE", "eca": "ECA"}, title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SE", "ECA"]
    # one marker per network and block, at the median ratio
    points = [c for c in ax.containers]
    assert len(points) == 4
    ys = sorted(float(c.lines[0].get_ydata()[0]) for c in points)
    assert ys == pytest.approx(sorted([1.1, 1.05, 1.3, 1.2]))
    markers = {c.lines[0].get_marker() for c in points}
    assert len(markers) == 2                                       # the networks differ by shape
    bottom, top = ax.get_ylim()
    assert bottom <= 0.9 and top == pytest.approx(1.35 * 1.3)    # eca's interval to 9 is cut ...
    texts = _legend_texts(ax)
    assert "interval goes on beyond the axis" in texts           # ... and marked
    assert "small, batch 32" in texts and "big, batch 1" in texts and "plain network (1)" in texts
    assert any(line.get_ydata()[0] == 1.0 and line.get_linestyle() == ":" for line in ax.lines)
    assert ax.get_xlabel() == "block" and "latency" in ax.get_ylabel()
    assert _smallest_text(ax.figure) >= Fg.MIN_FONT_SIZE
    only = Fg.plot_latency_ratios([big], kinds=["eca"])
    assert len(only.containers) == 1 and "interval goes on beyond the axis" not in _legend_texts(only)
    with pytest.raises(ValueError, match="missing"):
        Fg.plot_latency_ratios([small], kinds=["cbam"])
    with pytest.raises(ValueError, match="non-empty list"):
        Fg.plot_latency_ratios(small)
    with pytest.raises(ValueError, match="ratio_ci95"):
        Fg.plot_latency_ratios([{"network": "x", "ratio": {}}])


def test_se_block_figure():
    """Chapter 1's picture of the block: the example's shapes, the bottleneck's width, gates as colours."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Polygon, Rectangle

    fig = Fg.plot_se_block(32, 56, 56, 16)
    texts = [t.get_text() for t in fig.findobj(Text) if t.get_visible()]
    assert texts.count("32 × 56 × 56") == 2 and texts.count("32 × 1 × 1") == 2     # u, x~ and z, s
    assert any("FC 32→2" in t and "FC 2→32" in t for t in texts)                  # max(1, 32 // 16) units
    assert fig.get_size_inches()[0] == pytest.approx(Fg.COLUMN_WIDTH)
    assert _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    assert len(fig.axes) == 1                                                       # no colour bar without gates
    # one unit, never zero: the zero-width pitfall of chapter 1 does not reach the picture
    texts = [t.get_text() for t in Fg.plot_se_block(3, 224, 224, 16).findobj(Text)]
    assert any("FC 3→1" in t for t in texts) and any(t == "3 × 224 × 224" for t in texts)

    # with gates: s and the output's slabs take the gate's viridis colour, channel by channel
    gates = torch.linspace(0.0, 1.0, 8)
    fig = Fg.plot_se_block(8, 5, 7, 2, gates=gates)
    assert len(fig.axes) == 2 and "gate" in fig.axes[1].get_xlabel()              # the colour bar
    viridis = plt.get_cmap("viridis")
    drawn = {tuple(round(v, 6) for v in p.get_facecolor()) for p in fig.axes[0].patches
             if isinstance(p, (Polygon, Rectangle)) and p.get_fill()}
    for g in gates.tolist():
        assert tuple(round(v, 6) for v in to_rgba(viridis(g))) in drawn
    assert _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    # many channels: at most 64 slabs, each the mean gate of its group
    fig = Fg.plot_se_block(256, 14, 14, 16, gates=torch.full((256,), 0.25))
    faces = [p for p in fig.axes[0].patches if isinstance(p, Polygon) and p.get_fill()]
    assert len(faces) == 4 * 2 * 64                                                  # 4 boxes, 2 faces a slab

    with pytest.raises(TypeError, match="channels"):
        Fg.plot_se_block(2.5, 56, 56)
    with pytest.raises(ValueError, match="height"):
        Fg.plot_se_block(32, 0, 56)
    with pytest.raises(ValueError, match=r"shape \(32,\)"):
        Fg.plot_se_block(32, 56, 56, gates=torch.rand(1, 32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Fg.plot_se_block(32, 56, 56, gates=torch.rand(32) + 1)


def test_class_excitations_draw_the_overall_mean_beneath_the_classes(gates, labels):
    """Where the class curves coincide with the all-image mean, they stay visible on top of it."""
    ax = Fg.plot_class_excitations(gates["layer2.0.se"], labels, NAMES)
    *classes, overall = ax.lines
    assert all(overall.get_zorder() < line.get_zorder() for line in classes)
    assert overall.get_linewidth() > max(line.get_linewidth() for line in classes)


def test_paired_runs():
    """Chapter 6's figure: both models' curves, the paired difference with its t interval, the last epoch."""
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(0)
    a = 50 + np.cumsum(rng.uniform(0, 3, (5, 6)), axis=1)
    b = a + rng.normal(2, 1, (5, 6))
    fig = Fg.plot_paired_runs(a, b, range(1, 7), labels=("plain", "SE"), seeds=[3, 4, 5, 6, 7])
    top, left, right = fig.axes
    assert fig.get_size_inches()[0] == pytest.approx(Fg.COLUMN_WIDTH)
    assert _smallest_text(fig) >= Fg.MIN_FONT_SIZE
    for ax in (top, left, right):            # every quantitative axis has tick labels and a label
        assert ax.get_ylabel() and any(t.get_text() for t in ax.get_yticklabels())
    for ax in (top, left):
        assert ax.get_xlabel() == "epoch" and any(t.get_text() for t in ax.get_xticklabels())
    assert [t.get_text() for t in right.get_xticklabels()] == ["plain", "SE"]
    # top: 5 thin lines and one mean per model, each model with its own colour, style and marker
    means = [line for line in top.lines if line.get_linewidth() > 2]
    assert len(top.lines) == 12 and len(means) == 2
    assert len({m.get_color() for m in means}) == len({m.get_linestyle() for m in means}) == 2
    assert means[0].get_marker() != means[1].get_marker()
    np.testing.assert_allclose(means[1].get_ydata(), b.mean(0))
    # left: the mean paired difference and its 95 % t interval
    d = b - a
    half = stats.t.ppf(0.975, 4) * d.std(0, ddof=1) / np.sqrt(5)
    mean_line = next(line for line in left.lines if line.get_label() == "mean of the seeds")
    np.testing.assert_allclose(mean_line.get_ydata(), d.mean(0))
    band = left.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx((d.mean(0) - half).min()) and band.max() == pytest.approx((d.mean(0) + half).max())
    # right: one line per seed from plain's last value to SE's, labelled with its seed, then the mean
    assert _legend_texts(right) == [f"seed {s}" for s in (3, 4, 5, 6, 7)] + ["mean"]
    np.testing.assert_allclose(right.lines[0].get_ydata(), [a[0, -1], b[0, -1]])
    # legends sit outside the axes, where they cover no data
    fig.canvas.draw()
    for ax in (top, left, right):
        box, frame = ax.get_legend().get_window_extent(), ax.get_window_extent()
        assert box.y1 <= frame.y0 + 1

    with pytest.raises(ValueError, match="same"):
        Fg.plot_paired_runs(a, b[:, :3], range(1, 7))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        Fg.plot_paired_runs(a[:1], b[:1], range(1, 7))
    with pytest.raises(ValueError, match="epochs"):
        Fg.plot_paired_runs(a, b, range(3))
    with pytest.raises(ValueError, match="NaN"):
        Fg.plot_paired_runs(a, np.where(b > 60, np.nan, b), range(1, 7))
    with pytest.raises(ValueError, match="seeds"):
        Fg.plot_paired_runs(a, b, range(1, 7), seeds=[0])
    with pytest.raises(ValueError, match="labels"):
        Fg.plot_paired_runs(a, b, range(1, 7), labels=("only one",))
    with pytest.raises(ValueError, match="array of numbers"):
        Fg.plot_paired_runs("abc", b, range(1, 7))
