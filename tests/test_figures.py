"""senet_lib.figures: each plot draws (Agg backend), labels its axes, keeps text legible, and
rejects bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from senet_lib import figures as Fg  # noqa: E402
from senet_lib.gates import record_feature_maps, record_gates, saturation_by_block, specificity_by_block  # noqa: E402

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
    with pytest.raises(ValueError, match="non-empty"):
        Fg.plot_saturation({})
    with pytest.raises(ValueError, match="pair of fractions"):
        Fg.plot_saturation({"a": (1.5, 0.0)})
