"""Argument checks shared by the library: fail where bad input enters, and say why.

Every error names the argument, the value it got and what was expected, so that
a reader who passes ``reduction=0`` or a 3-D tensor learns what to change.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` if it is a positive integer, else raise.

    ``bool`` is rejected on purpose: ``SEBlock(True)`` is almost surely a slip.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive int, got {value!r} of type {type(value).__name__}"
        )
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def boolean(name: str, value: object) -> bool:
    """Return ``value`` if it is ``True`` or ``False``, else raise (``1`` or ``"yes"`` are slips)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return value


# Tracing tools and these checks. ``torch.fx.symbolic_trace`` (and torchvision's
# ``create_feature_extractor``, built on it) calls ``forward`` with a ``Proxy`` instead of a
# tensor, and a check that asks ``isinstance(x, torch.Tensor)`` or ``x.dim() != 4`` of a Proxy
# cannot answer. ``torch.fx.wrap`` makes ``feature_map`` a leaf: the tracer records one call of it
# in the graph instead of stepping inside, so the traced module runs the same checks, with the
# same messages, on every real input. (Skipping the checks for a Proxy would lose them in the
# traced module.) The node's result is unused, so a pass that drops dead code (as
# ``create_feature_extractor`` does) removes it with the layers its outputs do not need.
# ``torch.jit.script`` cannot compile f-strings with ``!r`` or ``type(x).__name__``; it does not
# compile a call under ``if not torch.jit.is_scripting()``, so scripted modules skip the checks.
# ``torch.compile`` and ``torch.export`` trace through the checks as ordinary Python.
@torch.fx.wrap
def feature_map(name: str, x: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """Check that ``x`` is a floating-point ``(N, C, H, W)`` tensor with ``C == channels``; return it.

    Raises ``TypeError`` for a non-tensor or an integer tensor, ``ValueError`` for another
    number of dimensions, another channel count or an empty ``H x W``. A leaf function for
    ``torch.fx`` (the check runs in the traced module) and a no-op in TorchScript.
    """
    if not torch.jit.is_scripting():
        _check_feature_map(name, x, channels)
    return x


def _check_feature_map(name: str, x: object, channels: int | None) -> None:
    """The Python checks of :func:`feature_map`."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}"
        )
    if x.dim() != 4:
        raise ValueError(
            f"{name} must be 4-D (N, C, H, W), got shape {tuple(x.shape)} ({x.dim()}-D)"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (e.g. torch.float32), got dtype {x.dtype}"
        )
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} has {x.shape[1]} channels (shape {tuple(x.shape)}), "
            f"but this block was built for channels={channels}"
        )
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(
            f"{name} must have a non-empty spatial size, got H x W = {x.shape[2]} x {x.shape[3]}"
        )


def gate_matrix(name: str, gates: object) -> torch.Tensor:
    """Check that ``gates`` is a non-empty floating-point ``(N, C)`` tensor (one row per image)."""
    if not isinstance(gates, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C), got {type(gates).__name__}")
    if gates.dim() != 2 or gates.shape[0] == 0 or gates.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D tensor (N, C), got shape {tuple(gates.shape)}")
    if not gates.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {gates.dtype}")
    return gates


def class_labels(labels: object, n: int) -> torch.Tensor:
    """Check that ``labels`` holds ``n`` integer class labels ``(n,)``; lists are converted."""
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dim() != 1 or len(labels) != n or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(
            f"labels must be a 1-D integer tensor with one label per row of the gates or images ({n} rows), "
            f"got shape {tuple(labels.shape)} and dtype {labels.dtype}"
        )
    return labels


def stages(name: str, value: object, n_stages: int, model_name: str) -> list[int]:
    """``value`` as a sorted list of distinct stage numbers in ``1 .. n_stages``; ``None`` means all.

    ``model_name`` says in the error which model has which stages (e.g. ``"ResNet"``).
    """
    valid = list(range(1, n_stages + 1))
    if value is None:
        return valid
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be None or a sequence of stage numbers such as (2, 3), got {value!r}")
    chosen = list(value)
    for s in chosen:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"{name} must contain ints, got {s!r} in {name}={value!r}")
        if s not in valid:
            raise ValueError(f"{name}={value!r}: stage {s} does not exist; a {model_name} has stages {valid}")
    if not chosen:
        raise ValueError(f"{name} is empty: name at least one stage, or pass None for all")
    return sorted(set(chosen))
