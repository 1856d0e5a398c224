"""Gates: find the SE blocks of a model, record their gates, and measure them.

A module counts as an SE block if it is a :class:`senet_lib.SEBlock` or a
:class:`~senet_lib.block.NoSqueezeSE`, or if it has the two excitation layers ``fc1`` and
``fc2`` and a gate named ``gate`` or ``sigmoid`` (timm's ``SEModule`` and the legacy
SE-ResNet's ``SEModule``).

* Finding blocks: :func:`se_blocks` (all of them), :func:`select_se_blocks` (some, by name),
  :func:`group_by_stage`, :func:`gate_module`, :func:`gate_channels`.
* Recording works through **forward hooks**, so the model is never edited: a hook on the gate
  (sigmoid) of an SE block sees its ``(N, C)`` gates, a hook on the block itself sees the
  feature map before and after rescaling. Hooks are removed when recording ends, also when
  the forward pass raises. :class:`GateRecorder` (a context manager) and :func:`record_gates`
  give ``{block name: (N, C) gates}``; :func:`record_feature_maps` gives one block's input,
  gates and output.
* Measures on recorded gates: :func:`class_separation` and :func:`class_specificity` (how far
  apart the class-mean gate vectors are, relative to the spread within a class),
  :func:`saturation` (fractions of gates above 0.95 and below 0.05), :func:`extreme_channels`,
  and per block :func:`specificity_by_block`, :func:`saturation_by_block`.

Shapes: images ``(N, 3, H, W)``, gates ``(N, C)``, feature maps ``(N, C, H, W)``, labels ``(N,)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch
from torch import nn

from . import _checks
from .block import NoSqueezeSE, SEBlock
from .train import outputs

__all__ = [
    "GATE_ATTRIBUTES", "gate_module", "se_blocks", "select_se_blocks", "group_by_stage",
    "gate_channels", "GateRecorder", "record_gates", "record_feature_maps", "Separation",
    "class_separation", "class_specificity", "specificity_by_block", "saturation",
    "saturation_by_block", "extreme_channels",
]

#: Names of the gate (sigmoid) sub-module in the SE blocks we know, in the order tried.
GATE_ATTRIBUTES: tuple[str, ...] = ("gate", "sigmoid")


# --------------------------------------------------------------------------------------------
# Finding SE blocks
# --------------------------------------------------------------------------------------------


def gate_module(block: nn.Module) -> nn.Module | None:
    """The sub-module of ``block`` that outputs its gates, or ``None`` if ``block`` is not SE."""
    if isinstance(block, (SEBlock, NoSqueezeSE)):
        return block.gate
    if isinstance(getattr(block, "fc1", None), nn.Module) and isinstance(getattr(block, "fc2", None), nn.Module):
        for attr in GATE_ATTRIBUTES:
            g = getattr(block, attr, None)
            if isinstance(g, nn.Module):
                return g
    return None


def se_blocks(model: nn.Module, *, required: bool = False) -> dict[str, nn.Module]:
    """The SE blocks of ``model`` by qualified name (``"layer1.0.se"``, ...), in module order.

    With ``required=True`` a model without SE blocks raises ``ValueError`` (so a plain
    network is caught early); otherwise it gives ``{}``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    blocks = {name: m for name, m in model.named_modules() if name and gate_module(m) is not None}
    if required and not blocks:
        raise ValueError(
            f"model ({type(model).__name__}) has no SE blocks: expected senet_lib.SEBlock modules "
            "or timm SE modules (with fc1, fc2 and a 'gate' or 'sigmoid' sub-module)"
        )
    return blocks


def select_se_blocks(model: nn.Module, names: Iterable[str] | str | None = None) -> dict[str, nn.Module]:
    """The SE blocks of ``model`` called ``names`` (one name, a list, or ``None`` for all).

    Raises ``ValueError`` if the model has no SE blocks, if ``names`` is empty, or for a name
    that is not an SE block of the model (the error lists those that are).
    """
    blocks = se_blocks(model, required=True)
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
    """Group block names by their first component: ``"layer3.1.se" -> "layer3"``, in order."""
    if isinstance(names, str):
        raise TypeError(f"names must be an iterable of block names, not one str ({names!r})")
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split(".")[0], []).append(n)
    return groups


def gate_channels(block: nn.Module) -> int | None:
    """Number of channels ``C`` an SE block gates, or ``None`` if it cannot be told.

    Read from the block's ``channels`` attribute (``SEBlock``, ``NoSqueezeSE``), else from the
    output width of its ``fc2`` (timm's SE modules: a ``Linear`` or a 1 x 1 ``Conv2d``).
    """
    channels = getattr(block, "channels", None)
    if isinstance(channels, int) and not isinstance(channels, bool):
        return channels
    fc2 = getattr(block, "fc2", None)
    if isinstance(fc2, nn.Linear):
        return fc2.out_features
    if isinstance(fc2, nn.Conv2d):
        return fc2.out_channels
    return None


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
    outputs are exactly what they would be without recording. Only blocks with one gate per
    channel can be recorded: a block without squeeze (per-position gates ``(N, C, H, W)``)
    makes the forward pass raise ``ValueError``.

    Args:
        model: any model with SE blocks (see :func:`se_blocks`).
        names: which blocks to record (default: all; see :func:`select_se_blocks`).
    """

    def __init__(self, model: nn.Module, names: Iterable[str] | str | None = None) -> None:
        self.blocks = select_se_blocks(model, names)
        self._records: dict[str, list[torch.Tensor]] = {n: [] for n in self.blocks}
        self._handles: list[Any] = []

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if output.dim() not in (2, 4) or (output.dim() == 4 and output.shape[2:] != (1, 1)):
                raise ValueError(f"SE block {name!r} gives gates of shape {tuple(output.shape)}; "
                                 "GateRecorder records one gate per channel, (N, C) or (N, C, 1, 1)")
            self._records[name].append(output.detach().flatten(1).clone())  # (N, C, 1, 1) -> (N, C)

        return hook

    def __enter__(self) -> GateRecorder:
        gates_seen: set[int] = set()
        try:
            for name, block in self.blocks.items():
                g = gate_module(block)
                assert g is not None  # select_se_blocks gives SE blocks only
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


# The return type follows return_logits: the gates alone, or (gates, logits).
@overload
def record_gates(model: nn.Module, images: torch.Tensor, names: Iterable[str] | str | None = None, *,
                 batch_size: int = 256, return_logits: Literal[False] = False) -> dict[str, torch.Tensor]: ...


@overload
def record_gates(model: nn.Module, images: torch.Tensor, names: Iterable[str] | str | None = None, *,
                 batch_size: int = 256,
                 return_logits: Literal[True]) -> tuple[dict[str, torch.Tensor], torch.Tensor]: ...


@overload
def record_gates(model: nn.Module, images: torch.Tensor, names: Iterable[str] | str | None = None, *,
                 batch_size: int = 256, return_logits: bool = False,
                 ) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], torch.Tensor]: ...


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
    images = _checks.feature_map("images", images)
    batch_size = _checks.positive_int("batch_size", batch_size)
    _checks.boolean("return_logits", return_logits)
    with GateRecorder(model, names) as rec:
        logits = outputs(model, images, batch_size=batch_size)
    gates = rec.gates()
    return (gates, logits) if return_logits else gates


def record_feature_maps(
    model: nn.Module, images: torch.Tensor, name: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The input, gates and output of one SE block for ``images`` (eval mode, no gradients).

    Returns:
        ``(before (N, C, h, w), gates (N, C), after (N, C, h, w))``: the feature map the block
        receives, its gates, and the rescaled map it returns (``after = gates * before``).
    """
    images = _checks.feature_map("images", images)
    if not isinstance(name, str):
        raise TypeError(f"name must be the str name of one SE block, got {type(name).__name__}")
    block = select_se_blocks(model, [name])[name]
    seen: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        seen["before"] = inputs[0].detach().clone()
        seen["after"] = output.detach().clone()

    with GateRecorder(model, [name]) as rec:
        handle = block.register_forward_hook(hook)
        try:
            outputs(model, images, batch_size=len(images))
        finally:
            handle.remove()
    return seen["before"], rec.gates()[name], seen["after"]


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


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
    gates = _checks.gate_matrix("gates", gates).double()
    labels = _checks.class_labels(labels, gates.shape[0])
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


def _by_block(name: str, gates: object) -> Mapping[str, torch.Tensor]:
    if not isinstance(gates, Mapping) or not gates:
        raise TypeError(f"{name} must be a non-empty {{block name: gates}} dict (as record_gates "
                        f"returns), got {type(gates).__name__}")
    return gates


def specificity_by_block(gates: Mapping[str, torch.Tensor], labels: torch.Tensor) -> dict[str, float]:
    """:func:`class_specificity` of every block in ``{name: (N, C) gates}``."""
    return {name: class_specificity(g, labels) for name, g in _by_block("gates", gates).items()}


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
    return {name: saturation(g, high, low) for name, g in _by_block("gates", gates).items()}


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
