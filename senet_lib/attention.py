"""Looking at channel attention: record, measure and plot the gates of SE blocks.

Everything here works through **forward hooks**, so the model is never edited: a hook on
the sigmoid of an SE block sees its ``(N, C)`` gates, a hook on the block itself sees the
feature map before and after rescaling. Hooks are removed when recording ends, also when
the forward pass raises.

* :func:`find_se_blocks` finds the SE blocks of any model: :class:`senet_lib.SEBlock`
  (gate sub-module ``gate``) and timm's SE modules (``timm.layers.SEModule``, gate ``gate``;
  the legacy ``timm.models.senet.SEModule`` of ``legacy_seresnet50``, gate ``sigmoid``).
* :class:`GateRecorder` (a context manager) and :func:`record_gates` give
  ``{block name: (N, C) gates}``; :func:`record_feature_maps` gives one block's input, gates
  and output.
* Measures on recorded gates: :func:`class_specificity` (how far apart the class-mean gate
  vectors are, relative to the spread within a class), :func:`saturation` (fractions of gates
  above 0.95 and below 0.05), :func:`extreme_channels`.
* :func:`replace_se` returns a *copy* of a model with chosen SE blocks replaced by the
  identity or by their mean gates (:class:`ConstantGate`); :func:`removal_study` measures the
  accuracy change and the parameters saved.
* :func:`attention_report` runs the whole analysis in one call (the book uses it for timm's
  ``legacy_seresnet50``, :func:`timm_legacy_seresnet50`, on crops of the photos,
  :func:`photo_views`).
* Plots: :func:`plot_gate_heatmap`, :func:`plot_class_excitations`,
  :func:`plot_within_class`, :func:`plot_channel_maps`, and per block against depth
  :func:`plot_specificity`, :func:`plot_saturation`.

Shapes: images ``(N, 3, H, W)``, gates ``(N, C)``, feature maps ``(N, C, H, W)``, labels ``(N,)``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .block import SEBlock

__all__ = [
    "GATE_ATTRIBUTES", "find_se_blocks", "gate_module", "GateRecorder", "record_gates",
    "record_feature_maps", "Separation", "class_separation", "class_specificity", "specificity_by_block", "saturation",
    "saturation_by_block", "extreme_channels", "group_by_stage", "ConstantGate", "replace_se",
    "gate_channels",
    "count_parameters", "accuracy", "predict", "RemovalResult", "removal_study", "AttentionReport",
    "attention_report", "timm_legacy_seresnet50", "photo_views", "plot_gate_heatmap",
    "plot_class_excitations", "plot_within_class", "plot_channel_maps", "plot_specificity",
    "plot_saturation",
]

#: Names of the gate (sigmoid) sub-module in the SE blocks we know, in the order tried.
GATE_ATTRIBUTES: tuple[str, ...] = ("gate", "sigmoid")


# --------------------------------------------------------------------------------------------
# Finding SE blocks
# --------------------------------------------------------------------------------------------


def gate_module(block: nn.Module) -> nn.Module | None:
    """The sub-module of ``block`` that outputs its gates, or ``None`` if ``block`` is not SE.

    A module counts as an SE block if it is a :class:`senet_lib.SEBlock`, or if it has the
    two excitation layers ``fc1`` and ``fc2`` and a gate named ``gate`` or ``sigmoid``
    (timm's ``SEModule`` and the legacy SE-ResNet's ``SEModule``).
    """
    if isinstance(block, SEBlock):
        return block.gate
    if isinstance(getattr(block, "fc1", None), nn.Module) and isinstance(getattr(block, "fc2", None), nn.Module):
        for attr in GATE_ATTRIBUTES:
            g = getattr(block, attr, None)
            if isinstance(g, nn.Module):
                return g
    return None


def find_se_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """The SE blocks of ``model`` by qualified name, in the order of ``model.named_modules()``.

    Raises ``ValueError`` if there are none, so that a plain network is caught early.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    blocks = {name: m for name, m in model.named_modules() if name and gate_module(m) is not None}
    if not blocks:
        raise ValueError(
            f"model ({type(model).__name__}) has no SE blocks: expected senet_lib.SEBlock modules "
            "or timm SE modules (with fc1, fc2 and a 'gate' or 'sigmoid' sub-module)"
        )
    return blocks


def _select(model: nn.Module, names: Iterable[str] | str | None) -> dict[str, nn.Module]:
    """The SE blocks ``names`` (all if ``None``), with a clear error for unknown names."""
    blocks = find_se_blocks(model)
    if names is None:
        return blocks
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("names must list at least one SE block (or be None for all)")
    unknown = [n for n in names if n not in blocks]
    if unknown:
        raise ValueError(f"unknown SE block name(s) {unknown}; the model's SE blocks are {list(blocks)}")
    return {n: blocks[n] for n in names}


def group_by_stage(names: Iterable[str]) -> dict[str, list[str]]:
    """Group block names by their first component: ``"layer3.1.se" -> "layer3"``."""
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split(".")[0], []).append(n)
    return groups


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


class GateRecorder:
    """Context manager that records the gates of SE blocks on every forward pass.

    ::

        with GateRecorder(model) as rec:
            model(x1)
            model(x2)
        gates = rec.gates()          # {name: (N1 + N2, C)}

    Hooks are registered on entry and removed on exit, whatever happens inside the ``with``
    (an exception in the forward pass included). The hooks return ``None``, so the model's
    outputs are exactly what they would be without recording.

    Args:
        model: any model with SE blocks (see :func:`find_se_blocks`).
        names: which blocks to record (default: all).
    """

    def __init__(self, model: nn.Module, names: Iterable[str] | str | None = None) -> None:
        self.blocks = _select(model, names)
        self._records: dict[str, list[torch.Tensor]] = {n: [] for n in self.blocks}
        self._handles: list[Any] = []

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self._records[name].append(output.detach().flatten(1).clone())  # (N, C, 1, 1) -> (N, C)

        return hook

    def __enter__(self) -> "GateRecorder":
        gates_seen: set[int] = set()
        try:
            for name, block in self.blocks.items():
                g = gate_module(block)
                if id(g) in gates_seen:
                    raise ValueError(f"SE block {name!r} shares its gate module with another block; "
                                     "its gates cannot be told apart")
                gates_seen.add(id(g))
                self._handles.append(g.register_forward_hook(self._hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this recorder registered (safe to call twice)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def gates(self) -> dict[str, torch.Tensor]:
        """``{name: (N, C)}``: all recorded gates of each block, batches concatenated."""
        empty = [n for n, r in self._records.items() if not r]
        if empty:
            raise RuntimeError(f"no forward pass reached SE block(s) {empty}")
        return {n: torch.cat(r) for n, r in self._records.items()}


class _eval_mode:
    """Put ``model`` in eval mode and restore every module's previous mode on exit."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc: object) -> None:
        for m, mode in self.modes:
            m.training = mode


def _images(name: str, images: object) -> torch.Tensor:
    return _checks.feature_map(name, images)


def _batches(n: int, batch_size: int) -> Iterable[slice]:
    for i in range(0, n, batch_size):
        yield slice(i, min(i + batch_size, n))


@torch.no_grad()
def record_gates(
    model: nn.Module,
    images: torch.Tensor,
    names: Iterable[str] | str | None = None,
    *,
    batch_size: int = 256,
    return_logits: bool = False,
) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Gates of the SE blocks of ``model`` for ``images``, in eval mode, without gradients.

    Args:
        model: a model with SE blocks; its train/eval mode is restored afterwards.
        images: ``(N, 3, H, W)``, already normalised as the model expects.
        names: which SE blocks to record (default: all of them).
        batch_size: images per forward pass.
        return_logits: also return the model's outputs ``(N, K)``.

    Returns:
        ``{block name: (N, C_block) gates}`` in the order of the model's modules (and the
        outputs, with ``return_logits=True``).
    """
    images = _images("images", images)
    batch_size = _checks.positive_int("batch_size", batch_size)
    outputs = []
    with _eval_mode(model), GateRecorder(model, names) as rec:
        for sl in _batches(len(images), batch_size):
            outputs.append(model(images[sl]))
    gates = rec.gates()
    return (gates, torch.cat(outputs)) if return_logits else gates


@torch.no_grad()
def record_feature_maps(
    model: nn.Module, images: torch.Tensor, name: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The input, gates and output of one SE block for ``images`` (eval mode, no gradients).

    Returns:
        ``(before (N, C, h, w), gates (N, C), after (N, C, h, w))``: the feature map the block
        receives, its gates, and the rescaled map it returns (``after = gates * before``).
    """
    images = _images("images", images)
    if not isinstance(name, str):
        raise TypeError(f"name must be the str name of one SE block, got {type(name).__name__}")
    block = _select(model, [name])[name]
    seen: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        seen["before"] = inputs[0].detach().clone()
        seen["after"] = output.detach().clone()

    with _eval_mode(model), GateRecorder(model, [name]) as rec:
        handle = block.register_forward_hook(hook)
        try:
            model(images)
        finally:
            handle.remove()
    return seen["before"], rec.gates()[name], seen["after"]


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def _gates_2d(name: str, gates: object) -> torch.Tensor:
    if not isinstance(gates, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C), got {type(gates).__name__}")
    if gates.dim() != 2 or gates.shape[0] == 0 or gates.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D tensor (N, C), got shape {tuple(gates.shape)}")
    if not gates.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {gates.dtype}")
    return gates


def _labels(labels: object, n: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dim() != 1 or len(labels) != n or labels.is_floating_point():
        raise ValueError(
            f"labels must be a 1-D integer tensor with one label per row of gates ({n}), "
            f"got shape {tuple(labels.shape)} and dtype {labels.dtype}"
        )
    return labels


@dataclass(frozen=True)
class Separation:
    """How far apart the classes' gate vectors are, for one block.

    ``between``: mean distance between class-mean gate vectors, over all pairs of classes;
    ``within``: mean over classes of the root-mean-square distance of a class's gate vectors
    from their class mean. Both are divided by ``sqrt(C)``, so they read as gate values
    (a typical per-channel difference) and compare across blocks of different widths.
    ``specificity = between / within`` (:func:`class_specificity`).
    """

    between: float
    within: float

    @property
    def specificity(self) -> float:
        if self.within == 0:
            return float("inf") if self.between > 0 else 0.0
        return self.between / self.within


def class_separation(gates: torch.Tensor, labels: torch.Tensor) -> Separation:
    """Between-class distance and within-class spread of a block's gates (see :class:`Separation`).

    Args:
        gates: ``(N, C)``.
        labels: ``(N,)`` integer class labels; at least 2 classes with at least 2 images each.
    """
    gates = _gates_2d("gates", gates).double()
    labels = _labels(labels, gates.shape[0])
    classes = labels.unique()
    if len(classes) < 2:
        raise ValueError(f"class_separation needs at least 2 classes, got labels {classes.tolist()}")
    means, spreads = [], []
    for k in classes:
        g = gates[labels == k]
        if len(g) < 2:
            raise ValueError(f"class {k.item()} has {len(g)} image(s); every class needs at least 2")
        mu = g.mean(0)
        means.append(mu)
        spreads.append(((g - mu) ** 2).sum(1).mean().sqrt())
    between = torch.stack([(a - b).norm() for a, b in itertools.combinations(means, 2)]).mean()
    within = torch.stack(spreads).mean()
    root_c = gates.shape[1] ** 0.5
    return Separation(float(between / root_c), float(within / root_c))


def class_specificity(gates: torch.Tensor, labels: torch.Tensor) -> float:
    """How class-specific a block's gates are: between-class distance / within-class spread.

    With ``mu_k`` the mean gate vector of class ``k`` and ``sigma_k`` the root-mean-square
    distance of that class's gate vectors from ``mu_k``::

        specificity = mean over pairs k < l of ||mu_k - mu_l||  /  mean over k of sigma_k

    0 means every class has the same mean excitation (class-agnostic); 1 means class means
    lie as far apart as a typical image lies from its own class mean. Labels shuffled at
    random give a small positive value, of order ``sqrt(2 / images per class)``: compare with
    that, not with 0. It is a ratio: gates that barely vary at all can still be very
    class-specific; :func:`class_separation` gives the two distances themselves.

    Args:
        gates: ``(N, C)``.
        labels: ``(N,)`` integer class labels; at least 2 classes with at least 2 images each.
    """
    return class_separation(gates, labels).specificity


def specificity_by_block(gates: Mapping[str, torch.Tensor], labels: torch.Tensor) -> dict[str, float]:
    """:func:`class_specificity` of every block in ``{name: (N, C) gates}``."""
    return {name: class_specificity(g, labels) for name, g in gates.items()}


def saturation(gates: torch.Tensor, high: float = 0.95, low: float = 0.05) -> tuple[float, float]:
    """Fractions of gates above ``high`` (almost "pass unchanged") and below ``low`` ("switch off").

    ``gates`` is any tensor of gate values, e.g. ``(N, C)``; returns ``(frac_high, frac_low)``.
    """
    if not isinstance(gates, torch.Tensor) or gates.numel() == 0:
        raise ValueError(f"gates must be a non-empty tensor, got {gates!r:.60}")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low!r}, high={high!r}")
    return float((gates > high).double().mean()), float((gates < low).double().mean())


def saturation_by_block(gates: Mapping[str, torch.Tensor], high: float = 0.95,
                        low: float = 0.05) -> dict[str, tuple[float, float]]:
    """:func:`saturation` of every block in ``{name: gates}``."""
    return {name: saturation(g, high, low) for name, g in gates.items()}


def extreme_channels(gates: torch.Tensor, k: int = 1) -> tuple[list[int], list[int]]:
    """The ``k`` channels with the largest and the ``k`` with the smallest gate.

    ``gates`` is ``(C,)`` (one image) or ``(N, C)`` (averaged over the images first).
    Returns ``(most_excited, most_suppressed)``, each a list of channel indices, most
    extreme first.
    """
    if not isinstance(gates, torch.Tensor) or gates.dim() not in (1, 2):
        raise ValueError(f"gates must be a (C,) or (N, C) tensor, got {getattr(gates, 'shape', gates)!r}")
    g = gates.double().mean(0) if gates.dim() == 2 else gates.double()
    k = _checks.positive_int("k", k)
    if k > len(g):
        raise ValueError(f"k={k} is more than the {len(g)} channels")
    order = torch.argsort(g, descending=True, stable=True)
    return order[:k].tolist(), order.flip(0)[:k].tolist()


# --------------------------------------------------------------------------------------------
# Removing SE blocks
# --------------------------------------------------------------------------------------------


class ConstantGate(nn.Module):
    """Multiply channel ``c`` by a fixed ``gates[c]``: an SE block frozen at its mean gate.

    ``gates`` is ``(C,)``, stored as a buffer (not a parameter). Input and output
    ``(N, C, H, W)``. After a batch norm, this constant scale can be folded into the batch
    norm's weight and bias, so it costs nothing at inference.
    """

    def __init__(self, gates: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(gates, torch.Tensor) or gates.dim() != 1:
            raise ValueError(f"gates must be a 1-D tensor (C,), got {getattr(gates, 'shape', gates)!r}")
        self.register_buffer("gates", gates.detach().clone().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.feature_map("x", x, len(self.gates))
        return x * self.gates.to(x.dtype)[None, :, None, None]

    def extra_repr(self) -> str:
        return f"channels={len(self.gates)}"


def _set_submodule(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def replace_se(
    model: nn.Module,
    names: Iterable[str] | str,
    how: str = "identity",
    mean_gates: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """A deep copy of ``model`` with the SE blocks ``names`` replaced; ``model`` is untouched.

    Args:
        model: a model with SE blocks.
        names: the blocks to replace (e.g. all those of the last stage).
        how: ``"identity"`` (the block passes its input through: every gate 1) or ``"mean"``
            (every gate fixed at its mean value: :class:`ConstantGate`).
        mean_gates: for ``how="mean"``, ``{name: (C,) mean gate}`` for every replaced block,
            e.g. ``{n: g.mean(0) for n, g in record_gates(model, x).items()}``.
    """
    if how not in ("identity", "mean"):
        raise ValueError(f"how must be 'identity' or 'mean', got {how!r}")
    blocks = _select(model, names)
    if how == "mean":
        if mean_gates is None:
            raise ValueError("how='mean' needs mean_gates={block name: (C,) mean gate}")
        missing = [n for n in blocks if n not in mean_gates]
        if missing:
            raise ValueError(f"mean_gates has no entry for SE block(s) {missing}")
        for n in blocks:
            g = mean_gates[n]
            c = gate_channels(blocks[n])
            if not isinstance(g, torch.Tensor) or g.dim() != 1 or (c is not None and len(g) != c):
                raise ValueError(f"mean_gates[{n!r}] must be a ({c},) tensor, got "
                                 f"{getattr(g, 'shape', type(g).__name__)}")
    new = copy.deepcopy(model)
    for n in blocks:
        _set_submodule(new, n, nn.Identity() if how == "identity" else ConstantGate(mean_gates[n]))
    return new


def gate_channels(block: nn.Module) -> int | None:
    """Number of channels ``C`` an SE block gates (from its ``fc2``), or ``None`` if unknown."""
    fc2 = getattr(block, "fc2", None)
    if isinstance(fc2, nn.Linear):
        return fc2.out_features
    if isinstance(fc2, nn.Conv2d):
        return fc2.out_channels
    return None


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model`` (buffers such as batch-norm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
             batch_size: int = 256) -> float:
    """Top-1 accuracy (fraction in ``[0, 1]``) of ``model`` in eval mode on ``(images, labels)``."""
    images = _images("images", images)
    labels = _labels(labels, len(images))
    return float((predict(model, images, batch_size=batch_size) == labels).double().mean())


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Top-1 class ``(N,)`` of ``model`` in eval mode for ``images (N, 3, H, W)``."""
    images = _images("images", images)
    batch_size = _checks.positive_int("batch_size", batch_size)
    with _eval_mode(model):
        return torch.cat([model(images[sl]).argmax(1) for sl in _batches(len(images), batch_size)])


@dataclass
class RemovalResult:
    """What replacing some SE blocks does. Accuracies are fractions in ``[0, 1]``.

    ``flipped_identity`` and ``flipped_mean`` are the fractions of images whose top-1
    prediction differs from the full model's: a small accuracy change can hide many flips
    in both directions.
    """

    names: list[str]
    accuracy_full: float
    accuracy_identity: float
    accuracy_mean: float
    flipped_identity: float
    flipped_mean: float
    params_full: int
    params_saved: int
    se_params_full: int

    @property
    def change_identity(self) -> float:
        """Accuracy with the blocks removed minus the full model's (negative = a loss)."""
        return self.accuracy_identity - self.accuracy_full

    @property
    def change_mean(self) -> float:
        """Accuracy with the blocks frozen at their mean gates minus the full model's."""
        return self.accuracy_mean - self.accuracy_full

    @property
    def se_overhead_before(self) -> float:
        """SE parameters as a fraction of the rest of the network, before removal."""
        return self.se_params_full / (self.params_full - self.se_params_full)

    @property
    def se_overhead_after(self) -> float:
        """The same fraction after removing the blocks."""
        return (self.se_params_full - self.params_saved) / (self.params_full - self.se_params_full)


def removal_study(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    names: Iterable[str] | str,
    *,
    batch_size: int = 256,
    predicted: bool = False,
    reference: tuple[Mapping[str, torch.Tensor], torch.Tensor] | None = None,
) -> RemovalResult:
    """Accuracy of ``model`` with the SE blocks ``names`` kept, removed, or frozen at their mean.

    The mean gates are measured on ``images``. With ``predicted=True``, ``labels`` is ignored
    and "accuracy" is agreement with the full model's own top-1 predictions (for images
    without ground truth). The parameters saved are those of the removed blocks.

    ``reference`` saves one forward pass: the ``(gates, logits)`` that
    ``record_gates(model, images, return_logits=True)`` returned for these same images.
    """
    images = _images("images", images)
    blocks = _select(model, names)
    if reference is None:
        gates, logits = record_gates(model, images, list(blocks), batch_size=batch_size,
                                     return_logits=True)
    else:
        gates, logits = reference
        missing = [n for n in blocks if n not in gates]
        if missing or not isinstance(logits, torch.Tensor) or len(logits) != len(images):
            raise ValueError(f"reference must be (gates, logits) from record_gates on these {len(images)} "
                             f"images, covering the blocks {list(blocks)}; missing {missing}")
        gates = {n: gates[n] for n in blocks}
        if any(g.shape[0] != len(images) for g in gates.values()):
            raise ValueError(f"reference gates must have one row per image ({len(images)})")
    if predicted:
        labels = logits.argmax(1)
    labels = _labels(labels, len(images))
    full = logits.argmax(1)
    acc_full = float((full == labels).double().mean())
    no_se = replace_se(model, list(blocks), "identity")
    frozen = replace_se(model, list(blocks), "mean", {n: g.mean(0) for n, g in gates.items()})
    se_params = sum(count_parameters(b) for b in find_se_blocks(model).values())
    pred_identity = predict(no_se, images, batch_size=batch_size)
    pred_mean = predict(frozen, images, batch_size=batch_size)
    return RemovalResult(
        names=list(blocks),
        accuracy_full=acc_full,
        accuracy_identity=float((pred_identity == labels).double().mean()),
        accuracy_mean=float((pred_mean == labels).double().mean()),
        flipped_identity=float((pred_identity != full).double().mean()),
        flipped_mean=float((pred_mean != full).double().mean()),
        params_full=count_parameters(model),
        params_saved=count_parameters(model) - count_parameters(no_se),
        se_params_full=se_params,
    )


# --------------------------------------------------------------------------------------------
# The whole analysis in one call
# --------------------------------------------------------------------------------------------


@dataclass
class AttentionReport:
    """Output of :func:`attention_report`.

    ``gates`` ``{name: (N, C)}``, ``specificity`` ``{name: float}`` with ``chance`` the same
    measure for shuffled labels, ``saturation`` ``{name: (frac > 0.95, frac < 0.05)}``,
    ``removal`` for the last stage (``last_stage`` names it).
    """

    gates: dict[str, torch.Tensor]
    labels: torch.Tensor
    specificity: dict[str, float]
    chance: dict[str, float]
    saturation: dict[str, tuple[float, float]]
    last_stage: str
    removal: RemovalResult
    extra: dict[str, Any] = field(default_factory=dict)


def attention_report(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    agreement: bool = True,
    batch_size: int = 64,
    seed: int = 0,
) -> AttentionReport:
    """Gates, class-specificity per block (and at chance), saturation, and last-stage removal.

    Args:
        model: a model with SE blocks; the last stage is the first component of the last SE
            block's name (``"layer4"`` in timm's SE-ResNet-50).
        images: ``(N, 3, H, W)``, normalised as the model expects.
        labels: ``(N,)`` the class (or group, e.g. source photo) of every image; used for the
            class-specificity.
        agreement: measure the removal as agreement with the full model's top-1 predictions
            (for images whose ``labels`` are not the model's classes); ``False`` uses ``labels``.
        batch_size: images per forward pass.
        seed: for the label shuffle that gives the chance level of the specificity.
    """
    images = _images("images", images)
    labels = _labels(labels, len(images))
    gates, logits = record_gates(model, images, batch_size=batch_size, return_logits=True)
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]
    stages = group_by_stage(gates)
    last = list(stages)[-1]
    return AttentionReport(
        gates=gates,
        labels=labels,
        specificity=specificity_by_block(gates, labels),
        chance=specificity_by_block(gates, shuffled),
        saturation=saturation_by_block(gates),
        last_stage=last,
        removal=removal_study(model, images, labels, stages[last], batch_size=batch_size,
                              predicted=agreement, reference=(gates, logits)),
    )


# --------------------------------------------------------------------------------------------
# timm's SE-ResNet-50 and photo crops for it
# --------------------------------------------------------------------------------------------


def timm_legacy_seresnet50(pretrained: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """timm's ``legacy_seresnet50`` (the authors' Caffe weights, ported) and its data config.

    ``pretrained=True`` downloads the ImageNet weights (about 110 MB) on first use: only for
    readers online. ``pretrained=False`` gives the same architecture with random weights,
    which is what the tests use. Returns ``(model in eval mode, {"mean", "std",
    "class_names"})`` with ImageNet's normalisation and the 1000 class descriptions.
    """
    _checks.boolean("pretrained", pretrained)
    import timm
    from timm.data import ImageNetInfo

    model = timm.create_model("legacy_seresnet50", pretrained=pretrained).eval()
    cfg = model.pretrained_cfg
    info = ImageNetInfo()
    names = [info.index_to_description(i) for i in range(1000)]
    return model, {"mean": tuple(cfg["mean"]), "std": tuple(cfg["std"]), "class_names": names}


def photo_views(
    names: Sequence[str], per_photo: int, size: int = 224, *, seed: int = 0,
    min_scale: float = 0.35,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random square crops of each photograph, resized to ``size`` (random flips too).

    Each crop covers a side between ``min_scale`` and 1 times the photo's shorter side.
    Returns ``(images (len(names) * per_photo, 3, size, size) in [0, 1], labels)``, where
    ``labels[i]`` is the index in ``names`` of the photo crop ``i`` comes from.
    """
    from .photos import load_photo

    names = list(names)
    if not names:
        raise ValueError("names must list at least one photo")
    per_photo = _checks.positive_int("per_photo", per_photo)
    size = _checks.positive_int("size", size)
    if not 0.0 < min_scale <= 1.0:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        img = torch.from_numpy(np.array(load_photo(name), copy=True)).permute(2, 0, 1)[None].float() / 255
        h, w = img.shape[-2:]
        for _ in range(per_photo):
            side = int(round(min(h, w) * rng.uniform(min_scale, 1.0)))
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(0, w - side + 1))
            crop = img[:, :, top:top + side, left:left + side]
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            out.append(F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False,
                                     antialias=True))
    labels = torch.arange(len(names)).repeat_interleave(per_photo)
    return torch.cat(out).clamp(0, 1), labels


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def _ax(ax):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 3))[1] if ax is None else ax


def plot_gate_heatmap(gates: torch.Tensor, ax=None, *, row_labels: Sequence[str] | None = None,
                      title: str = "", colorbar: bool = True):
    """Gates ``(N, C)`` as an image: one row per image, one column per channel (viridis, 0 to 1)."""
    gates = _gates_2d("gates", gates)
    ax = _ax(ax)
    im = ax.imshow(gates.cpu().numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                   interpolation="nearest")
    ax.set_xlabel("channel")
    ax.set_ylabel("image")
    if row_labels is not None:
        if len(row_labels) != gates.shape[0]:
            raise ValueError(f"row_labels has {len(row_labels)} entries for {gates.shape[0]} rows")
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="gate $s_c$")
    return ax


def _class_means(gates: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gates = _gates_2d("gates", gates).double()
    labels = _labels(labels, gates.shape[0])
    classes = labels.unique()
    means = torch.stack([gates[labels == k].mean(0) for k in classes])
    stds = torch.stack([gates[labels == k].std(0, unbiased=False) for k in classes])
    return classes, means, stds


def plot_class_excitations(gates: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                           ax=None, *, classes: Sequence[int] | None = None,
                           channels: Sequence[int] | None = None, title: str = ""):
    """Mean excitation per channel for each class, and the mean over all images (paper, Fig. 6).

    Args:
        gates: ``(N, C)``; labels: ``(N,)`` indices into ``class_names``.
        classes: which classes to draw (default all); the all-image mean always uses every image.
        channels: which channels, in order (default all).
    """
    import matplotlib.pyplot as plt

    all_classes, means, _ = _class_means(gates, labels)
    index = {int(k): i for i, k in enumerate(all_classes)}
    chosen = list(index) if classes is None else [int(k) for k in classes]
    unknown = [k for k in chosen if k not in index]
    if unknown:
        raise ValueError(f"classes {unknown} have no images; present: {list(index)}")
    ch = list(range(gates.shape[1])) if channels is None else list(channels)
    ax = _ax(ax)
    styles = ["-", "--", ":", "-."]
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(chosen), 1)))
    x = np.arange(len(ch))
    for j, k in enumerate(chosen):
        ax.plot(x, means[index[k], ch].numpy(), styles[j % 4], color=colours[j], lw=1.2,
                label=class_names[k])
    ax.plot(x, gates.double().mean(0)[ch].numpy(), color="black", lw=2.2, label="all images")
    ax.set_xlabel("channel index" if channels is None else "channel (in the order shown)")
    ax.set_ylabel("mean excitation")
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
    return ax


def plot_within_class(gates: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                      classes: Sequence[int], ax=None, *, title: str = ""):
    """Mean ± standard deviation of each channel's gate within the given classes (paper, Fig. 7)."""
    import matplotlib.pyplot as plt

    all_classes, means, stds = _class_means(gates, labels)
    index = {int(k): i for i, k in enumerate(all_classes)}
    classes = [int(k) for k in classes]
    unknown = [k for k in classes if k not in index]
    if unknown or not classes:
        raise ValueError(f"classes must be a non-empty list of labels present in labels, got {classes}")
    ax = _ax(ax)
    x = np.arange(gates.shape[1])
    colours = plt.get_cmap("cividis")(np.linspace(0.1, 0.85, len(classes)))
    for j, k in enumerate(classes):
        m, s = means[index[k]].numpy(), stds[index[k]].numpy()
        ax.plot(x, m, color=colours[j], lw=1.4, label=f"{class_names[k]} (mean ± std)")
        ax.fill_between(x, m - s, m + s, color=colours[j], alpha=0.3, lw=0)
    ax.set_xlabel("channel index")
    ax.set_ylabel("excitation")
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
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

    Each row uses one colour scale for both maps, so a suppressed channel looks dimmer after
    rescaling. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if not isinstance(photo, torch.Tensor) or photo.dim() != 3 or photo.shape[0] != 3:
        raise ValueError(f"photo must be a (3, H, W) tensor, got {getattr(photo, 'shape', photo)!r}")
    for nm, t in (("before", before), ("after", after)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            raise ValueError(f"{nm} must be a (C, h, w) tensor, got {getattr(t, 'shape', t)!r}")
    if before.shape != after.shape or gates.shape != (before.shape[0],):
        raise ValueError(f"before {tuple(before.shape)}, after {tuple(after.shape)} and gates "
                         f"{tuple(gates.shape)} must be (C, h, w), (C, h, w) and (C,)")
    channels = list(channels)
    bad = [c for c in channels if not 0 <= c < before.shape[0]]
    if bad or not channels:
        raise ValueError(f"channels must be a non-empty list of indices below {before.shape[0]}, got {channels}")
    h, w = photo.shape[1:]
    grey = photo.mean(0).cpu().numpy()
    up = lambda m: F.interpolate(m[None, None].float(), size=(h, w), mode="bilinear",  # noqa: E731
                                 align_corners=False)[0, 0].cpu().numpy()
    fig, axes = plt.subplots(len(channels), 2, figsize=(5.6, 2.5 * len(channels)), squeeze=False,
                             layout="constrained")
    for row, c in enumerate(channels):
        lo = float(min(before[c].min(), after[c].min()))
        hi = float(max(before[c].max(), after[c].max()))
        for col, m in enumerate((before[c], after[c])):
            ax = axes[row, col]
            ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
            im = ax.imshow(up(m), cmap="viridis", vmin=lo, vmax=hi, alpha=alpha)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_title(f"channel {c}: before", fontsize=9)
        axes[row, 1].set_title(f"after (x gate {float(gates[c]):.2f})", fontsize=9)
        if labels:
            axes[row, 0].set_ylabel(labels[row])
        fig.colorbar(im, ax=axes[row].tolist(), label="activation", shrink=0.9)
    return fig


def _block_axis(ax, names: Sequence[str]) -> None:
    ax.set_xticks(range(len(names)), labels=list(names), rotation=60, ha="right", fontsize=8)
    ax.set_xlabel("SE block (input side to output side)")


def plot_specificity(specificity: Mapping[str, float], chance: Mapping[str, float] | None = None,
                     ax=None, *, title: str = ""):
    """Class-specificity of each block against depth, with the shuffled-label level if given.

    ``specificity`` and ``chance`` map block names (in depth order) to
    :func:`class_specificity` values.
    """
    if not specificity:
        raise ValueError("specificity is empty: pass {block name: value}")
    names = list(specificity)
    if chance is not None and set(chance) != set(names):
        raise ValueError(f"chance must have the same blocks as specificity, got {sorted(chance)}")
    ax = _ax(ax)
    x = np.arange(len(names))
    ax.plot(x, [specificity[n] for n in names], "o-", color="black", label="true classes")
    if chance is not None:
        ax.plot(x, [chance[n] for n in names], "s--", color="0.6", label="shuffled labels (chance)")
    _block_axis(ax, names)
    ax.set_ylabel("class-specificity")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_saturation(sat: Mapping[str, tuple[float, float]], ax=None, *, title: str = "",
                    high: float = 0.95, low: float = 0.05):
    """Fractions of gates above ``high`` and below ``low`` per block, as grouped bars.

    ``sat`` maps block names (in depth order) to ``(frac_high, frac_low)`` from
    :func:`saturation_by_block`.
    """
    if not sat:
        raise ValueError("sat is empty: pass {block name: (frac_high, frac_low)}")
    names = list(sat)
    ax = _ax(ax)
    x = np.arange(len(names))
    ax.bar(x - 0.2, [sat[n][0] for n in names], 0.4, color="0.2", label=f"gate > {high}")
    ax.bar(x + 0.2, [sat[n][1] for n in names], 0.4, color="0.7", edgecolor="black", lw=0.5,
           label=f"gate < {low}")
    _block_axis(ax, names)
    ax.set_ylabel("fraction of gates")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    if title:
        ax.set_title(title)
    return ax
