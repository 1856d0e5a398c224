"""Trained models shipped with the library, verified before use.

The files in ``senet_lib/checkpoints/`` were written by the experiment command (see
:mod:`senet_lib.experiments`) together with the results file that records their SHA-256;
nothing here was made by hand. Loading checks the hash first, then reads the file with
``torch.load(..., weights_only=True)`` (tensors and plain Python values only, no code).

Use::

    from senet_lib.checkpoints import load_trained
    model, meta = load_trained("se")        # or "plain", its twin without SE

``model`` is a :class:`senet_lib.cifar_resnet.CifarResNet` in eval mode on the CPU, for
``(N, 3, 32, 32)`` inputs normalised with ``meta["mean"]`` and ``meta["std"]``; its SE
blocks are ``model.se_blocks()`` (``{"layer1.0.se": SEBlock, ...}``), whose ``.gate``
sub-modules take forward hooks. ``meta`` is a dict with:

* ``class_names``: list of the 10 class names (photo names), index = logit position;
* ``mean``, ``std``: per-channel normalisation (lists of 3 floats);
* ``architecture``: ``{"depth", "width", "reduction", "num_classes", "se"}``;
* ``seed``, ``final_test_acc``, ``file``, ``sha256``: which run this is, how it scored;
* ``dataset``: the results file's description of the data, including ``"generator"``,
  the arguments with which :func:`senet_lib.data.photo_patches` recreates the exact
  training and test patches (e.g. ``photo_patches("test", 100, seed=0)``);
* ``results``: the name of the results file the checkpoint belongs to.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .cifar_resnet import CifarResNet, cifar_resnet

__all__ = ["CheckpointError", "load_trained", "load_checkpoint", "verify"]

#: The results file whose ``"checkpoints"`` entry lists the shipped checkpoints.
DEFAULT_RESULTS = "compare_photos.json"

_REMEDY = (
    "The file is damaged or does not belong to this results file. Reinstall senet_lib "
    "(pip install --force-reinstall ...), or restore it with git (git checkout -- {path}), "
    "or regenerate both with the command recorded in the results file: {command}"
)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged, or not the one its results file recorded."""


def verify(path: str | Path, sha256: str, *, command: str = "(see the results file)") -> None:
    """Raise :class:`CheckpointError` unless the file at ``path`` has this SHA-256."""
    path = Path(path)
    remedy = _REMEDY.format(path=path, command=command)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found. {remedy}")
    h = hashlib.sha256(path.read_bytes()).hexdigest()
    if h != sha256:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has SHA-256 {h}, but {sha256} was recorded when it was "
            f"written. {remedy}"
        )


def load_checkpoint(path: str | Path, sha256: str, *, command: str = "(see the results file)"
                    ) -> tuple[CifarResNet, dict[str, Any]]:
    """Verify and load the checkpoint at ``path``: ``(model in eval mode, payload without weights)``."""
    verify(path, sha256, command=command)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        arch = payload["architecture"]
        knobs = arch.get("knobs", {"se": arch["se"]})  # files of format 1 record only "se"
        model = cifar_resnet(arch["depth"], arch["num_classes"], reduction=arch["reduction"],
                             width=arch["width"], **knobs)
        model.load_state_dict(payload["state_dict"])
    except Exception as e:  # hash matched but content unusable: say which file
        raise CheckpointError(
            f"checkpoint {str(path)!r} could not be loaded as a senet_lib CIFAR ResNet "
            f"({type(e).__name__}: {e}). {_REMEDY.format(path=path, command=command)}"
        ) from e
    model.eval()
    return model, {k: v for k, v in payload.items() if k != "state_dict"}


def load_trained(kind: str = "se", results: str = DEFAULT_RESULTS) -> tuple[CifarResNet, dict[str, Any]]:
    """The shipped SE-ResNet (``kind="se"``) or its plain twin (``kind="plain"``), verified.

    Other results files record other models: ``load_trained("eca", "beyond_photos.json")``
    is chapter 10's ECA-ResNet (the sweep's arms, by name).

    Args:
        kind: ``"se"`` or ``"plain"``, or an arm of a sweep that saved checkpoints.
        results: the results file (in ``senet_lib/results/``) that recorded the checkpoint.

    Returns:
        ``(model, meta)``: the model in eval mode, on the CPU, mapping normalised
        ``(N, 3, 32, 32)`` images to ``(N, 10)`` logits; ``meta`` as described in the
        module docstring (class names, normalisation, architecture, seed, accuracy, data).

    Raises:
        ValueError: the results file records no checkpoint called ``kind``.
        CheckpointError: the file is missing, its SHA-256 differs from the recorded one,
            or it cannot be loaded; the message names the file and what to do.
    """
    from .records import load_results

    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str such as 'se' or 'plain', got {type(kind).__name__}")
    res = load_results(results)
    recorded = res.get("checkpoints") or {}
    if not recorded:
        raise CheckpointError(f"results file {results!r} records no checkpoints; "
                              f"run its command with --checkpoint-dir: {res.get('command')}")
    if kind not in recorded:
        raise ValueError(f"kind must be one of the checkpoints {results!r} records, "
                         f"{sorted(recorded)}, got {kind!r}")
    entry = recorded[kind]
    ref = resources.files("senet_lib") / "checkpoints" / entry["file"]
    with resources.as_file(ref) as path:
        model, payload = load_checkpoint(path, entry["sha256"], command=res["command"])
    meta = {**payload, "seed": entry["seed"], "final_test_acc": entry["final_test_acc"],
            "file": entry["file"], "sha256": entry["sha256"], "dataset": res["dataset"],
            "results": results}
    return model, meta
