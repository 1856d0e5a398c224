"""Experiments as commands, whose JSON results the chapters plot.

``compare`` trains the plain and the SE version of the same CIFAR-style ResNet for each
seed and writes everything needed to judge and to repeat the comparison::

    python -m senet_lib.experiments compare --dataset photos --seeds 0 1 2 --epochs 15 \\
        --out senet_lib/results/compare_photos.json --checkpoint-dir senet_lib/checkpoints

For every seed the two models start from ``torch.manual_seed(seed)`` and see the same
batches in the same order with the same augmentation (a paired comparison); the runs
alternate plain, SE, plain, SE, ... so that a change in the machine's load affects both.

The JSON holds: the exact command, all settings, the dataset (classes, sizes, credits,
normalisation), for each model its parameter count and, per seed, the per-epoch history,
the final test accuracy and the wall time, then mean and sample standard deviation over
seeds, the per-seed differences SE minus plain, library versions and the machine. With
``--checkpoint-dir``, the weights of both models trained with the *first* seed are saved
there and their file names, sizes and SHA-256 are recorded under ``"checkpoints"``
(:mod:`senet_lib.checkpoints` verifies them when loading).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Subset

from . import __version__
from .cifar_resnet import cifar_resnet, count_parameters
from .data import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, cifar10, photo_patches
from .train import pick_device, random_flip, train

__all__ = ["compare", "load_results", "summarize", "main", "sha256_of", "environment"]

#: Results format version, bumped when the layout of the JSON changes.
FORMAT = 1


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every result."""
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "senet_lib": __version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _datasets(settings: dict[str, Any]):
    """``(train_dataset, test_dataset, info)`` for the settings' dataset."""
    if settings["dataset"] == "photos":
        # results files written before these options existed used photo_patches' defaults
        nuisance = {k: settings.get(k, 0.5) for k in ("max_cast", "max_exposure")}
        tr = photo_patches("train", settings["per_class"], seed=settings["data_seed"], **nuisance)
        te = photo_patches("test", settings["test_per_class"], seed=settings["data_seed"], **nuisance)
        info = {
            "name": "photos", "classes": tr.class_names, "credits": tr.credits,
            "n_train": len(tr), "n_test": len(te), "image_size": 32,
            "mean": list(tr.mean), "std": list(tr.std),
            "generator": {"function": "senet_lib.data.photo_patches",
                          "per_class_train": settings["per_class"],
                          "per_class_test": settings["test_per_class"],
                          "seed": settings["data_seed"], **nuisance},
        }
        return tr.dataset(), te.dataset(), info
    root = settings["data_root"]
    tr = cifar10(root, train=True, download=settings["download"])
    te = cifar10(root, train=False, download=False)
    if settings["subset"]:
        tr = Subset(tr, range(min(settings["subset"], len(tr))))
        te = Subset(te, range(min(settings["subset"], len(te))))
    info = {"name": "cifar10", "classes": list(CIFAR10_CLASSES), "credits": ["Krizhevsky (2009)"],
            "n_train": len(tr), "n_test": len(te), "image_size": 32,
            "mean": list(CIFAR10_MEAN), "std": list(CIFAR10_STD)}
    return tr, te, info


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{"values", "mean", "std"}``; ``std`` is the sample standard deviation (0 for one value)."""
    values = [float(v) for v in values]
    return {"values": values, "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


# Two-sided 5 % critical values of Student's t for 1 to 10 degrees of freedom (then 10's).
T_CRIT_5 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23)


def paired_summary(results: dict[str, Any]) -> dict[str, Any]:
    """What a ``compare`` results dict says about SE minus plain, in points of accuracy.

    Returns ``n`` (seeds), ``plain`` and ``se`` (mean and sample std of the final test
    accuracy), ``mean`` and ``std`` of the per-seed differences, ``sem`` (their standard
    error), ``t`` (``mean / sem``), ``t_crit`` (the two-sided 5 % bar for ``n - 1`` degrees of
    freedom), ``clear`` (``|t| > t_crit``) and ``wins`` (seeds where SE is ahead).

    Raises:
        ValueError: fewer than 2 seeds (no spread to judge the difference by).
    """
    d = [100 * v for v in results["se_minus_plain"]["values"]]
    n = len(d)
    if n < 2:
        raise ValueError(f"results must hold at least 2 seeds to judge a difference, got {n}")
    mean, std = statistics.fmean(d), statistics.stdev(d)
    sem = std / n ** 0.5
    t = mean / sem if sem > 0 else float("inf") * (1 if mean >= 0 else -1)
    t_crit = T_CRIT_5[min(n - 1, len(T_CRIT_5)) - 1]
    acc = {k: {"mean": 100 * results["models"][k]["final_test_acc"]["mean"],
               "std": 100 * results["models"][k]["final_test_acc"]["std"]} for k in ("plain", "se")}
    return {"n": n, **acc, "mean": mean, "std": std, "sem": sem, "t": t, "t_crit": t_crit,
            "clear": abs(t) > t_crit, "wins": sum(v > 0 for v in d)}


def _run_one(settings: dict[str, Any], seed: int, kind: str, checkpoint_dir: str | None,
             progress: bool, threads: int | None = None) -> tuple[dict[str, Any], dict[str, Any] | None, int]:
    """Train one model (``kind`` is ``"plain"`` or ``"se"``) with one seed.

    Returns ``(run entry, checkpoint entry or None, parameter count)``. A top-level function,
    so that ``--jobs`` can run it in worker processes.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    device = pick_device(settings["device"])
    train_ds, test_ds, info = _datasets(settings)
    num_classes = len(info["classes"])
    arch = {"depth": settings["depth"], "width": settings["width"],
            "reduction": settings["reduction"], "num_classes": num_classes}
    torch.manual_seed(seed)
    model = cifar_resnet(arch["depth"], num_classes, se=kind == "se",
                         reduction=arch["reduction"], width=arch["width"])
    t0 = time.perf_counter()
    hist = train(model, train_ds, test_ds, epochs=settings["epochs"],
                 batch_size=settings["batch_size"], lr=settings["lr"],
                 momentum=settings["momentum"], weight_decay=settings["weight_decay"],
                 warmup_epochs=settings["warmup_epochs"],
                 # the CIFAR-10 loader crops and flips already; the photo patches get flips here
                 augment=random_flip if settings["dataset"] == "photos" else None,
                 seed=seed, device=device, progress=progress, desc=f"{kind:>5} seed {seed}")
    run = {"seed": seed, "final_test_acc": hist.test_acc[-1],
           "wall_time_s": time.perf_counter() - t0, "history": hist.to_dict()}
    saved = None
    if checkpoint_dir is not None and seed == settings["seeds"][0]:
        saved = _save_checkpoint(model, kind, arch, info, settings, seed, hist.test_acc[-1],
                                 Path(checkpoint_dir))
    return run, saved, count_parameters(model)


def compare(settings: dict[str, Any], *, checkpoint_dir: str | Path | None = None,
            progress: bool = True, jobs: int = 1) -> dict[str, Any]:
    """Train plain and SE ResNets for every seed in ``settings["seeds"]``; return the results dict.

    ``settings`` has the keys of the ``compare`` command's options (see ``--help``). With
    ``jobs > 1`` the runs go to that many worker processes (one torch thread each, no
    progress bars); every run is seeded, so the numbers are the same as with ``jobs=1``,
    only the wall times differ.
    """
    start = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    device = pick_device(settings["device"])
    _, _, info = _datasets(settings)
    ckpt = None if checkpoint_dir is None else str(checkpoint_dir)
    order = [(seed, kind) for seed in settings["seeds"] for kind in ("plain", "se")]
    if jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_run_one, settings, seed, kind, ckpt, False, 1)
                       for seed, kind in order]
            outcomes = [f.result() for f in futures]
    else:
        outcomes = [_run_one(settings, seed, kind, ckpt, progress) for seed, kind in order]
    models: dict[str, dict[str, Any]] = {}
    saved: dict[str, dict[str, Any]] = {}
    for (seed, kind), (run, ck, params) in zip(order, outcomes):
        models.setdefault(kind, {"params": params, "runs": []})["runs"].append(run)
        if ck is not None:
            saved[kind] = ck
    for entry in models.values():
        entry["final_test_acc"] = summarize([r["final_test_acc"] for r in entry["runs"]])
    diffs = [s["final_test_acc"] - p["final_test_acc"]
             for p, s in zip(models["plain"]["runs"], models["se"]["runs"])]
    arch = {"depth": settings["depth"], "width": settings["width"],
            "reduction": settings["reduction"], "num_classes": len(info["classes"])}
    return {
        "format": FORMAT,
        "experiment": "compare",
        "command": settings["command"],
        "settings": {k: v for k, v in settings.items() if k != "command"},
        "architecture": {**arch, "family": "senet_lib.cifar_resnet.cifar_resnet"},
        "dataset": info,
        "models": models,
        "se_minus_plain": summarize(diffs),
        "checkpoints": saved,
        "environment": {**environment(), "device": str(device), "jobs": jobs,
                        "threads_per_run": 1 if jobs > 1 else torch.get_num_threads()},
        "started_utc": started,
        "wall_time_s": time.perf_counter() - start,
    }


def checkpoint_name(dataset: str, depth: int, kind: str) -> str:
    """The file name under which ``compare`` saves a checkpoint, e.g. ``photos_resnet20_se.pt``."""
    return f"{dataset}_resnet{depth}_{kind}.pt"


def _save_checkpoint(model, kind, arch, info, settings, seed, test_acc, folder: Path) -> dict[str, Any]:
    """Save ``model``'s weights and what is needed to use them; return the manifest entry."""
    folder.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(info["name"], arch["depth"], kind)
    path = folder / name
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "architecture": {**arch, "se": kind == "se"},
        "class_names": list(info["classes"]),
        "mean": list(info["mean"]),
        "std": list(info["std"]),
        "seed": seed,
    }
    torch.save(payload, path)
    return {"file": name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "seed": seed, "final_test_acc": test_acc}


def load_results(name: str = "compare_photos.json") -> dict[str, Any]:
    """A results file shipped in ``senet_lib/results/`` (read as package data)."""
    from importlib import resources

    if not isinstance(name, str) or "/" in name or not name.endswith(".json"):
        raise ValueError(f"name must be a file name ending in .json, got {name!r}")
    ref = resources.files("senet_lib") / "results" / name
    if not ref.is_file():
        available = sorted(p.name for p in (resources.files("senet_lib") / "results").iterdir()
                           if p.name.endswith(".json"))
        raise FileNotFoundError(f"no results file {name!r} in senet_lib/results; available: {available}")
    return json.loads(ref.read_text(encoding="utf-8"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m senet_lib.experiments",
                                description="Experiments whose results the book plots.")
    sub = p.add_subparsers(dest="experiment", required=True)
    c = sub.add_parser("compare", help="plain vs SE CIFAR-style ResNet, several seeds")
    c.add_argument("--dataset", choices=["photos", "cifar10"], default="photos")
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--epochs", type=int, default=15)
    c.add_argument("--depth", type=int, default=20, help="6n + 2: 8, 14, 20, 32, ...")
    c.add_argument("--width", type=int, default=16, help="channels of the first stage")
    c.add_argument("--reduction", type=int, default=16, help="SE reduction ratio r")
    c.add_argument("--batch-size", type=int, default=128)
    c.add_argument("--lr", type=float, default=0.1)
    c.add_argument("--momentum", type=float, default=0.9)
    c.add_argument("--weight-decay", type=float, default=5e-4)
    c.add_argument("--warmup-epochs", type=float, default=1.0)
    c.add_argument("--per-class", type=int, default=300, help="photos: training patches per class")
    c.add_argument("--test-per-class", type=int, default=100, help="photos: test patches per class")
    c.add_argument("--data-seed", type=int, default=0, help="photos: seed of the patch generator")
    c.add_argument("--max-cast", type=float, default=0.5,
                   help="photos: per-image colour cast, channel gains exp(u), |u| <= this (0: none)")
    c.add_argument("--max-exposure", type=float, default=0.5,
                   help="photos: per-image exposure, a common gain exp(v), |v| <= this (0: none)")
    c.add_argument("--data-root", default="data", help="cifar10: folder with cifar-10-batches-py")
    c.add_argument("--download", action="store_true", help="cifar10: download if missing")
    c.add_argument("--subset", type=int, default=0, help="cifar10: use only the first N images")
    c.add_argument("--device", default=None, help="cpu, cuda, ...; default: cuda if available")
    c.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    c.add_argument("--out", required=True, help="where to write the results JSON")
    c.add_argument("--checkpoint-dir", default=None,
                   help="save the first seed's two models here, recording their SHA-256")
    c.add_argument("--jobs", type=int, default=1,
                   help="train this many runs at once in worker processes (1 thread each)")
    c.add_argument("--no-progress", action="store_true", help="no progress bars")
    c.add_argument("--force", action="store_true",
                   help="overwrite an existing results file and checkpoints (otherwise refused)")
    return p


def _refuse_overwrite(args: argparse.Namespace) -> None:
    """Stop before training if the command would replace files that already exist."""
    if args.force:
        return
    existing = [Path(args.out)] if Path(args.out).exists() else []
    if args.checkpoint_dir is not None:
        existing += [p for kind in ("plain", "se")
                     if (p := Path(args.checkpoint_dir) / checkpoint_name(args.dataset, args.depth, kind)).exists()]
    if existing:
        raise SystemExit("refusing to overwrite " + ", ".join(str(p) for p in existing)
                         + ": choose another --out / --checkpoint-dir, or add --force to replace them")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the results written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    settings = {k: v for k, v in vars(args).items()
                if k not in ("out", "checkpoint_dir", "no_progress", "experiment", "jobs", "force")}
    settings["command"] = shlex.join(["python", "-m", "senet_lib.experiments", *argv])
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    _refuse_overwrite(args)
    results = compare(settings, checkpoint_dir=args.checkpoint_dir,
                      progress=not args.no_progress, jobs=args.jobs)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    for kind, entry in results["models"].items():
        acc = entry["final_test_acc"]
        print(f"{kind:>5}: test accuracy {100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} %  "
              f"({entry['params']:,} parameters)")
    d = results["se_minus_plain"]
    print(f"SE - plain: {100 * d['mean']:+.2f} ± {100 * d['std']:.2f} points; "
          f"wall time {results['wall_time_s']:.0f} s; written to {out}")
    return results


if __name__ == "__main__":
    main()
