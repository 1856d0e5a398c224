"""Removing SE blocks from a trained model, and what it costs.

* :func:`replace_se` returns a *copy* of a model with chosen SE blocks replaced by the
  identity (every gate 1) or by their mean gates (:class:`ConstantGate`, a fixed scale per
  channel); the model passed in is never modified.
* :func:`removal_study` measures both replacements on a set of images: the accuracy change,
  the predictions that flip, and the parameters saved (:class:`RemovalResult`).

Nothing is retrained. Shapes: images ``(N, 3, H, W)``, labels ``(N,)``, gates ``(N, C)``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from . import _checks
from .cost import count_parameters
from .gates import gate_channels, record_gates, se_blocks, select_se_blocks
from .train import predict

__all__ = ["ConstantGate", "replace_se", "RemovalResult", "removal_study"]


class ConstantGate(nn.Module):
    """Multiply channel ``c`` by a fixed ``gates[c]``: an SE block frozen at its mean gate.

    ``gates`` is ``(C,)``, stored as a buffer (not a parameter). Input and output
    ``(N, C, H, W)``. After a batch norm, this constant scale can be folded into the batch
    norm's weight and bias, so it costs nothing at inference.
    """

    if TYPE_CHECKING:  # for mypy only: TorchScript cannot read the annotation (a string here)
        gates: torch.Tensor  # (C,), the buffer registered in __init__

    def __init__(self, gates: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(gates, torch.Tensor) or gates.dim() != 1 or len(gates) == 0:
            raise ValueError(f"gates must be a non-empty 1-D tensor (C,), got {getattr(gates, 'shape', gates)!r}")
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
    blocks = select_se_blocks(model, names)
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
        # how="mean" comes with mean_gates (checked above)
        _set_submodule(new, n, ConstantGate(mean_gates[n]) if how == "mean" and mean_gates is not None
                       else nn.Identity())
    return new


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
    images = _checks.feature_map("images", images)
    _checks.boolean("predicted", predicted)
    blocks = select_se_blocks(model, names)
    gates: Mapping[str, torch.Tensor]
    if reference is None:
        gates, logits = record_gates(model, images, list(blocks), batch_size=batch_size,
                                     return_logits=True)
    else:
        if not isinstance(reference, tuple) or len(reference) != 2:
            raise ValueError("reference must be the (gates, logits) pair that record_gates(..., "
                             f"return_logits=True) returns, got {type(reference).__name__}")
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
    labels = _checks.class_labels(labels, len(images))
    full = logits.argmax(1)
    no_se = replace_se(model, list(blocks), "identity")
    frozen = replace_se(model, list(blocks), "mean", {n: g.mean(0) for n, g in gates.items()})
    pred_identity = predict(no_se, images, batch_size=batch_size)
    pred_mean = predict(frozen, images, batch_size=batch_size)
    params_full = count_parameters(model)
    return RemovalResult(
        names=list(blocks),
        accuracy_full=float((full == labels).double().mean()),
        accuracy_identity=float((pred_identity == labels).double().mean()),
        accuracy_mean=float((pred_mean == labels).double().mean()),
        flipped_identity=float((pred_identity != full).double().mean()),
        flipped_mean=float((pred_mean != full).double().mean()),
        params_full=params_full,
        params_saved=params_full - count_parameters(no_se),
        se_params_full=sum(count_parameters(b) for b in se_blocks(model).values()),
    )
