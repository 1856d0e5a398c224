"""Trained models: saved with their configuration, loaded by building from it, verified by SHA-256.

A checkpoint holds the weights and the :class:`~senet_lib.config.RunConfig` of the run that
trained them (``"config"``, :meth:`~senet_lib.config.RunConfig.to_dict`); loading builds the
network from that dict (:func:`~senet_lib.config.build_model`) and fills in the weights, so what
was saved is what is built. The results file that the experiment command wrote with a checkpoint
records its SHA-256; loading checks the hash first, then reads the file with
``torch.load(..., weights_only=True)`` (tensors and plain Python values only, no code). Files of
format 1 (``"architecture"`` and the old ``knobs``) load too: their network is rebuilt from those
(:func:`senet_lib.config.arm_from_knobs`).

Use::

    from senet_lib.checkpoints import load_trained
    model, meta = load_trained("se")        # or "plain", its twin without SE

``model`` is a :class:`senet_lib.cifar_resnet.CifarResNet` in eval mode on the CPU, for
``(N, 3, 32, 32)`` inputs normalised with ``meta["mean"]`` and ``meta["std"]``; its SE
blocks are ``model.se_blocks()`` (``{"layer1.0.se": SEBlock, ...}``), whose ``.gate``
sub-modules take forward hooks. ``meta`` is a dict with:

* ``config``: the run's configuration (``depth``, ``width``, ``attn``, ``attn_options``, ...,
  ``seed``), as :meth:`RunConfig.to_dict` gives it;
* ``class_names``: list of the 10 class names (photo names), index = logit position;
* ``mean``, ``std``: per-channel normalisation (lists of 3 floats);
* ``seed``, ``final_test_acc``, ``file``, ``sha256``: which run this is, how it scored;
* ``dataset``: the results file's description of the data, including ``"generator"``,
  the arguments with which :func:`senet_lib.data.photo_patches` recreates the exact
  training and test patches (e.g. ``photo_patches("test", 100, seed=0)``);
* ``results``: the name of the results file the checkpoint belongs to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import RunConfig, arm_from_knobs, build_model

__all__ = ["CheckpointError", "checkpoint_name", "save_checkpoint", "load_trained", "load_checkpoint",
           "verify", "FORMAT"]

#: Checkpoint format: 2 stores the run's configuration; 1 stored ``architecture`` and ``knobs``.
FORMAT = 2

#: The results file whose ``"checkpoints"`` entry lists the shipped checkpoints.
DEFAULT_RESULTS = "compare_photos.json"

_REMEDY = (
    "The file is damaged or does not belong to this results file. Reinstall senet_lib "
    "(pip install --force-reinstall ...), or restore it with git (git checkout -- {path}), "
    "or regenerate both with the command recorded in the results file: {command}"
)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged, or not the one its results file recorded."""


def checkpoint_name(dataset: str, depth: int, arm: str) -> str:
    """The file name of an arm's checkpoint, e.g. ``photos_resnet20_se.pt``."""
    return f"{dataset}_resnet{depth}_{arm}.pt"


def save_checkpoint(model: nn.Module, cfg: RunConfig, path: str | Path, *, info: Mapping[str, Any],
                    final_test_acc: float) -> dict[str, Any]:
    """Save ``model``'s weights with ``cfg`` and the data's class names and normalisation
    (``info``, as :func:`senet_lib.config.build_data` gives it) to ``path``; return the entry a
    results file records: ``{"file", "sha256", "bytes", "seed", "final_test_acc"}``."""
    from .results import sha256_of

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "class_names": list(info["classes"]),
        "mean": list(info["mean"]),
        "std": list(info["std"]),
    }
    torch.save(payload, path)
    return {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "seed": cfg.seed, "final_test_acc": final_test_acc}


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


def _build(payload: Mapping[str, Any], config: RunConfig | None) -> nn.Module:
    """The network of ``payload`` (format 2: its config; format 1: its architecture and knobs),
    or of ``config`` when given (which must then be the payload's own)."""
    if payload.get("format") == FORMAT:
        saved = RunConfig.from_dict(payload["config"])
        if config is not None and config != saved:
            diff = sorted(k for k, v in saved.to_dict().items() if config.to_dict()[k] != v)
            raise ValueError(f"the checkpoint's configuration differs from the results file's in {diff}")
        return build_model(saved)
    if config is not None:
        return build_model(config)
    from .cifar_resnet import cifar_resnet

    arch = payload["architecture"]
    arm = arm_from_knobs(arch.get("knobs", {"se": arch["se"]}), arch["reduction"])
    return cifar_resnet(arch["depth"], arch["num_classes"], width=arch["width"], **arm)


def load_checkpoint(path: str | Path, sha256: str, *, command: str = "(see the results file)",
                    config: RunConfig | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Verify and load the checkpoint at ``path``: ``(model in eval mode on the CPU, payload
    without the weights)``. ``config``, when given, is what the results file says the run was:
    the model is built from it (and a format-2 checkpoint must carry the same)."""
    verify(path, sha256, command=command)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):  # the weights are replaced: leave the caller's RNG be
            model = _build(payload, config)
        model.load_state_dict(payload["state_dict"])
    except Exception as e:  # hash matched but content unusable: say which file
        raise CheckpointError(
            f"checkpoint {str(path)!r} could not be loaded as a senet_lib CIFAR ResNet "
            f"({type(e).__name__}: {e}). {_REMEDY.format(path=path, command=command)}"
        ) from e
    model.eval()
    return model, {k: v for k, v in payload.items() if k != "state_dict"}


def load_trained(kind: str = "se", results: str = DEFAULT_RESULTS) -> tuple[nn.Module, dict[str, Any]]:
    """The shipped SE-ResNet (``kind="se"``) or its plain twin (``kind="plain"``), verified.

    Other results files record other models: ``load_trained("eca", "beyond_photos.json")``
    is chapter 10's ECA-ResNet (the sweep's arms, by name).

    Args:
        kind: ``"se"`` or ``"plain"``, or an arm of a sweep that saved checkpoints.
        results: the results file (in ``senet_lib/results/``) that recorded the checkpoint.

    Returns:
        ``(model, meta)``: the model in eval mode, on the CPU, mapping normalised
        ``(N, 3, 32, 32)`` images to ``(N, 10)`` logits, built from the configuration the
        results file records for that run; ``meta`` as described in the module docstring.

    Raises:
        ValueError: the results file records no checkpoint called ``kind``.
        CheckpointError: the file is missing, its SHA-256 differs from the recorded one,
            or it cannot be loaded; the message names the file and what to do.
    """
    from .records import load_results
    from .results import run_config

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
    cfg = run_config(res, kind, entry["seed"])
    ref = resources.files("senet_lib") / "checkpoints" / entry["file"]
    with resources.as_file(ref) as path:
        model, payload = load_checkpoint(path, entry["sha256"], command=res["command"], config=cfg)
    meta = {**payload, "config": cfg.to_dict(), "seed": entry["seed"], "final_test_acc": entry["final_test_acc"],
            "file": entry["file"], "sha256": entry["sha256"], "dataset": res["dataset"], "results": results}
    return model, meta
