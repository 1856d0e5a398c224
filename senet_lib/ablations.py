"""The paper's ablations (Tables 10-16) at small scale, as data: the arms and studies of chapter 8.

An arm is a name and what fills the network's attention slot and where (the fields of
:data:`senet_lib.config.ARM_FIELDS`; :data:`ARMS`); a study is a list of arms compared with the
same seeds against the default SE arm and the plain network (:data:`STUDIES`). ``compare`` (plain
against SE, chapter 6) is one study among them. :func:`arm_config` turns an arm into a run's
configuration; :mod:`senet_lib.runner` trains them, :mod:`senet_lib.report` judges them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from .config import RunConfig, build_model
from .cost import count_flops, count_parameters

__all__ = ["ARMS", "STUDIES", "PAPER_STUDIES", "sweep_arms", "arm_config", "arm_cost"]


#: Every arm: its name and the fields of :class:`~senet_lib.config.RunConfig` it sets (the rest of
#: the arm fields as the plain network has them: no block, all stages, the standard position).
#: ``"se"`` is the default SE-ResNet every study compares to.
ARMS: dict[str, dict[str, Any]] = {
    "plain": {"attn": "none"},
    "se": {"attn": "se"},
    "r2": {"attn": "se", "attn_options": {"reduction": 2}},
    "r4": {"attn": "se", "attn_options": {"reduction": 4}},
    "r8": {"attn": "se", "attn_options": {"reduction": 8}},
    "r32": {"attn": "se", "attn_options": {"reduction": 32}},
    "pool_max": {"attn": "se", "attn_options": {"pool": "max"}},
    "pool_avgmax": {"attn": "se", "attn_options": {"pool": "avgmax"}},
    "gate_tanh": {"attn": "se", "attn_options": {"gate": "tanh"}},
    "gate_relu": {"attn": "se", "attn_options": {"gate": "relu"}},
    "gate_hard_sigmoid": {"attn": "se", "attn_options": {"gate": "hard_sigmoid"}},
    "stage1": {"attn": "se", "stages": [1]},
    "stage2": {"attn": "se", "stages": [2]},
    "stage3": {"attn": "se", "stages": [3]},
    "pos_pre": {"attn": "se", "position": "pre"},
    "pos_post": {"attn": "se", "position": "post"},
    "pos_identity": {"attn": "se", "position": "identity"},
    "no_squeeze": {"attn": "no_squeeze"},
    # chapter 10: SE's successors in SE's place (senet_lib.successors)
    "eca": {"attn": "eca"},
    "cbam": {"attn": "cbam"},
    "ge": {"attn": "ge"},
    "ge_learned": {"attn": "ge_learned"},
    # chapter 7: one learned gate per channel that does not depend on the image, from the start
    "scale": {"attn": "scale"},
}

#: Each study: the paper's table (``None`` for those that are not the paper's), its arms (each
#: study also holds ``plain``, unless ``"plain": False``), and the arm the others are judged
#: against, ``"reference"`` (``"se"`` unless it says otherwise).
STUDIES: dict[str, dict[str, Any]] = {
    "reduction": {"paper_table": 10, "arms": ["r2", "r4", "r8", "se", "r32"]},
    "squeeze": {"paper_table": 11, "arms": ["se", "pool_max", "pool_avgmax"]},
    "excitation": {"paper_table": 12, "arms": ["se", "gate_tanh", "gate_relu", "gate_hard_sigmoid"]},
    "stages": {"paper_table": 13, "arms": ["stage1", "stage2", "stage3", "se"]},
    "integration": {"paper_table": 14, "arms": ["se", "pos_pre", "pos_post", "pos_identity"]},
    "no_squeeze": {"paper_table": 16, "arms": ["se", "no_squeeze"]},
    # not the SE paper's: chapter 10's successors, and chapter 7's context controls
    "beyond": {"paper_table": None, "arms": ["se", "eca", "cbam", "ge", "ge_learned"]},
    # (chapter 6's experiment has the plain network with the same seeds: "plain": False skips it)
    "context": {"paper_table": None, "arms": ["se", "scale"], "plain": False},
    # chapter 6: plain against SE (the command `compare`)
    "compare": {"paper_table": None, "arms": ["se"], "reference": "plain"},
}

#: The studies of the SE paper (chapter 8), the sweep's default.
PAPER_STUDIES: tuple[str, ...] = tuple(s for s, spec in STUDIES.items() if spec["paper_table"] is not None)


def sweep_arms(studies: Sequence[str]) -> list[str]:
    """The arms that ``studies`` need, plain (unless every study says ``"plain": False``) and the
    default SE first, each once."""
    unknown = [s for s in studies if s not in STUDIES]
    if unknown or not studies:
        raise ValueError(f"studies must name one or more of {list(STUDIES)}, got {list(studies)}")
    arms = ["plain", "se"] if any(STUDIES[s].get("plain", True) for s in studies) else ["se"]
    for study in studies:
        arms += [a for a in STUDIES[study]["arms"] if a not in arms]
    return arms


def arm_config(base: RunConfig, arm: str, seed: int | None = None) -> RunConfig:
    """``base`` with the arm fields of ``arm`` (a key of :data:`ARMS`), and ``seed`` if given."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}, got {arm!r}")
    plain = {"attn": "none", "attn_options": {}, "stages": (1, 2, 3), "position": "standard"}
    return replace(base, **{**plain, **ARMS[arm], **({} if seed is None else {"seed": seed})})


def _se_elementwise_ops(model: torch.nn.Module, input_size: tuple[int, ...]) -> int:
    """Operations of the attention blocks that FLOP counters miss (pooling, stretching, scaling;
    :func:`senet_lib.successors.elementwise_ops`), for every unit's ``se`` slot."""
    from .successors import elementwise_ops

    total = 0

    def count(module, inputs):
        nonlocal total
        total += elementwise_ops(module, inputs[0].shape)

    slots = [getattr(m, "se", None) for m in model.modules()]
    handles = [s.register_forward_pre_hook(count) for s in slots
               if isinstance(s, torch.nn.Module) and not isinstance(s, torch.nn.Identity)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_size))
    finally:
        for h in handles:
            h.remove()
    return total


def arm_cost(cfg: RunConfig) -> dict[str, Any]:
    """Parameters and FLOPs (for one 32 x 32 image) of ``cfg``'s network; its weights are drawn
    with the global RNG's state saved and restored (counting changes no run)."""
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg)
    size = (1, 3, 32, 32)
    return {"params": count_parameters(model), "flops": count_flops(model, size),
            "se_elementwise_ops": _se_elementwise_ops(model, size)}
