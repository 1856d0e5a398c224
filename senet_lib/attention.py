"""Chapter 7's analysis of channel attention in one call: :func:`attention_report`.

For any model with SE blocks and a set of labelled images it records the gates of every
block, measures how class-specific they are (and the same at chance, with the labels
shuffled), how many saturate, and what removing the last stage's SE blocks costs. The
chapter runs it on timm's ``legacy_seresnet50``
(:func:`senet_lib.networks.timm_legacy_seresnet50`) and crops of the photographs
(:func:`senet_lib.photos.photo_views`).

The parts live in their own modules: recording and measures in :mod:`senet_lib.gates`,
removal in :mod:`senet_lib.removal`, the figures in :mod:`senet_lib.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .gates import group_by_stage, record_gates, saturation_by_block, specificity_by_block
from .removal import RemovalResult, removal_study

__all__ = ["AttentionReport", "attention_report"]


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
    images = _checks.feature_map("images", images)
    labels = _checks.class_labels(labels, len(images))
    _checks.boolean("agreement", agreement)
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
