"""What fills a network's attention slot, by name: one function builds every block.

A network built by this library has an *attention slot* in each residual unit (the attribute
``se`` of the unit, wherever the network puts it); what fills it is a name from
:data:`ATTENTION` and that block's options::

    make_attention("se", 64, reduction=8, gate="tanh")   # SEBlock(64, 8, gate="tanh")
    make_attention("eca", 64)                            # ECABlock(64), k from C
    make_attention("none", 64)                           # nn.Identity(): the plain network

The same name and options go to :func:`senet_lib.cifar_resnet.cifar_resnet` (``attn=``,
``attn_options=``) and :func:`senet_lib.networks.add_attention`; *where* the blocks go (the
position in the unit, which stages) is the network's business, not the block's. An arm of an
ablation study is such a name with its options (:data:`senet_lib.ablations.ARMS`).

:func:`attention_options` gives every option of a block with its value, defaults filled in, and
rejects options the block does not have, naming them; results files and checkpoints record that
full dict, so ``{"reduction": 16}`` and ``{}`` mean the same SE block and compare equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from . import _checks

__all__ = ["ATTENTION", "attention_options", "make_attention"]

#: Every block the slot can hold, by name, with what it is.
ATTENTION: dict[str, str] = {
    "none": "nothing: the slot is an identity (the plain network)",
    "se": "SEBlock: squeeze, bottleneck MLP, sigmoid (Hu et al.)",
    "no_squeeze": "NoSqueezeSE: SE's bottleneck as 1x1 convolutions at every position, no squeeze (paper Table 16)",
    "scale": "control: one learned gate per channel, sigmoid(w_c), the same for every image",
    "constant": "control: every gate fixed at 0.5 (option value), nothing learned",
    "eca": "ECABlock: squeeze, 1-D convolution across channels, sigmoid (Wang et al.)",
    "cbam": "CBAMBlock: avg+max channel attention, then 7x7 spatial attention (Woo et al.)",
    "ge": "GatherExcite, parameter-free (GE-θ-), extent 4",
    "ge_learned": "GatherExcite with a learned depthwise gather (GE-θ), extent 4",
}

#: Per name: the options it takes and their defaults (the constructors' own defaults, except
#: gather-excite's extent, 4 here), and those fixed by the name itself.
_OPTIONS: dict[str, dict[str, Any]] = {
    "none": {},
    "se": {"reduction": 16, "pool": "avg", "gate": "sigmoid", "bias1": False, "bias2": True},
    "no_squeeze": {"reduction": 16},
    "scale": {"init": 0.5},
    "constant": {"value": 0.5},
    "eca": {"kernel_size": None, "minimum_kernel": 1},
    "cbam": {"reduction": 16, "spatial_kernel": 7, "bias": False},
    "ge": {"extent": 4, "mlp": False, "reduction": 16},
    "ge_learned": {"extent": 4, "mlp": False, "reduction": 16, "feature_size": None},
}
_FIXED: dict[str, dict[str, Any]] = {"ge": {"learned": False}, "ge_learned": {"learned": True}}


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name not in ATTENTION:
        raise ValueError(f"attn must be one of {tuple(ATTENTION)}, got {name!r}")
    return name


def attention_options(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every option of the block ``name`` with its value: ``options`` over the defaults.

    ``attention_options("se", {"reduction": 2})`` is ``{"reduction": 2, "pool": "avg",
    "gate": "sigmoid", "bias1": False, "bias2": True}``. Values are checked when the block is
    built (by its constructor, with its own message); names are checked here.

    Raises:
        ValueError: an unknown ``name``, or an option the block does not take (the message
            lists those it takes).
    """
    name = _check_name(name)
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise TypeError(f"attn_options must be a dict of option names to values, got {options!r}")
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        takes = ", ".join(_OPTIONS[name]) or "no options"
        raise ValueError(f"attn_options: {name!r} takes {takes}; got {unknown} in {dict(options)!r}")
    full = {**_OPTIONS[name], **options}
    if full.get("feature_size") is not None:  # JSON gives a list; the block wants a pair
        full["feature_size"] = tuple(full["feature_size"])
    return full


def _constant(channels: int, *, value: float) -> nn.Module:
    from .removal import ConstantGate  # imported here: removal pulls in the scoring code

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a number (the fixed gate), got {value!r}")
    return ConstantGate(torch.full((_checks.positive_int("channels", channels),), float(value)))


def _builders() -> dict[str, Callable[..., nn.Module]]:
    from .block import ChannelScale, NoSqueezeSE, SEBlock
    from .successors import CBAMBlock, ECABlock, GatherExcite

    def identity(channels: int) -> nn.Module:
        _checks.positive_int("channels", channels)
        return nn.Identity()

    return {"none": identity, "se": SEBlock, "no_squeeze": NoSqueezeSE, "scale": ChannelScale,
            "constant": _constant, "eca": ECABlock, "cbam": CBAMBlock, "ge": GatherExcite,
            "ge_learned": GatherExcite}


def make_attention(name: str, channels: int, **options: Any) -> nn.Module:
    """Build the block ``name`` (a key of :data:`ATTENTION`) for ``(N, channels, H, W)`` inputs.

    ``options`` are the block's own (:func:`attention_options` lists them with their defaults):
    ``reduction``, ``pool``, ``gate``, ``bias1``, ``bias2`` for SE; ``reduction`` for the
    no-squeeze SE, CBAM and gather-excite's MLP; ``kernel_size`` for ECA; ``extent`` and ``mlp``
    for gather-excite; ``init`` for the learned scale, ``value`` for the constant gate.

    Returns:
        The block, mapping ``(N, channels, H, W)`` to the same shape (``nn.Identity`` for
        ``"none"``).
    """
    full = attention_options(name, options)
    return _builders()[name](channels, **full, **_FIXED.get(name, {}))
