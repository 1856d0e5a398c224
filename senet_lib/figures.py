"""The figures the chapters share, one function each.

**Policy.** A chapter's figure is a call to a function here, unless drawing it is what the
chapter teaches (then the chapter draws it in full, in the open). Every figure must be legible
at the book's page width: at most three panels in a row (:data:`MAX_PANELS_PER_ROW`), a figure
no wider than :data:`COLUMN_WIDTH`, no text smaller than 9 pt (:data:`MIN_FONT_SIZE`), a legend that
tells every series apart (colour *and* line style or marker, so it survives grey printing),
every axis labelled, and an interval drawn wherever a spread was measured. Colour maps are
grey-safe (``viridis``, ``cividis``, ``gray``).

Each function draws into the axes ``ax`` it is given (or a new figure's) and returns them, so
a chapter can arrange panels and add a title; :func:`plot_channel_maps` makes its own grid and
returns the figure.

* The SE block itself, labelled with an example's shapes (the paper's Fig. 1): :func:`plot_se_block`.
* Images in a grid, at most three to a row, each with its title: :func:`plot_images`.
* Gates of one SE block (``(N, C)``, from :func:`senet_lib.gates.record_gates`):
  :func:`plot_gate_heatmap`, :func:`plot_class_excitations` (the paper's Fig. 6),
  :func:`plot_within_class` (Fig. 7); Fig. 6 for several blocks, one legend for all:
  :func:`plot_class_excitations_grid`.
* Feature maps entering and leaving a block, over the photo: :func:`plot_channel_maps`.
* One number per block against depth: :func:`plot_specificity`, :func:`plot_saturation`,
  :func:`plot_class_distances`; every gate of every block: :func:`plot_gate_distribution`.
* An ablation study of a sweep, each arm against the default SE arm, seed by seed:
  :func:`plot_ablation`.
* Two models trained with the same seeds, their curves and paired difference epoch by epoch
  (chapter 6): :func:`plot_paired_runs`.

matplotlib is imported inside the functions: this module is imported by chapters, never by
the package's ``__init__``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from . import _checks

if TYPE_CHECKING:
    from matplotlib.typing import ColorType

__all__ = [
    "MIN_FONT_SIZE", "MAX_PANELS_PER_ROW", "COLUMN_WIDTH", "plot_images", "plot_gate_heatmap",
    "plot_class_excitations", "plot_class_excitations_grid", "plot_within_class",
    "plot_channel_maps", "plot_specificity", "plot_saturation", "plot_class_distances",
    "plot_gate_distribution", "plot_ablation", "plot_overview",
]

#: The smallest font size (points) any figure of the book may use.
MIN_FONT_SIZE: float = 9.0

#: The most panels a figure puts side by side (more would shrink below legibility in the column).
MAX_PANELS_PER_ROW: int = 3

#: Width (inches) of a figure that fills the rendered text column (about 688 px) without being
#: scaled down: notebooks draw inline figures at about 100 dpi, so a font size set here is the
#: size read on the page.
COLUMN_WIDTH: float = 6.8

_STYLES = ("-", "--", ":", "-.")


def _ax(ax):
    """``ax``, or the axes of a new figure of the book's default size."""
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=(7, 3), layout="constrained")[1]
    if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _title(ax, title: str) -> None:
    if title:
        ax.set_title(title)


def _class_means(gates: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(classes (K,), means (K, C), standard deviations (K, C))`` of the gates per class."""
    gates = _checks.gate_matrix("gates", gates).double()
    labels = _checks.class_labels(labels, gates.shape[0])
    classes = labels.unique()
    means = torch.stack([gates[labels == k].mean(0) for k in classes])
    stds = torch.stack([gates[labels == k].std(0, unbiased=False) for k in classes])
    return classes, means, stds


def _chosen_classes(name: str, classes: Sequence[int] | None, present: torch.Tensor,
                    class_names: Sequence[str]) -> list[int]:
    """The classes to draw (all present ones if ``None``), each present and named."""
    index = [int(k) for k in present]
    chosen = index if classes is None else [int(k) for k in classes]
    unknown = [k for k in chosen if k not in index]
    if unknown or not chosen:
        raise ValueError(f"{name} must be a non-empty list of labels that have images; "
                         f"classes {unknown or chosen} have no images; present: {index}")
    unnamed = [k for k in chosen if not 0 <= k < len(class_names)]
    if unnamed:
        raise ValueError(f"class_names has {len(class_names)} names, none for classes {unnamed}")
    return chosen


def _grid(n: int, ncols: int) -> tuple[int, int]:
    """``(rows, columns)`` for ``n`` panels, at most ``ncols`` (<= 3) to a row."""
    if isinstance(ncols, bool) or not isinstance(ncols, int) or not 1 <= ncols <= MAX_PANELS_PER_ROW:
        raise ValueError(f"ncols must be an int from 1 to {MAX_PANELS_PER_ROW}, got {ncols!r}")
    cols = min(ncols, n)
    return -(-n // cols), cols


def plot_images(images: torch.Tensor, titles: Sequence[str], *, ncols: int = 3,
                panel_width: float = 1.8, title: str = ""):
    """Images ``(N, 3, H, W)`` in ``[0, 1]`` in a grid, at most ``ncols`` (<= 3) to a row.

    Each panel shows one image without ticks, titled with ``titles[i]``; ``panel_width`` is the
    width of one panel in inches. Returns the figure (its first ``N`` axes are the panels,
    in order; unused cells of the last row are hidden).
    """
    import matplotlib.pyplot as plt

    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be an (N, 3, H, W) tensor, got {getattr(images, 'shape', images)!r}")
    if len(titles) != images.shape[0] or images.shape[0] == 0:
        raise ValueError(f"titles has {len(titles)} entries for {images.shape[0]} images (one each, at least one)")
    rows, cols = _grid(images.shape[0], ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel_width * cols, (panel_width + 0.35) * rows),
                             squeeze=False, layout="constrained")
    flat = axes.ravel()
    for ax, img, name in zip(flat, images, titles, strict=False):  # the grid may have spare cells
        ax.imshow(img.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
        ax.set_title(name, fontsize=MIN_FONT_SIZE + 1)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in flat[images.shape[0]:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def plot_gate_heatmap(gates: torch.Tensor, ax=None, *, row_labels: Sequence[str] | None = None,
                      title: str = "", colorbar: bool = True):
    """Gates ``(N, C)`` as an image: one row per image, one column per channel (viridis, 0 to 1).

    ``row_labels`` names the rows (one per image); with ``colorbar`` the colour bar is labelled
    with the gate. Returns the axes.
    """
    gates = _checks.gate_matrix("gates", gates)
    if row_labels is not None and len(row_labels) != gates.shape[0]:
        raise ValueError(f"row_labels has {len(row_labels)} entries for {gates.shape[0]} rows of gates")
    ax = _ax(ax)
    im = ax.imshow(gates.detach().cpu().numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   interpolation="nearest")
    ax.set_xlabel("channel")
    ax.set_ylabel("image")
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    _title(ax, title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="gate $s_c$")
    return ax


def plot_class_excitations(gates: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                           ax=None, *, classes: Sequence[int] | None = None,
                           channels: Sequence[int] | None = None, title: str = "",
                           legend: bool = True):
    """Mean excitation per channel for each class, and the mean over all images (paper, Fig. 6).

    Args:
        gates: ``(N, C)``; labels: ``(N,)`` indices into ``class_names``.
        classes: which classes to draw (default all); the all-image mean always uses every image.
        channels: which channels, in order (default all).
        legend: draw the legend (turn off on all but one of several panels sharing it).

    Returns the axes; the last line is the all-image mean (thick, light grey, drawn beneath the
    class lines so that they stay visible where they coincide with it).
    """
    import matplotlib.pyplot as plt

    present, means, _ = _class_means(gates, labels)
    chosen = _chosen_classes("classes", classes, present, class_names)
    ch = list(range(gates.shape[1])) if channels is None else [int(c) for c in channels]
    bad = [c for c in ch if not 0 <= c < gates.shape[1]]
    if bad or not ch:
        raise ValueError(f"channels must be a non-empty list of indices below {gates.shape[1]}, got {ch}")
    row = {int(k): i for i, k in enumerate(present)}
    ax = _ax(ax)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(chosen)))
    x = np.arange(len(ch))
    for j, k in enumerate(chosen):
        ax.plot(x, means[row[k], ch].numpy(), _STYLES[j % len(_STYLES)], color=colours[j], lw=1.2,
                label=class_names[k])
    ax.plot(x, gates.detach().double().mean(0)[ch].cpu().numpy(), color="0.72", lw=3.4,
            zorder=1.5, label="all images")     # under the class lines (zorder 2)
    ax.set_xlabel("channel index" if channels is None else "channel (in the order shown)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel("mean excitation")
    ax.set_ylim(0, 1)
    if legend:
        ax.legend(loc="lower left", fontsize=MIN_FONT_SIZE)
    _title(ax, title)
    return ax


def plot_class_excitations_grid(gates: Mapping[str, torch.Tensor], labels: torch.Tensor,
                                class_names: Sequence[str], blocks: Sequence[str], *,
                                classes: Sequence[int] | None = None, ncols: int = 3,
                                panel_size: tuple[float, float] = (2.25, 2.2), title: str = ""):
    """The paper's Fig. 6 for several blocks: :func:`plot_class_excitations`, one panel per block.

    Args:
        gates: ``{block name: (N, C)}`` (from :func:`senet_lib.gates.record_gates`).
        labels, class_names, classes: as in :func:`plot_class_excitations`.
        blocks: the blocks to draw, in order, one panel each (titled with the block's name).
        ncols: panels per row, at most :data:`MAX_PANELS_PER_ROW`.
        panel_size: ``(width, height)`` of one panel in inches; the default makes three panels
            fill the text column.

    The panels share the y-axis (mean excitation, 0 to 1). One legend names every series (each
    class with its own colour *and* line style, the all-image mean thick and light grey), with long
    line samples so that the styles can be told apart: in the first free cell of the grid, or
    below the panels when the grid is full. Returns the figure; its first ``len(blocks)`` axes
    are the panels.
    """
    import matplotlib.pyplot as plt

    if not isinstance(gates, Mapping):
        raise TypeError(f"gates must be a {{block name: (N, C) gates}} mapping, got {type(gates).__name__}")
    blocks = list(blocks)
    unknown = [b for b in blocks if b not in gates]
    if unknown or not blocks:
        raise ValueError(f"blocks must be a non-empty list of names in gates; unknown: {unknown}, "
                         f"known: {list(gates)}")
    cols = _grid(len(blocks), ncols)[1]
    spare = len(blocks) % cols != 0                     # a free cell for the legend
    rows = -(-len(blocks) // cols)
    w, h = panel_size
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows + (0 if spare else 0.7)),
                             squeeze=False, sharey=True, layout="constrained")
    flat = axes.ravel()
    for i, (ax, name) in enumerate(zip(flat, blocks, strict=False)):  # the grid may have spare cells
        plot_class_excitations(gates[name], labels, class_names, ax, classes=classes, title=name,
                               legend=False)
        if i % cols:
            ax.set_ylabel("")
    handles, texts = flat[0].get_legend_handles_labels()
    style = dict(fontsize=MIN_FONT_SIZE + 1, handlelength=3.5, title="class")
    if spare:
        free = flat[len(blocks)]
        free.axis("off")
        free.legend(handles, texts, loc="center", **style)
        for ax in flat[len(blocks) + 1:]:
            ax.set_visible(False)
    else:
        fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 3), **style)
    if title:
        fig.suptitle(title)
    return fig


def plot_within_class(gates: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                      classes: Sequence[int], ax=None, *, title: str = "", legend: bool = True):
    """Mean ± standard deviation of each channel's gate within the given classes (paper, Fig. 7).

    One line (the mean) and one shaded band (± one standard deviation over the class's images)
    per class; ``legend`` as in :func:`plot_class_excitations`. Returns the axes.
    """
    import matplotlib.pyplot as plt

    present, means, stds = _class_means(gates, labels)
    chosen = _chosen_classes("classes", classes, present, class_names)
    row = {int(k): i for i, k in enumerate(present)}
    ax = _ax(ax)
    x = np.arange(gates.shape[1])
    colours = plt.get_cmap("cividis")(np.linspace(0.1, 0.85, len(chosen)))
    for j, k in enumerate(chosen):
        m, s = means[row[k]].numpy(), stds[row[k]].numpy()
        ax.plot(x, m, _STYLES[j % len(_STYLES)], color=colours[j], lw=1.4,
                label=f"{class_names[k]} (mean ± std)")
        ax.fill_between(x, m - s, m + s, color=colours[j], alpha=0.3, lw=0)
    ax.set_xlabel("channel index")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))   # channels are whole numbers
    ax.set_ylabel("excitation")
    ax.set_ylim(0, 1)
    if legend:
        ax.legend(loc="lower left", fontsize=MIN_FONT_SIZE)
    _title(ax, title)
    return ax


def plot_channel_maps(photo: torch.Tensor, before: torch.Tensor, after: torch.Tensor,
                      gates: torch.Tensor, channels: Sequence[int], *, labels: Sequence[str] | None = None,
                      alpha: float = 0.6):
    """Feature maps of some channels before and after rescaling, overlaid on the photo.

    Args:
        photo: ``(3, H, W)`` in ``[0, 1]`` (shown in grey underneath).
        before, after: ``(C, h, w)``: one image's feature maps entering and leaving the SE block.
        gates: ``(C,)``, that image's gates.
        channels: the channels to show, one row each.
        labels: a label for each row (e.g. "most amplified").
        alpha: opacity of the maps over the photo, in ``(0, 1]``.

    Each row uses one colour scale for both maps, so a suppressed channel looks dimmer after
    rescaling. Returns the figure (``len(channels)`` rows of two panels, and a colour bar
    per row).
    """
    import matplotlib.pyplot as plt

    if not isinstance(photo, torch.Tensor) or photo.dim() != 3 or photo.shape[0] != 3:
        raise ValueError(f"photo must be a (3, H, W) tensor, got {getattr(photo, 'shape', photo)!r}")
    for nm, t in (("before", before), ("after", after)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            raise ValueError(f"{nm} must be a (C, h, w) tensor, got {getattr(t, 'shape', t)!r}")
    if not isinstance(gates, torch.Tensor) or before.shape != after.shape or gates.shape != (before.shape[0],):
        raise ValueError(f"before {tuple(before.shape)}, after {tuple(after.shape)} and gates "
                         f"{tuple(getattr(gates, 'shape', ()))} must be (C, h, w), (C, h, w) and (C,)")
    channels = [int(c) for c in channels]
    bad = [c for c in channels if not 0 <= c < before.shape[0]]
    if bad or not channels:
        raise ValueError(f"channels must be a non-empty list of indices below {before.shape[0]}, got {channels}")
    if labels is not None and len(labels) != len(channels):
        raise ValueError(f"labels has {len(labels)} entries for {len(channels)} channels")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    h, w = photo.shape[1:]
    grey = photo.detach().mean(0).cpu().numpy()

    def up(m: torch.Tensor) -> np.ndarray:   # (h, w) -> (H, W), to lie over the photo
        return F.interpolate(m.detach()[None, None].float(), size=(h, w), mode="bilinear",
                             align_corners=False)[0, 0].cpu().numpy()

    fig, axes = plt.subplots(len(channels), 2, figsize=(5.6, 2.5 * len(channels)), squeeze=False,
                             layout="constrained")
    for r, c in enumerate(channels):
        lo = float(min(before[c].min(), after[c].min()))
        hi = float(max(before[c].max(), after[c].max()))
        for col, m in enumerate((before[c], after[c])):
            ax = axes[r, col]
            ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
            im = ax.imshow(up(m), cmap="viridis", vmin=lo, vmax=hi, alpha=alpha)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_title(f"channel {c}: before", fontsize=MIN_FONT_SIZE)
        axes[r, 1].set_title(f"after (x gate {float(gates[c]):.2f})", fontsize=MIN_FONT_SIZE)
        if labels:
            axes[r, 0].set_ylabel(labels[r])
        fig.colorbar(im, ax=axes[r].tolist(), label="activation", shrink=0.9)
    return fig


def _block_axis(ax, names: Sequence[str]) -> None:
    """Block names along x, input side first, at the smallest legible size."""
    ax.set_xticks(range(len(names)), labels=list(names), rotation=60, ha="right",
                  fontsize=MIN_FONT_SIZE)
    ax.set_xlabel("SE block (input side to output side)")


def plot_specificity(specificity: Mapping[str, float], chance: Mapping[str, float] | None = None,
                     ax=None, *, title: str = ""):
    """Class-specificity of each block against depth, with the shuffled-label level if given.

    ``specificity`` and ``chance`` map block names (in depth order) to
    :func:`senet_lib.gates.class_specificity` values. Returns the axes.
    """
    if not isinstance(specificity, Mapping) or not specificity:
        raise ValueError(f"specificity must be a non-empty {{block name: value}} mapping, got {specificity!r:.60}")
    names = list(specificity)
    if chance is not None and (not isinstance(chance, Mapping) or set(chance) != set(names)):
        got = sorted(chance) if isinstance(chance, Mapping) else type(chance).__name__
        raise ValueError(f"chance must have the same blocks as specificity ({names}), got {got}")
    ax = _ax(ax)
    x = np.arange(len(names))
    ax.plot(x, [specificity[n] for n in names], "o-", color="black", label="true classes")
    if chance is not None:
        ax.plot(x, [chance[n] for n in names], "s--", color="0.6", label="shuffled labels (chance)")
    _block_axis(ax, names)
    ax.set_ylabel("class-specificity")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize=MIN_FONT_SIZE)   # where it hides the fewest points
    _title(ax, title)
    return ax


def plot_saturation(sat: Mapping[str, tuple[float, float]], ax=None, *, title: str = "",
                    high: float = 0.95, low: float = 0.05):
    """Fractions of gates above ``high`` and below ``low`` per block, as grouped bars.

    ``sat`` maps block names (in depth order) to ``(frac_high, frac_low)`` from
    :func:`senet_lib.gates.saturation_by_block` (computed with the same ``high`` and ``low``,
    which only label the bars here). When every fraction is below 1 % (no visible bar), the axes say so in words. Returns
    the axes.
    """
    if not isinstance(sat, Mapping) or not sat:
        raise ValueError(f"sat must be a non-empty {{block name: (frac_high, frac_low)}} mapping, got {sat!r:.60}")
    bad = [n for n, v in sat.items() if len(tuple(v)) != 2 or not all(0.0 <= float(f) <= 1.0 for f in v)]
    if bad:
        raise ValueError(f"sat[name] must be a pair of fractions in [0, 1]; not so for {bad}")
    names = list(sat)
    ax = _ax(ax)
    x = np.arange(len(names))
    ax.bar(x - 0.2, [sat[n][0] for n in names], 0.4, color="0.2", label=f"gate > {high}")
    ax.bar(x + 0.2, [sat[n][1] for n in names], 0.4, color="0.7", edgecolor="black", lw=0.5,
           hatch="//", label=f"gate < {low}")
    _block_axis(ax, names)
    ax.set_ylabel("fraction of gates")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    largest = max(float(f) for v in sat.values() for f in v)
    if largest < 0.01:   # no bar to see: say so in words, rather than show an empty plot
        note = (f"no gate above {high} or below {low}\nin any block" if largest == 0 else
                f"in every block, under 1 % of the gates\nare above {high} or below {low}")
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=MIN_FONT_SIZE + 1)
    _title(ax, title)
    return ax


_SEED_MARKERS = ("o", "s", "^", "v", "<", ">", "P", "X")


def plot_ablation(results: Mapping, study: str, ax=None, *, paper: Mapping[str, float] | None = None,
                  labels: Mapping[str, str] | None = None, title: str = "", legend: bool = True):
    """One study of an ablation sweep: each arm's accuracy minus the default SE arm's, seed by seed.

    Args:
        results: a sweep results dict (``python -m senet_lib.experiments sweep``, read with
            ``load_results``): ``results["studies"][study]["arms"]`` names the arms, and
            ``results["arms"][arm]["runs"]`` holds ``{"seed", "final_test_acc"}`` (a fraction).
        study: a key of ``results["studies"]``.
        paper: the paper's difference for some arms, in points of top-1 accuracy (arm minus
            its default SE); drawn as hollow diamonds. Arms without a number get none.
        labels: a tick label per arm (default: the arm's name).
        legend: draw the legend (below the axes, in three columns).

    One column per arm: the plain network first, then the study's arms except ``"se"`` itself
    (the reference, the dotted line at 0). For every seed that both the arm and ``"se"`` ran,
    one grey marker (one marker shape per seed) at ``100 * (acc_arm - acc_se)``; with two or
    more seeds, a black bar at the mean and a 95 % interval ``mean ± t * s / sqrt(n)`` (Student's
    ``t`` for ``n - 1`` degrees of freedom, :func:`senet_lib.report.t_critical`). Arms
    without runs keep their column, empty. The y-axis spans the markers and means; an interval
    that reaches beyond it is cut at the edge, where a black arrowhead shows it goes on (with
    two seeds, ``t = 12.7``, intervals are wider than any difference). Returns the axes.
    """
    from .report import t_critical

    studies = results.get("studies", {}) if isinstance(results, Mapping) else {}
    if study not in studies:
        raise ValueError(f"study must be one of {list(studies)}, got {study!r}")
    arms = ["plain", *[a for a in studies[study]["arms"] if a != "se"]]
    missing = [a for a in ["se", *arms] if a not in results["arms"]]
    if missing:
        raise ValueError(f"results has no arms {missing} (study {study!r} needs them)")
    paper = dict(paper or {})
    labels = dict(labels or {})
    unknown = sorted(set(paper) - set(arms))
    if unknown:
        raise ValueError(f"paper names arms {unknown} that are not drawn for study {study!r}: {arms}")
    se_acc = {r["seed"]: r["final_test_acc"] for r in results["arms"]["se"]["runs"]}
    seeds = sorted({r["seed"] for a in arms for r in results["arms"][a]["runs"] if r["seed"] in se_acc})
    ax = _ax(ax)
    x = np.arange(len(arms))
    drawn_seeds, drawn_mean, drawn_paper = set(), False, False
    shown, bars = [0.0], []            # values the y-axis must show; (x, low, high) of intervals
    for i, arm in enumerate(arms):
        d = {r["seed"]: 100 * (r["final_test_acc"] - se_acc[r["seed"]])
             for r in results["arms"][arm]["runs"] if r["seed"] in se_acc}
        for seed, v in sorted(d.items()):
            k = seeds.index(seed)
            offset = 0.24 * (k - (len(seeds) - 1) / 2) / max(1, len(seeds) - 1)
            ax.plot(i - 0.16 + offset, v, _SEED_MARKERS[k % len(_SEED_MARKERS)], color="0.55",
                    markersize=6, label=None if seed in drawn_seeds else f"seed {seed}")
            drawn_seeds.add(seed)
            shown.append(v)
        if len(d) > 1:
            vals = np.array(list(d.values()))
            mean = vals.mean()
            half = t_critical(len(vals) - 1) * vals.std(ddof=1) / np.sqrt(len(vals))
            ax.errorbar(i + 0.1, mean, yerr=half, fmt="_", color="black", markersize=14, capsize=4,
                        elinewidth=1.6, label=None if drawn_mean else "mean ± 95 % interval (t)")
            drawn_mean = True
            shown.append(mean)
            bars.append((i + 0.1, mean - half, mean + half))
        if arm in paper:
            ax.plot(i + 0.32, paper[arm], "D", markerfacecolor="none", markeredgecolor="#3b528b",
                    markeredgewidth=1.6, markersize=8, label=None if drawn_paper else "paper (ImageNet)")
            drawn_paper = True
            shown.append(paper[arm])
    ax.axhline(0, color="black", linestyle=":", linewidth=1, label="default SE (reference)")
    lo, hi = min(shown), max(shown)
    pad = max(1.0, 0.15 * (hi - lo))
    bottom, top = lo - pad, hi + pad
    ax.set_ylim(bottom, top)
    cut = False
    for xb, low, high in bars:
        for end, edge, mark in ((high, top, "^"), (low, bottom, "v")):
            if (end > edge) if mark == "^" else (end < edge):
                ax.plot(xb, edge, mark, color="black", markersize=7, clip_on=False,
                        label=None if cut else "interval goes on beyond the axis")
                cut = True
    ax.set_xticks(x, labels=[labels.get(a, a) for a in arms], fontsize=MIN_FONT_SIZE + 1)
    ax.set_xlim(-0.55, len(arms) - 0.45)
    ax.set_xlabel("arm")
    ax.set_ylabel("accuracy − default SE (points)")
    if legend:  # below the axes, where it hides no point
        ax.legend(fontsize=MIN_FONT_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3,
                  frameon=False)
    _title(ax, title)
    return ax


def plot_overview(results: Mapping, groups: Sequence[tuple[str, Sequence[str]]], ax=None, *,
                  ref: str = "se", paper: Mapping[str, float] | None = None,
                  labels: Mapping[str, str] | None = None, title: str = ""):
    """Many arms of a sweep against one reference on one axis: a row per arm, grouped.

    Args:
        results: a results dict (as for :func:`plot_ablation`).
        groups: ``[(group label, [arm, ...]), ...]``, drawn top to bottom (e.g. one group per study).
        ref: the arm every row is compared with (the line at 0).
        paper: the paper's difference for some arms, in points (arm minus ``ref``); hollow diamonds.
        labels: a tick label per arm (default: the arm's name).

    Each row shows ``100 * (acc_arm - acc_ref)`` for every seed both ran (grey dots), and with two
    or more seeds the mean with its 95 % interval (black; Student's ``t``,
    :func:`senet_lib.report.t_critical`), drawn in blue where the interval excludes 0. Returns the axes.
    """
    from .report import paired

    groups = [(str(g), list(arms)) for g, arms in groups]
    arms = [a for _, a_list in groups for a in a_list]
    if not arms:
        raise ValueError("groups must name at least one arm, got none")
    missing = [a for a in [ref, *arms] if a not in results.get("arms", {})]
    if missing:
        raise ValueError(f"results has no arms {missing}")
    paper, labels = dict(paper or {}), dict(labels or {})
    unknown = sorted(set(paper) - set(arms))
    if unknown:
        raise ValueError(f"paper names arms {unknown} that are not drawn: {arms}")
    ax = _ax(ax)
    ref_acc = {r["seed"]: r["final_test_acc"] for r in results["arms"][ref]["runs"]}
    y, ticks, names, drawn = 0.0, [], [], set()
    for g, (group, members) in enumerate(groups):
        if g:
            ax.axhline(y + 0.6, color="0.8", linewidth=0.8)
            y += 0.4
        ax.text(0.01, -y - 0.55, group, transform=ax.get_yaxis_transform(), fontsize=MIN_FONT_SIZE,
                style="italic", color="0.3", va="center")
        for arm in members:
            y += 1
            d = [100 * (r["final_test_acc"] - ref_acc[r["seed"]])
                 for r in results["arms"][arm]["runs"] if r["seed"] in ref_acc]
            ax.plot(d, [-y + 0.18] * len(d), "o", color="0.6", markersize=3.5,
                    label=None if "seeds" in drawn else "one seed")
            drawn.add("seeds")
            j = paired(results, arm, ref)
            if j is not None:
                colour = "#1f4e99" if j["clear"] else "black"
                ax.errorbar(j["mean"], -y, xerr=[[j["mean"] - j["low"]], [j["high"] - j["mean"]]], fmt="s",
                            color=colour, markersize=4, capsize=3, elinewidth=1.4,
                            label=None if ("clear" if j["clear"] else "mean") in drawn else
                            ("mean, 95 % interval excluding 0" if j["clear"] else "mean, 95 % interval"))
                drawn.add("clear" if j["clear"] else "mean")
            if arm in paper:
                ax.plot(paper[arm], -y, "D", markerfacecolor="none", markeredgecolor="#b5446e",
                        markeredgewidth=1.4, markersize=6, label=None if "paper" in drawn else "paper (ImageNet)")
                drawn.add("paper")
            ticks.append(-y)
            names.append(labels.get(arm, arm))
        y += 0.2
    ax.axvline(0, color="black", linestyle=":", linewidth=1)
    ax.set_yticks(ticks, labels=names, fontsize=MIN_FONT_SIZE + 1)
    ax.set_ylim(-y - 0.4, 0.4)
    ax.set_xlabel(f"accuracy − {labels.get(ref, ref)} (points)")
    ax.grid(axis="x", color="0.9")
    # below the figure, outside the axes (constrained layout makes room for it)
    ax.figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
                     fontsize=MIN_FONT_SIZE, frameon=False)
    _title(ax, title)
    return ax


def plot_class_distances(separation: Mapping, ax=None, *, title: str = ""):
    """Between-class distance and within-class spread of each block's gates, against depth.

    ``separation`` maps block names (in depth order) to the result of
    :func:`senet_lib.gates.class_separation` (anything with ``between`` and ``within``, in gate
    units per channel) or to a ``(between, within)`` pair. Their ratio is the class-specificity
    of :func:`plot_specificity`; this plot shows the two sizes it hides. Returns the axes.
    """
    if not isinstance(separation, Mapping) or not separation:
        raise ValueError(f"separation must be a non-empty {{block name: (between, within)}} mapping, "
                         f"got {separation!r:.60}")
    names = list(separation)

    def pair(v) -> tuple[float, float]:
        b, w = (v.between, v.within) if hasattr(v, "between") else tuple(v)
        return float(b), float(w)

    try:
        values = [pair(separation[n]) for n in names]
    except (TypeError, ValueError):
        raise ValueError("separation[name] must have .between and .within, or be a (between, within) "
                         "pair of numbers") from None
    ax = _ax(ax)
    x = np.arange(len(names))
    ax.plot(x, [b for b, _ in values], "o-", color="black", label="between class means")
    ax.plot(x, [w for _, w in values], "s--", color="0.5", label="within a class (RMS)")
    _block_axis(ax, names)
    ax.set_ylabel("distance per channel\n(gate units)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize=MIN_FONT_SIZE)
    _title(ax, title)
    return ax


def plot_gate_distribution(gates: Mapping[str, torch.Tensor], ax=None, *, title: str = "",
                           high: float = 0.95, low: float = 0.05):
    """Every recorded gate of each block (all images, all channels) as a box plot, against depth.

    Boxes span the quartiles (thick black line: median), whiskers the 1st and 99th percentiles;
    dashed lines mark ``low`` and ``high``, the saturation levels of :func:`plot_saturation`.
    ``gates`` maps block names (in depth order) to ``(N, C)``. Returns the axes.
    """
    if not isinstance(gates, Mapping) or not gates:
        raise ValueError(f"gates must be a non-empty {{block name: (N, C) gates}} mapping, got {gates!r:.60}")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"low and high must satisfy 0 <= low < high <= 1, got low={low!r}, high={high!r}")
    names = list(gates)
    values = [_checks.gate_matrix(f"gates[{n!r}]", gates[n]).detach().flatten().cpu().numpy() for n in names]
    ax = _ax(ax)
    ax.boxplot(values, positions=np.arange(len(names)), whis=(1, 99), showfliers=False,
               medianprops=dict(color="black", linewidth=2))
    for level in (low, high):
        ax.axhline(level, color="0.5", ls="--", lw=1)
    _block_axis(ax, names)
    ax.set_ylim(0, 1)
    ax.set_ylabel("gate value")
    _title(ax, title)
    return ax


# --------------------------------------------------------------------------------------------
# Chapter 6: two models trained with the same seeds
# --------------------------------------------------------------------------------------------

__all__ += ["plot_paired_runs"]

#: Colour, line style and marker of the two models of :func:`plot_paired_runs` (the two
#: colours differ in lightness too, so they stay apart in grey).
_PAIR_STYLES = (("#3b528b", "-", "o"), ("#b5790a", "--", "s"))


def _runs(name: str, values) -> np.ndarray:
    """``values`` as a finite ``(seeds, epochs)`` float array, or a ValueError naming ``name``."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (seeds, epochs) array of numbers, got {type(values).__name__}") from None
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1:
        raise ValueError(f"{name} must be a (seeds, epochs) array with at least 2 seeds, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must hold finite numbers; it has NaN or infinity")
    return a


def plot_paired_runs(a, b, epochs: Sequence[float], *, labels: tuple[str, str] = ("plain", "SE"),
                     seeds: Sequence[int] | None = None, metric: str = "test accuracy (%)",
                     unit: str = "points", title: str = ""):
    """Two models trained with the same seeds, epoch by epoch: their curves and their paired difference.

    Args:
        a, b: ``(seeds, epochs)`` values of one metric (e.g. test accuracy in %) of the two
            models; row ``i`` of both comes from the same seed, so ``b - a`` is paired.
        epochs: ``(epochs,)`` the x value of each column.
        labels: the names of the two models, ``a``'s first.
        seeds: the seed of each row (default ``0 ... seeds - 1``), for the last panel's legend.
        metric: what the values are, for the y-axes; ``unit``: the unit of a difference of two.

    Three panels. Top, the full width: every seed's curve (thin) and the mean over seeds
    (thick) with a band of ± one standard deviation, each model in its own colour, line style
    and marker. Bottom left: the paired difference ``b - a`` of each seed (thin grey), their
    mean (black) and its 95 % interval, ``mean ± t s / sqrt(n)`` with Student's ``t`` for
    ``n - 1`` degrees of freedom (``scipy.stats.t``), against 0. Bottom
    right: the last epoch seed by seed, one line from ``a``'s value to ``b``'s per seed (one
    marker per seed), and the two means. Legends sit outside the axes, where they hide no data;
    every axis has tick labels. Returns the figure; its axes are the three panels in that order.
    """
    import matplotlib.pyplot as plt
    from scipy import stats

    a, b = _runs("a", a), _runs("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same (seeds, epochs) shape, got {a.shape} and {b.shape}")
    x = np.asarray(epochs, dtype=float)
    if x.shape != (a.shape[1],):
        raise ValueError(f"epochs must have one value per column of a ({a.shape[1]}), got shape {x.shape}")
    if len(labels) != 2 or not all(isinstance(s, str) and s for s in labels):
        raise ValueError(f"labels must be two non-empty names, got {labels!r}")
    n = a.shape[0]
    seeds = list(range(n)) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != n:
        raise ValueError(f"seeds has {len(seeds)} entries for {n} rows (one seed per row)")

    fig = plt.figure(figsize=(COLUMN_WIDTH, 6.9), layout="constrained")
    top, left, right = fig.subplot_mosaic([["top", "top"], ["left", "right"]],
                                          width_ratios=[1.9, 1], height_ratios=[1.05, 1]).values()
    for values, label, (colour, style, marker) in zip((a, b), labels, _PAIR_STYLES, strict=True):
        for run in values:
            top.plot(x, run, color=colour, linestyle=style, linewidth=0.7, alpha=0.55)
        mean, std = values.mean(0), values.std(0, ddof=1)
        top.plot(x, mean, color=colour, linestyle=style, marker=marker, markersize=4.5, linewidth=2.2,
                 label=f"{label}: mean of {n} seeds ± std")
        top.fill_between(x, mean - std, mean + std, color=colour, alpha=0.18, linewidth=0)
    top.set_xlabel("epoch")
    top.set_ylabel(metric)
    top.set_title("Each seed (thin) and the mean ± std (thick, band)", fontsize=MIN_FONT_SIZE + 1)
    top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False,
               fontsize=MIN_FONT_SIZE, handlelength=3)

    d = b - a
    mean = d.mean(0)
    half = stats.t.ppf(0.975, n - 1) * d.std(0, ddof=1) / np.sqrt(n)
    for i, run in enumerate(d):
        left.plot(x, run, color="0.6", linewidth=0.8, marker=".", markersize=4,
                  label="each seed" if i == 0 else None)
    left.fill_between(x, mean - half, mean + half, color="#3b528b", alpha=0.25, linewidth=0,
                      label="95 % interval of the mean")
    left.plot(x, mean, color="black", linewidth=2.2, marker="o", markersize=4, label="mean of the seeds")
    left.axhline(0, color="black", linewidth=0.8, linestyle=":")
    left.set_xlabel("epoch")
    left.set_ylabel(f"{labels[1]} − {labels[0]} ({unit})")
    left.set_title("Paired difference, epoch by epoch", fontsize=MIN_FONT_SIZE + 1)
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False,
                fontsize=MIN_FONT_SIZE)

    for i, (u, v) in enumerate(zip(a[:, -1], b[:, -1], strict=True)):
        right.plot([0, 1], [u, v], color="0.45", linewidth=1, marker=_SEED_MARKERS[i % len(_SEED_MARKERS)],
                   markersize=6, label=f"seed {seeds[i]}")
    right.plot([0, 1], [a[:, -1].mean(), b[:, -1].mean()], color="black", linewidth=2.4, marker="D",
               markersize=7, label="mean")
    right.set_xticks([0, 1], labels=list(labels))
    right.set_xlim(-0.3, 1.3)
    right.set_ylabel(f"{metric}, epoch {x[-1]:g}")
    right.set_title("Last epoch, seed by seed", fontsize=MIN_FONT_SIZE + 1)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False,
                 fontsize=MIN_FONT_SIZE)
    if title:
        fig.suptitle(title)
    return fig

# --------------------------------------------------------------------------------------------
# Chapter 10: SE's successors side by side
# --------------------------------------------------------------------------------------------

__all__ += ["plot_gate_profiles", "plot_gate_maps", "plot_latency_ratios"]

_PROFILE_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_gate_profiles(profiles: Mapping[str, torch.Tensor], ax=None, *, title: str = ""):
    """Per-channel gates of one image in several networks, each sorted from largest to smallest.

    ``profiles`` maps a label (the network) to that network's ``(C,)`` gates for the image.
    Channel ``c`` of one trained network has nothing to do with channel ``c`` of another, so
    the gates are compared as sorted profiles: how many channels are let through, how many
    dimmed, and how far apart. One line per network, each with its own colour, line style and
    marker; x is the rank (0: the largest gate); y the gate, 0 to 1. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError(f"profiles must be a non-empty {{label: (C,) gates}} mapping, got {profiles!r:.60}")
    bad = [k for k, g in profiles.items() if not isinstance(g, torch.Tensor) or g.dim() != 1 or g.numel() == 0]
    if bad:
        raise ValueError(f"profiles[label] must be a non-empty 1-D tensor of gates (C,); not so for {bad}")
    ax = _ax(ax)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(profiles)))
    for i, (name, g) in enumerate(profiles.items()):
        y = torch.sort(g.detach().double().cpu(), descending=True).values.numpy()
        ax.plot(np.arange(len(y)), y, _STYLES[i % len(_STYLES)], marker=_PROFILE_MARKERS[i % len(_PROFILE_MARKERS)],
                color=colours[i], markersize=4, lw=1.4, label=f"{name} (C = {len(y)})")
    ax.set_xlabel("channel, ranked by its gate (0: largest)")
    ax.set_ylabel("gate")
    ax.set_ylim(0, 1)
    ax.legend(loc="best", fontsize=MIN_FONT_SIZE)
    _title(ax, title)
    return ax


def plot_gate_maps(photo: torch.Tensor, maps: torch.Tensor | Sequence[torch.Tensor], titles: Sequence[str], *,
                   show_photo: bool = True, ncols: int = 3, panel_width: float = 1.9, alpha: float = 0.65,
                   vmin: float | None = None, vmax: float | None = None, label: str = "gate",
                   title: str = ""):
    """Spatial gate maps laid over a photograph, on one colour scale, at most three to a row.

    Args:
        photo: ``(3, H, W)`` in ``[0, 1]``; shown in colour in the first panel (``show_photo``)
            and in grey under every map.
        maps: ``M`` maps ``(h, w)`` (a list, or an ``(M, h, w)`` tensor); each is stretched to
            ``H x W`` by repeating its values (nearest neighbour), so a map made of blocks, such as
            gather-excite's, keeps its blocks.
        titles: one per map.
        show_photo: put the photograph itself, in colour, in the first panel.
        ncols: panels per row, at most :data:`MAX_PANELS_PER_ROW`.
        panel_width: inches per panel (the figure is never wider than :data:`COLUMN_WIDTH`).
        alpha: opacity of the maps over the grey photograph, in ``(0, 1]``.
        vmin, vmax: the colour scale, the same for every map (default: the range of all maps).
        label: the colour bar's label.

    Returns the figure; its first axes are the panels in order (the photo first), then the
    colour bar.
    """
    import matplotlib.pyplot as plt

    if not isinstance(photo, torch.Tensor) or photo.dim() != 3 or photo.shape[0] != 3:
        raise ValueError(f"photo must be a (3, H, W) tensor, got {getattr(photo, 'shape', photo)!r}")
    maps = list(maps)
    bad = [i for i, m in enumerate(maps) if not isinstance(m, torch.Tensor) or m.dim() != 2]
    if bad or not maps:
        raise ValueError(f"maps must be a non-empty list of (h, w) tensors; not so for entries {bad}")
    if len(titles) != len(maps):
        raise ValueError(f"titles has {len(titles)} entries for {len(maps)} maps (one each)")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    h, w = photo.shape[1:]
    up = [F.interpolate(m.detach().float()[None, None], size=(h, w), mode="nearest")[0, 0].cpu().numpy()
          for m in maps]
    lo = float(min(u.min() for u in up)) if vmin is None else float(vmin)
    hi = float(max(u.max() for u in up)) if vmax is None else float(vmax)
    if not hi > lo:
        hi = lo + 1e-6
    n = len(maps) + bool(show_photo)
    rows, cols = _grid(n, ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(min(COLUMN_WIDTH, panel_width * cols + 0.9),
                                                  (panel_width + 0.3) * rows),
                             squeeze=False, layout="constrained")
    flat = list(axes.ravel())
    grey = photo.detach().mean(0).cpu().numpy()
    k = 0
    if show_photo:
        flat[0].imshow(photo.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
        flat[0].set_title("photograph", fontsize=MIN_FONT_SIZE + 1)
        k = 1
    im = None
    for ax, u, name in zip(flat[k:n], up, titles, strict=True):
        ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
        im = ax.imshow(u, cmap="viridis", vmin=lo, vmax=hi, alpha=alpha, interpolation="nearest")
        ax.set_title(name, fontsize=MIN_FONT_SIZE + 1)
    assert im is not None  # maps is not empty (checked above)
    for ax in flat[:n]:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=flat[:n], label=label, shrink=0.9)
    if title:
        fig.suptitle(title)
    return fig


def plot_latency_ratios(entries: Sequence[Mapping], ax=None, *, kinds: Sequence[str] | None = None,
                        labels: Mapping[str, str] | None = None, title: str = ""):
    """Latency of each network with an attention block over the same network without one.

    Args:
        entries: results of :func:`senet_lib.bench.attention.bench_attention` (the
            ``"attention"`` list of ``python -m senet_lib.bench attention``), one per network:
            ``network``, ``batch``, ``size``, ``ratio`` (``{kind: median ratio}``) and
            ``ratio_ci95`` (``{kind: [low, high]}``).
        kinds: the blocks to show, in order (default: the first entry's).
        labels: a tick label per kind (default: the kind).

    One column per block, one marker shape per network (the median ratio) with its 95 %
    interval; the dotted line at 1 is the plain network. Intervals that reach beyond the axis
    are cut at its edge and marked with an arrowhead. Returns the axes.
    """
    if isinstance(entries, Mapping) or not isinstance(entries, Sequence) or not entries:
        raise ValueError("entries must be a non-empty list of bench_attention results (one per network)")
    for e in entries:
        if not isinstance(e, Mapping) or not {"network", "ratio", "ratio_ci95"} <= set(e):
            raise ValueError("each entry needs 'network', 'ratio' and 'ratio_ci95' (bench_attention's result)")
    kinds = list(entries[0]["ratio"]) if kinds is None else list(kinds)
    missing = [(e["network"], k) for e in entries for k in kinds if k not in e["ratio"]]
    if missing or not kinds:
        raise ValueError(f"kinds must be blocks every entry measured; missing: {missing}")
    labels = dict(labels or {})
    ax = _ax(ax)
    x = np.arange(len(kinds))
    medians = [e["ratio"][k] for e in entries for k in kinds]
    top = max(1.1, 1.35 * max(medians))
    bottom = min(0.9, 0.9 * min(medians))
    cut = False
    for j, e in enumerate(entries):
        off = 0.3 * (j - (len(entries) - 1) / 2) / max(1, len(entries) - 1)
        for i, k in enumerate(kinds):
            m = e["ratio"][k]
            lo, hi = e["ratio_ci95"][k]
            shown_lo, shown_hi = max(lo, bottom), min(hi, top)
            name = f"{e['network']}" + (f", batch {e['batch']}" if "batch" in e else "")
            ax.errorbar(i + off, m, yerr=[[m - shown_lo], [shown_hi - m]], fmt=_SEED_MARKERS[j % len(_SEED_MARKERS)],
                        color=("black", "0.5", "#3b528b")[j % 3], markersize=7, capsize=4, elinewidth=1.4,
                        label=name if i == 0 else None)
            for end, edge, mark in ((hi, top, "^"), (lo, bottom, "v")):
                if (end > edge) if mark == "^" else (end < edge):
                    ax.plot(i + off, edge, mark, color="black", markersize=7, clip_on=False,
                            label=None if cut else "interval goes on beyond the axis")
                    cut = True
    ax.axhline(1.0, color="black", ls=":", lw=1, label="plain network (1)")
    ax.set_ylim(bottom, top)
    ax.set_xticks(x, labels=[labels.get(k, k) for k in kinds], fontsize=MIN_FONT_SIZE + 1)
    ax.set_xlim(-0.55, len(kinds) - 0.45)
    ax.set_xlabel("block")
    ax.set_ylabel("latency / plain network\n(median, 95 % interval)")
    ax.legend(fontsize=MIN_FONT_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    _title(ax, title)
    return ax
# ---------------------------------------------------------------------------------------------
# Chapter 1: the SE block itself (the paper's Fig. 1)
# ---------------------------------------------------------------------------------------------

__all__ += ["plot_se_block"]

#: Direction (cosine, sine) in which :func:`plot_se_block` draws the channel axis: up and to the right.
_DEPTH = (0.5, 0.8660254037844386)


def _slab_faces(x: float, y: float, w: float, h: float, d0: float, d1: float) -> list[list[tuple[float, float]]]:
    """Top and right faces of the part ``[d0, d1]`` of a box's depth, for a box with front face
    ``(x, y, w, h)`` (inches) and depth drawn along :data:`_DEPTH`."""
    cx, cy = _DEPTH
    a0, b0, a1, b1 = d0 * cx, d0 * cy, d1 * cx, d1 * cy
    top = [(x + a0, y + h + b0), (x + w + a0, y + h + b0), (x + w + a1, y + h + b1), (x + a1, y + h + b1)]
    side = [(x + w + a0, y + b0), (x + w + a1, y + b1), (x + w + a1, y + h + b1), (x + w + a0, y + h + b0)]
    return [top, side]


def _channel_box(ax, x: float, y: float, w: float, h: float, depth: float, colours) -> None:
    """A box with front face ``(x, y, w, h)`` and ``len(colours)`` channels along its depth, each
    slab coloured with its colour; channel 0 at the front, whose face shows its colour too."""
    from matplotlib.patches import Polygon, Rectangle

    n = len(colours)
    for c in range(n - 1, -1, -1):                  # back to front, so the front slabs cover the rest
        for face in _slab_faces(x, y, w, h, depth * c / n, depth * (c + 1) / n):
            ax.add_patch(Polygon(face, closed=True, facecolor=colours[c], edgecolor="black",
                                 linewidth=0.25 if n > 1 else 0.6))
    ax.add_patch(Rectangle((x, y), w, h, facecolor=colours[0], edgecolor="black", linewidth=0.8))
    cx, cy = _DEPTH                                  # the box's outline, drawn once over the slabs
    outline = [(x, y + h), (x + depth * cx, y + h + depth * cy), (x + w + depth * cx, y + h + depth * cy),
               (x + w + depth * cx, y + depth * cy), (x + w, y)]
    ax.add_patch(Polygon(outline, closed=False, fill=False, edgecolor="black", linewidth=0.8))


def plot_se_block(channels: int, height: int, width: int, reduction: int = 16, *,
                  gates: torch.Tensor | None = None, title: str = ""):
    """The SE block as a picture (the paper's Fig. 1), labelled with the shapes of an example.

    Left to right: the feature map ``u`` of shape ``(C, H, W)``, its squeeze ``z`` ``(C, 1, 1)``,
    the gates ``s`` ``(C, 1, 1)`` that the excitation computes from ``z`` (with its bottleneck
    of ``max(1, C // r)`` units, :func:`senet_lib.block.hidden_width`), and the output
    ``x~ = s * u`` ``(C, H, W)``; a line over the top carries ``u`` itself to the scale step.
    The channel axis is drawn in depth, one slab per channel (at most 64 slabs; with more,
    each slab stands for several channels).

    Args:
        channels, height, width: ``C``, ``H`` and ``W`` of the example's feature map.
        reduction: the block's reduction ratio ``r``.
        gates: ``(C,)`` gates in ``[0, 1]`` to colour ``s`` and the slabs of the output with
            (viridis, with a colour bar); without them ``s`` is drawn in one grey, as a symbol.
        title: a title over the figure.

    Returns the figure, :data:`COLUMN_WIDTH` wide, all text at least :data:`MIN_FONT_SIZE`.
    """
    import matplotlib.pyplot as plt

    from .block import hidden_width

    channels = _checks.positive_int("channels", channels)
    height = _checks.positive_int("height", height)
    width = _checks.positive_int("width", width)
    reduction = _checks.positive_int("reduction", reduction)
    hidden = hidden_width(channels, reduction)
    if gates is not None:
        if not isinstance(gates, torch.Tensor) or gates.shape != (channels,) or not gates.is_floating_point():
            raise ValueError(f"gates must be a floating-point tensor of shape ({channels},) (one gate per "
                             f"channel), got {getattr(gates, 'shape', type(gates).__name__)!r}")
        g = gates.detach().double().cpu()
        if not torch.isfinite(g).all() or g.min() < 0 or g.max() > 1:
            raise ValueError(f"gates must lie in [0, 1], got values from {g.min().item():.3g} to {g.max().item():.3g}")
    slabs = min(channels, 64)
    group = [range(k * channels // slabs, (k + 1) * channels // slabs) for k in range(slabs)]
    cmap = plt.get_cmap("viridis")
    s_colours: list[ColorType]
    x_colours: list[ColorType]
    if gates is None:
        s_colours = ["0.55"] * slabs
        x_colours = ["0.7"] * slabs
    else:
        shade = [float(g[list(idx)].mean()) for idx in group]
        s_colours = x_colours = [cmap(v) for v in shade]
    bar_room = 0.0 if gates is None else 0.8       # inches under the drawing for the colour bar
    fig_h = 3.35 + bar_room + (0.3 if title else 0.0)
    fig = plt.figure(figsize=(COLUMN_WIDTH, fig_h))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, COLUMN_WIDTH)
    ax.set_ylim(0, fig_h)
    ax.set_aspect("equal")
    ax.axis("off")
    base, side, depth = 0.95 + bar_room, 0.9, 1.05         # inches: bottom of the front faces, map side, channel axis
    rod = 0.14                                     # side of a 1 x 1 front face
    mid = base + side / 2
    xs = {"u": 0.1, "z": 2.36, "s": 4.14, "x": 5.35}
    cx, cy = _DEPTH
    _channel_box(ax, xs["u"], base, side, side, depth, ["0.85"] * slabs)
    _channel_box(ax, xs["z"], mid - rod / 2, rod, rod, depth, ["0.85"] * slabs)
    _channel_box(ax, xs["s"], mid - rod / 2, rod, rod, depth, s_colours)
    _channel_box(ax, xs["x"], base, side, side, depth, x_colours)
    text: dict[str, Any] = dict(ha="center", va="top", fontsize=MIN_FONT_SIZE + 1)
    below = base - 0.1
    for key, sym, shape in [("u", "$u$", (channels, height, width)), ("z", "$z$", (channels, 1, 1)),
                            ("s", "$s$", (channels, 1, 1)), ("x", r"$\tilde{x}$", (channels, height, width))]:
        w = side if key in ("u", "x") else rod
        centre = xs[key] + (w + depth * cx) / 2
        ax.text(centre, below, sym, ha="center", va="top", fontsize=MIN_FONT_SIZE + 4)
        ax.text(centre, below - 0.3, " × ".join(str(v) for v in shape), **text)
        ax.text(centre, below - 0.52, "C × H × W" if key in ("u", "x") else "C × 1 × 1",
                color="0.25", **(text | {"fontsize": MIN_FONT_SIZE}))
    arrow = dict(arrowstyle="-|>", color="black", lw=1.2, mutation_scale=12)
    label: dict[str, Any] = dict(ha="center", va="bottom", fontsize=MIN_FONT_SIZE + 0.5, linespacing=1.15)
    steps = [("u", side, "z", "squeeze\nmean over\nH × W", "above"),
             ("z", rod, "s", f"excitation\nFC {channels}→{hidden}\nReLU\nFC {hidden}→{channels}\nsigmoid", "above"),
             ("s", rod, "x", "scale\n" + r"$\tilde{x}_c = s_c\,u_c$", "below")]
    for a, wa, b, words, where in steps:
        x0 = xs[a] + wa + (depth * cx if a == "u" else 0.12)
        x1 = xs[b] - 0.06
        ax.annotate("", xy=(x1, mid), xytext=(x0, mid), arrowprops=arrow)
        if where == "above":
            ax.text((x0 + x1) / 2, mid + 0.1, words, **label)
        else:
            ax.text((x0 + x1) / 2, mid - 0.1, words, **(label | {"va": "top"}))
    top_u = base + side + depth * cy
    lift = top_u + 0.22
    ux, xx = xs["u"] + side / 2 + depth * cx / 2, xs["x"] + side / 2 + depth * cx / 2
    ax.plot([ux, ux, xx], [top_u - 0.02, lift, lift], color="black", lw=1.0)
    ax.annotate("", xy=(xx, top_u + 0.01), xytext=(xx, lift), arrowprops=arrow)
    ax.text((ux + xx) / 2, lift + 0.05, "the map $u$ itself goes on to the scale step",
            ha="center", va="bottom", fontsize=MIN_FONT_SIZE)
    if gates is not None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        cax = fig.add_axes((0.3, 0.48 / fig_h, 0.4, 0.1 / fig_h))
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), cax=cax, orientation="horizontal")
        bar.set_ticks([0, 0.5, 1])
        bar.ax.tick_params(labelsize=MIN_FONT_SIZE)
        bar.set_label(r"gate $s_c$: the colour of $s$ and of the channels of $\tilde{x}$", fontsize=MIN_FONT_SIZE)
    if title:
        ax.text(COLUMN_WIDTH / 2, fig_h - 0.05, title, ha="center", va="top", fontsize=MIN_FONT_SIZE + 2)
    return fig
