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

``sweep`` runs the paper's ablations (chapter 8, :mod:`senet_lib.ablations`): each study varies
one knob of the SE-ResNet against the default SE arm and the plain network, with the same seeds
for every arm::

    python -m senet_lib.experiments sweep --seeds 0 1 2 --epochs 10 --depth 14 --per-class 250 \
        --jobs 2 --out senet_lib/results/sweep_photos.json

The results file is rewritten after every run; rerunning the same command resumes an
interrupted sweep, and the same command with more seeds (``--seeds 0 1 2 3 4``) extends a
finished one. Per arm it holds the knobs, parameters, FLOPs, per-seed accuracies and the paired
difference to the default SE arm with its standard error (:func:`paired_difference`).

Both commands take their options as a :class:`Settings` (validated once, written to the file),
``--preset NAME`` for settings meant for a GPU (:data:`PRESETS`), ``--device auto|cpu|cuda|mps``,
``--amp`` (bfloat16 autocast) and ``--channels-last``, and run data-parallel under ``torchrun``
(one ``DistributedDataParallel`` run at a time, only rank 0 writes; see the book's appendix
"Running the experiments at scale")::

    torchrun --standalone --nproc-per-node 8 -m senet_lib.experiments compare \
        --preset cifar10-resnet110 --download --device cuda --amp --out resnet110.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Subset, TensorDataset

from . import _checks
from .cifar_resnet import cifar_resnet
from .cost import count_parameters
from .records import environment
from .data import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, cifar10, normalize, photo_patches
from .train import pick_device, random_flip, train

__all__ = ["Settings", "PRESETS", "compare", "summarize", "paired_difference", "paired_summary",
           "main", "sha256_of"]

#: Results format version, bumped when the layout of the JSON changes.
FORMAT = 1


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Settings:
    """Everything that decides an experiment's numbers: the options of the command, validated
    once here and written to the results file under ``"settings"`` (:meth:`to_json`)."""

    dataset: str = "photos"
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 15
    depth: int = 20
    width: int = 16
    reduction: int = 16
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    per_class: int = 300
    test_per_class: int = 100
    data_seed: int = 0
    max_cast: float = 0.5
    max_exposure: float = 0.5
    data_root: str = "data"
    download: bool = False
    subset: int = 0
    device: str | None = None
    threads: int | None = None
    amp: bool = False
    channels_last: bool = False
    command: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.dataset not in ("photos", "cifar10"):
            raise ValueError(f"dataset must be 'photos' or 'cifar10', got {self.dataset!r}")
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in seeds):
            raise ValueError(f"seeds must be one or more non-negative ints, got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {list(seeds)}")
        object.__setattr__(self, "seeds", seeds)
        for name in ("epochs", "width", "reduction", "batch_size", "per_class", "test_per_class"):
            _checks.positive_int(name, getattr(self, name))
        if (self.depth - 2) % 6 or self.depth < 8:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, ...), got {self.depth!r}")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "max_cast", "max_exposure"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {getattr(self, name)!r}")
        if self.device is not None and not isinstance(self.device, str):
            raise TypeError(f"device must be a str such as 'auto', 'cpu' or 'cuda', got {self.device!r}")
        _checks.boolean("amp", self.amp)
        _checks.boolean("channels_last", self.channels_last)
        if self.subset < 0 or self.data_seed < 0:
            raise ValueError(f"subset and data_seed must be >= 0, got {self.subset!r}, {self.data_seed!r}")

    @classmethod
    def from_args(cls, args: argparse.Namespace, command: str) -> "Settings":
        """The settings among the parsed command-line ``args`` (others are ignored)."""
        names = {f.name for f in fields(cls)} - {"command"}
        return cls(**{k: v for k, v in vars(args).items() if k in names}, command=command)

    def to_json(self) -> dict[str, Any]:
        """The settings as written to a results file (without the command, stored beside)."""
        out = asdict(self)
        out.pop("command")
        out["seeds"] = list(self.seeds)
        for key in ("amp", "channels_last"):  # written only when used: older files lack them
            if not out[key]:
                out.pop(key)
        return out


def _datasets(settings: Settings):
    """``(train_dataset, test_dataset, info)`` for the settings' dataset.

    Both splits are normalised with the per-channel statistics of the training set the
    model sees (recorded in ``info``), whatever the size of the test split.
    """
    if settings.dataset == "photos":
        nuisance = {"max_cast": settings.max_cast, "max_exposure": settings.max_exposure}
        tr = photo_patches("train", settings.per_class, seed=settings.data_seed, **nuisance)
        te = photo_patches("test", settings.test_per_class, seed=settings.data_seed, **nuisance)
        info = {
            "name": "photos", "classes": tr.class_names, "credits": tr.credits,
            "n_train": len(tr), "n_test": len(te), "image_size": 32,
            "mean": list(tr.mean), "std": list(tr.std),
            "normalised_with": "training set statistics (both splits)",
            "generator": {"function": "senet_lib.data.photo_patches",
                          "per_class_train": settings.per_class,
                          "per_class_test": settings.test_per_class,
                          "seed": settings.data_seed, **nuisance},
        }
        test = TensorDataset(normalize(te.images, tr.mean, tr.std), te.labels)
        return tr.dataset(), test, info
    tr = cifar10(settings.data_root, train=True, download=settings.download)
    te = cifar10(settings.data_root, train=False, download=False)
    if settings.subset:
        tr = Subset(tr, range(min(settings.subset, len(tr))))
        te = Subset(te, range(min(settings.subset, len(te))))
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


def paired_difference(values: Sequence[float]) -> dict[str, Any]:
    """Judge per-seed differences ``values``: ``mean``, ``std``, ``sem`` (standard error),
    ``t = mean / sem``, ``t_crit`` (two-sided 5 % for ``n - 1`` degrees of freedom), ``clear``
    (``|t| > t_crit``) and ``wins`` (how many are > 0).

    Raises:
        ValueError: fewer than 2 values (no spread to judge the difference by).
    """
    d = [float(v) for v in values]
    n = len(d)
    if n < 2:
        raise ValueError(f"need at least 2 seeds to judge a difference, got {n}")
    mean, std = statistics.fmean(d), statistics.stdev(d)
    sem = std / n ** 0.5
    t = mean / sem if sem > 0 else float("inf") * (1 if mean >= 0 else -1)
    t_crit = T_CRIT_5[min(n - 1, len(T_CRIT_5)) - 1]
    return {"n": n, "values": d, "mean": mean, "std": std, "sem": sem, "t": t, "t_crit": t_crit,
            "clear": abs(t) > t_crit, "wins": sum(v > 0 for v in d)}


def paired_summary(results: dict[str, Any]) -> dict[str, Any]:
    """What a ``compare`` results dict says about SE minus plain, in points of accuracy.

    Returns ``n`` (seeds), ``plain`` and ``se`` (mean and sample std of the final test
    accuracy), and for the per-seed differences what :func:`paired_difference` returns.

    Raises:
        ValueError: fewer than 2 seeds (no spread to judge the difference by).
    """
    judged = paired_difference([100 * v for v in results["se_minus_plain"]["values"]])
    judged.pop("values")
    acc = {k: {"mean": 100 * results["models"][k]["final_test_acc"]["mean"],
               "std": 100 * results["models"][k]["final_test_acc"]["std"]} for k in ("plain", "se")}
    return {**judged, **acc}


def _train_one(settings: Settings, seed: int, knobs: dict[str, Any], desc: str, progress: bool,
               threads: int | None = None):
    """Train one CIFAR-style ResNet with ``knobs`` (``se`` and the ablation knobs) and ``seed``.

    Returns ``(model, history, arch, info, wall seconds)``.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    device = pick_device(settings.device)
    train_ds, test_ds, info = _datasets(settings)
    arch = _arch(settings, info)
    torch.manual_seed(seed)
    model = cifar_resnet(**{**arch, **knobs})
    t0 = time.perf_counter()
    hist = train(model, train_ds, test_ds, epochs=settings.epochs, batch_size=settings.batch_size,
                 lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay,
                 warmup_epochs=settings.warmup_epochs,
                 # the CIFAR-10 loader crops and flips already; the photo patches get flips here
                 augment=random_flip if settings.dataset == "photos" else None,
                 seed=seed, device=device, progress=progress, desc=desc,
                 amp=settings.amp, channels_last=settings.channels_last)
    return model, hist, arch, info, time.perf_counter() - t0


def _run_one(settings: Settings, seed: int, kind: str, checkpoint_dir: str | None,
             progress: bool, threads: int | None = None) -> tuple[dict[str, Any], dict[str, Any] | None, int]:
    """Train one model (``kind`` is ``"plain"`` or ``"se"``) with one seed.

    Returns ``(run entry, checkpoint entry or None, parameter count)``. A top-level function,
    so that ``--jobs`` can run it in worker processes.
    """
    model, hist, arch, info, wall = _train_one(settings, seed, {"se": kind == "se"},
                                               f"{kind:>5} seed {seed}", progress, threads)
    run = {"seed": seed, "final_test_acc": hist.test_acc[-1], "wall_time_s": wall,
           "history": hist.to_dict()}
    saved = None
    if checkpoint_dir is not None and seed == settings.seeds[0] and _rank() == 0:
        saved = _save_checkpoint(model, kind, arch, info, settings, seed, hist.test_acc[-1],
                                 Path(checkpoint_dir))
    return run, saved, count_parameters(model)


def _pool(jobs: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"))


def compare(settings: Settings, *, checkpoint_dir: str | Path | None = None,
            progress: bool = True, jobs: int = 1) -> dict[str, Any]:
    """Train plain and SE ResNets for every seed in ``settings.seeds``; return the results dict.

    With ``jobs > 1`` the runs go to that many worker processes (one torch thread each, no
    progress bars); every run is seeded, so the numbers are the same as with ``jobs=1``,
    only the wall times differ.
    """
    start = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    device = pick_device(settings.device)
    _, _, info = _datasets(settings)
    ckpt = None if checkpoint_dir is None else str(checkpoint_dir)
    order = [(seed, kind) for seed in settings.seeds for kind in ("plain", "se")]
    if jobs > 1:
        with _pool(jobs) as pool:
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
    return {
        "format": FORMAT,
        "experiment": "compare",
        "command": settings.command,
        "settings": settings.to_json(),
        "architecture": {**_arch(settings, info), "family": "senet_lib.cifar_resnet.cifar_resnet"},
        "dataset": info,
        "models": models,
        "se_minus_plain": summarize(diffs),
        "checkpoints": saved,
        "environment": {**environment(), "device": str(device), "jobs": jobs,
                        "world_size": _world_size(),
                        "threads_per_run": 1 if jobs > 1 else torch.get_num_threads()},
        "started_utc": started,
        "wall_time_s": time.perf_counter() - start,
    }


def _arch(settings: Settings, info: dict[str, Any]) -> dict[str, Any]:
    return {"depth": settings.depth, "width": settings.width, "reduction": settings.reduction,
            "num_classes": len(info["classes"])}


def _world_size() -> int:
    """How many processes train each run (1, or torchrun's ``--nproc-per-node`` x nodes)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _rank() -> int:
    """This process's rank under ``torchrun`` (0 without it): only rank 0 writes files."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _write_json(path: Path, results: dict[str, Any]) -> None:
    """Write ``results`` to ``path`` atomically (a crash never leaves half a file); rank 0 only."""
    if _rank() != 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def checkpoint_name(dataset: str, depth: int, kind: str) -> str:
    """The file name under which ``compare`` saves a checkpoint, e.g. ``photos_resnet20_se.pt``."""
    return f"{dataset}_resnet{depth}_{kind}.pt"


def _save_checkpoint(model, kind, arch, info, settings, seed, test_acc, folder: Path,
                     knobs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save ``model``'s weights and what is needed to use them; return the manifest entry.

    ``kind`` names the file; ``knobs`` are the :func:`~senet_lib.cifar_resnet.cifar_resnet`
    arguments beyond ``arch`` that rebuild the model (default: ``se=(kind == "se")``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(info["name"], arch["depth"], kind)
    path = folder / name
    knobs = {"se": kind == "se"} if knobs is None else dict(knobs)
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "architecture": {**arch, "se": bool(knobs.get("se")), "knobs": knobs},
        "class_names": list(info["classes"]),
        "mean": list(info["mean"]),
        "std": list(info["std"]),
        "seed": seed,
    }
    torch.save(payload, path)
    return {"file": name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "seed": seed, "final_test_acc": test_acc}


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


#: Settings for readers with a GPU, chosen with ``--preset NAME``; any option given on the
#: command line wins over the preset. Nothing is downloaded unless ``--download`` is given.
PRESETS: dict[str, dict[str, Any]] = {
    # The SE paper's CIFAR-10 ResNet-110 row (Table 4: 6.37 -> 5.21 % error) with He et al.'s
    # (2016) CIFAR recipe as far as this loop has it: batch 128, lr 0.1, momentum 0.9, weight
    # decay 1e-4, 164 epochs (their 64k iterations); a cosine decay stands in for their steps
    # at epochs 82 and 123, and shortcuts are 1x1 projections (their option B, not A).
    "cifar10-resnet110": {"dataset": "cifar10", "depth": 110, "epochs": 164, "batch_size": 128,
                          "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    # The ablation sweep at CIFAR-10 scale on one GPU: ResNet-20, 30 epochs per arm.
    "gpu": {"dataset": "cifar10", "depth": 20, "epochs": 30, "batch_size": 128, "lr": 0.1,
            "weight_decay": 5e-4},
}


def _apply_preset(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Make ``--preset NAME``'s settings the defaults of the chosen subcommand."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("experiment", nargs="?")
    pre.add_argument("--preset", default=None)
    known, _ = pre.parse_known_args(argv)
    if known.preset is None or known.experiment not in ("compare", "sweep"):
        return
    if known.preset not in PRESETS:
        parser.error(f"--preset must be one of {list(PRESETS)}, got {known.preset!r}")
    parser.subcommands[known.experiment].set_defaults(**PRESETS[known.preset])


def _training_options(c: argparse.ArgumentParser, *, epochs: int, depth: int, per_class: int,
                      seeds: list[int]) -> None:
    """The options every training experiment shares (the fields of :class:`Settings`)."""
    c.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="start from a preset's settings (options given here win): "
                        + "; ".join(f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items())
                                    for k, v in PRESETS.items()))
    c.add_argument("--dataset", choices=["photos", "cifar10"], default="photos")
    c.add_argument("--seeds", type=int, nargs="+", default=seeds)
    c.add_argument("--epochs", type=int, default=epochs)
    c.add_argument("--depth", type=int, default=depth, help="6n + 2: 8, 14, 20, 32, ...")
    c.add_argument("--width", type=int, default=16, help="channels of the first stage")
    c.add_argument("--reduction", type=int, default=16, help="SE reduction ratio r")
    c.add_argument("--batch-size", type=int, default=128)
    c.add_argument("--lr", type=float, default=0.1)
    c.add_argument("--momentum", type=float, default=0.9)
    c.add_argument("--weight-decay", type=float, default=5e-4)
    c.add_argument("--warmup-epochs", type=float, default=1.0)
    c.add_argument("--per-class", type=int, default=per_class, help="photos: training patches per class")
    c.add_argument("--test-per-class", type=int, default=100, help="photos: test patches per class")
    c.add_argument("--data-seed", type=int, default=0, help="photos: seed of the patch generator")
    c.add_argument("--max-cast", type=float, default=0.5,
                   help="photos: per-image colour cast, channel gains exp(u), |u| <= this (0: none)")
    c.add_argument("--max-exposure", type=float, default=0.5,
                   help="photos: per-image exposure, a common gain exp(v), |v| <= this (0: none)")
    c.add_argument("--data-root", default="data", help="cifar10: folder with cifar-10-batches-py")
    c.add_argument("--download", action="store_true", help="cifar10: download if missing")
    c.add_argument("--subset", type=int, default=0, help="cifar10: use only the first N images")
    c.add_argument("--device", default="auto",
                   help="auto (default: CUDA, else MPS, else CPU), cpu, cuda, mps, or e.g. cuda:1")
    c.add_argument("--amp", action="store_true", help="bfloat16 autocast for the forward pass")
    c.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    c.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    c.add_argument("--out", required=True, help="where to write the results JSON")
    c.add_argument("--jobs", type=int, default=1,
                   help="train this many runs at once in worker processes (1 thread each)")
    c.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m senet_lib.experiments",
                                description="Experiments whose results the book plots.")
    sub = p.add_subparsers(dest="experiment", required=True)
    c = sub.add_parser("compare", help="plain vs SE CIFAR-style ResNet, several seeds")
    _training_options(c, epochs=15, depth=20, per_class=300, seeds=[0, 1, 2])
    c.add_argument("--checkpoint-dir", default=None,
                   help="save the first seed's two models here, recording their SHA-256")
    c.add_argument("--force", action="store_true",
                   help="overwrite an existing results file and checkpoints (otherwise refused)")
    w = sub.add_parser("sweep", help="the paper's ablations (chapter 8): one knob at a time, several seeds",
                       description="Each study varies one knob of the SE-ResNet against the default SE "
                                   "arm and the plain network, with the same seeds for every arm. The "
                                   "results file is rewritten after every run; rerunning the same "
                                   "command resumes an interrupted sweep.")
    _training_options(w, epochs=10, depth=14, per_class=250, seeds=[0, 1, 2])
    from .ablations import PAPER_STUDIES, STUDIES

    w.add_argument("--studies", nargs="+", default=list(PAPER_STUDIES), choices=list(STUDIES),
                   help="which studies (default: the paper's, " + " ".join(PAPER_STUDIES) + ")")
    w.add_argument("--checkpoint-dir", default=None,
                   help="save each arm's model trained with the first seed here, recording its SHA-256")
    w.add_argument("--reuse", nargs="+", default=[], metavar="FILE",
                   help="results files (compare or sweep) made with the same settings: their runs of "
                        "this sweep's arms and seeds are taken, not trained again")
    w.add_argument("--force", action="store_true",
                   help="start over, replacing an existing results file and checkpoints (otherwise a "
                        "finished file is refused and an interrupted one with the same settings resumed)")
    p.subcommands = {"compare": c, "sweep": w}
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
    parser = _parser()
    _apply_preset(parser, argv)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "senet_lib.experiments", *argv])
    if args.device == "auto":
        args.device = None  # written as null, as before the option took "auto"
    try:
        settings = Settings.from_args(args, command)
        pick_device(settings.device)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"bad settings: {e}") from None
    world = _start_distributed(settings)
    if world > 1 and args.jobs > 1:
        raise SystemExit(f"--jobs {args.jobs} with torchrun: each run already uses all {world} "
                         "processes; leave --jobs at 1")
    if settings.batch_size % world:
        raise SystemExit(f"bad settings: --batch-size {settings.batch_size} must be divisible by the "
                         f"number of processes ({world})")
    try:
        return _main(args, settings)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _start_distributed(settings: Settings) -> int:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1); the world size.

    The backend is NCCL on CUDA and gloo otherwise (the CPU); each process's device is its
    ``LOCAL_RANK``'s GPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1
    import torch.distributed as dist

    device = pick_device(settings.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_world_size()


def _main(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    out = Path(args.out)
    if args.experiment == "sweep":
        from .ablations import format_sweep, resumable, sweep

        resume = resumable(args, settings)
        if resume is not None:
            done = sum(len(e["runs"]) for e in resume["arms"].values())
            print(f"resuming {out}: {done} runs already there")
        try:
            results = sweep(settings, args.studies, out, jobs=args.jobs,
                            progress=not args.no_progress and _rank() == 0, resume=resume,
                            checkpoint_dir=args.checkpoint_dir, reuse=args.reuse)
        except ValueError as e:
            if str(e).startswith("reuse:"):
                raise SystemExit(f"bad --reuse: {e}") from None
            raise
        if _rank() == 0:
            print(format_sweep(results))
            print(f"wall time {results['wall_time_s']:.0f} s; written to {out}")
        return results
    _refuse_overwrite(args)
    results = compare(settings, checkpoint_dir=args.checkpoint_dir,
                      progress=not args.no_progress, jobs=args.jobs)
    _write_json(out, results)
    if _rank() != 0:
        return results
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
