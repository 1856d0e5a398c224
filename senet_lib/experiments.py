"""The experiments as commands, whose results files the chapters read::

    python -m senet_lib.experiments compare --seeds 0 1 2 3 4 --epochs 12 --depth 20 --per-class 400 \\
        --out senet_lib/results/compare_photos.json --checkpoint-dir senet_lib/checkpoints
    python -m senet_lib.experiments sweep --studies reduction squeeze --seeds 0 1 2 --epochs 10 \\
        --depth 14 --per-class 250 --jobs 2 --out senet_lib/results/sweep_photos.json

``compare`` is the study ``plain`` against ``se`` (chapter 6); ``sweep`` runs the studies named by
``--studies`` (default: the paper's ablations, chapter 8; :data:`senet_lib.ablations.STUDIES`). Both
are one runner (:func:`senet_lib.runner.sweep`) writing one schema (:mod:`senet_lib.results`): the
file is rewritten after every run, the same command resumes an interrupted one, the same command
with more seeds extends a finished one, and ``--reuse FILE`` takes runs another file made with the
same settings instead of training them.

The options are the fields of :class:`senet_lib.config.RunConfig` (``--depth``, ``--epochs``,
``--per-class``, ``--amp``, ...: :func:`parser` makes them from the dataclass), ``--seeds``, and
where to run: ``--device auto|cpu|cuda|mps``, ``--threads``, ``--jobs``, ``--data-root`` and
``--download`` (CIFAR-10). ``--preset NAME`` starts from a GPU preset (:data:`~senet_lib.config.PRESETS`)
instead of the command's defaults; options given win. Under ``torchrun`` each run is one
data-parallel training and only rank 0 writes (the book's appendix, "Running the experiments at
scale")::

    torchrun --standalone --nproc-per-node 8 -m senet_lib.experiments compare \\
        --preset cifar10-resnet110 --download --device cuda --amp --out resnet110.json

``checkpoint`` makes a recorded checkpoint again by training its run again (the runs are seeded)
and says whether the file is the recorded one, byte for byte::

    python -m senet_lib.experiments checkpoint --results senet_lib/results/sweep20_photos.json \\
        --arms eca cbam ge ge_learned --out-dir senet_lib/checkpoints --jobs 2
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields, replace
from typing import Any

import torch

from . import distributed
from .ablations import PAPER_STUDIES, STUDIES
from .config import ARM_FIELDS, PRESETS, RunConfig

__all__ = ["DEFAULTS", "SEEDS", "parser", "main"]

#: Each command's defaults: chapter 6's comparison, and chapter 8's first, smaller sweep.
DEFAULTS: dict[str, RunConfig] = {
    "compare": RunConfig(),
    "sweep": replace(RunConfig(), epochs=10, depth=14, per_class=250),
}
#: The seeds a command trains unless ``--seeds`` says otherwise.
SEEDS: tuple[int, ...] = (0, 1, 2)

#: The configuration fields the command line sets (the arms of a study set the others).
_OPTIONS = [f for f in fields(RunConfig) if f.name not in ARM_FIELDS and f.name != "seed"]


def _config_options(p: argparse.ArgumentParser, defaults: RunConfig) -> None:
    """One option per field of :class:`RunConfig` (``--per-class`` for ``per_class``), its type
    and help from the field; unset options keep the defaults (or the preset's)."""
    for f in _OPTIONS:
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        text = f.metadata.get("help", "")
        if isinstance(f.default, bool):
            p.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=text)
        else:
            kind = type(f.default if f.default is not MISSING else default)
            p.add_argument(flag, type=kind, default=argparse.SUPPRESS, choices=f.metadata.get("choices"),
                           help=f"{text} (default: {default})")


def _where_options(p: argparse.ArgumentParser) -> None:
    """Where and how the runs happen, and the files: not part of a run's configuration."""
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="one run per seed and arm")
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="start from a preset instead of this command's defaults (options given here win): "
                        + "; ".join(f"{k}: dataset={v.dataset}, depth={v.depth}, epochs={v.epochs}, "
                                    f"weight_decay={v.weight_decay}" for k, v in PRESETS.items()))
    p.add_argument("--out", required=True, help="the results file (JSON), rewritten after every run")
    p.add_argument("--checkpoint-dir", default=None,
                   help="save each arm's model trained with the first seed here, recording its SHA-256")
    p.add_argument("--reuse", nargs="+", default=[], metavar="FILE",
                   help="results files made with the same settings: their runs of these arms and seeds "
                        "are taken, not trained again")
    p.add_argument("--force", action="store_true",
                   help="start over, replacing an existing results file and checkpoints (otherwise a "
                        "finished file is refused and an interrupted one with the same settings resumed)")
    p.add_argument("--device", default="auto",
                   help="auto (default: CUDA, else MPS, else CPU), cpu, cuda, mps, or e.g. cuda:1")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--jobs", type=int, default=1,
                   help="train this many runs at once in worker processes (1 thread each; the "
                        "shipped runs were made so: a run on another number of threads differs in "
                        "its last bits)")
    p.add_argument("--data-root", default="data", help="cifar10: folder with cifar-10-batches-py")
    p.add_argument("--download", action="store_true", help="cifar10: download if missing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def parser() -> argparse.ArgumentParser:
    """The command line: ``compare`` and ``sweep``, each with :class:`RunConfig`'s fields."""
    p = argparse.ArgumentParser(prog="python -m senet_lib.experiments",
                                description="Experiments whose results the book reads.")
    sub = p.add_subparsers(dest="experiment", required=True)
    c = sub.add_parser("compare", help="plain vs SE CIFAR-style ResNet, several seeds (chapter 6)",
                       description="The study 'compare': plain against SE, with the same seeds.")
    w = sub.add_parser("sweep", help="studies of arms against SE and plain, several seeds (chapters 7, 8, 10)",
                       description="Each study compares its arms with the default SE arm and the plain "
                                   "network, with the same seeds for every arm. The results file is "
                                   "rewritten after every run; rerunning the same command resumes it.")
    for name, q in (("compare", c), ("sweep", w)):
        _config_options(q, DEFAULTS[name])
        _where_options(q)
    w.add_argument("--studies", nargs="+", default=list(PAPER_STUDIES), choices=list(STUDIES),
                   help="which studies (default: the paper's, " + " ".join(PAPER_STUDIES) + ")")
    k = sub.add_parser("checkpoint", help="train a recorded checkpoint's run again and save it",
                       description="Train again the first-seed runs whose checkpoints a results file "
                                   "records, save them under their recorded names, and compare each "
                                   "with its recorded SHA-256 and accuracy. The results file is not changed.")
    k.add_argument("--results", required=True, help="the results file that records the checkpoints")
    k.add_argument("--arms", nargs="+", required=True, help="the arms whose checkpoints to make")
    k.add_argument("--out-dir", required=True, help="where to save them (senet_lib/checkpoints ships them)")
    k.add_argument("--jobs", type=int, default=1, help="train this many at once (1 thread each)")
    k.add_argument("--force", action="store_true", help="replace files that are there")
    k.add_argument("--record", action="store_true",
                   help="record in the results file each checkpoint whose training came out the same but "
                        "whose bytes differ (e.g. one the format-1 harness wrote); not while a sweep writes it")
    k.add_argument("--data-root", default="data", help="cifar10: folder with cifar-10-batches-py")
    k.add_argument("--download", action="store_true", help="cifar10: download if missing")
    return p


def _checkpoint(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """``checkpoint``: :func:`senet_lib.runner.remake_checkpoints`; exit 1 unless every file is
    the recorded one or (with ``--record``) its training came out the same and it is recorded now."""
    from .runner import Refused, remake_checkpoints

    try:
        made = remake_checkpoints(args.results, args.arms, args.out_dir, jobs=args.jobs, force=args.force,
                                  record=args.record, command=command, data_root=args.data_root,
                                  download=args.download)
    except (Refused, ValueError) as e:
        raise SystemExit(f"bad checkpoint command: {e}") from None
    for arm, m in made.items():
        print(f"{arm}: {m['file']}, {m['wall_time_s']:.0f} s; SHA-256 "
              f"{'the recorded one' if m['same_file'] else 'differs: ' + m['sha256'] + ' against ' + m['recorded_sha256']}; "
              f"accuracy {m['final_test_acc']:.4f} ({'as recorded' if m['same_accuracy'] else 'recorded ' + str(m['recorded_final_test_acc'])}); "
              f"training {'the same' if m['same_history'] else 'different'} epoch by epoch"
              + ("; recorded in the results file" if m["recorded"] else ""))
    if not all(m["same_file"] or m["recorded"] for m in made.values()):
        raise SystemExit("some checkpoints differ from the recorded ones: another CPU's kernels, torch "
                         "version or thread count rounds differently (the results file's sessions say where "
                         "the runs were made; on an AVX-512 CPU, ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 "
                         "give AVX2's kernels); they will not load through the results file")
    return made


def _config(args: argparse.Namespace) -> RunConfig:
    """The settings: the preset or the command's defaults, with the options given."""
    base = PRESETS[args.preset] if args.preset else DEFAULTS[args.experiment]
    return replace(base, **{f.name: getattr(args, f.name) for f in _OPTIONS if hasattr(args, f.name)})


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the results written."""
    from .device import pick_device
    from .report import format_sweep
    from .runner import Refused, resumable, sweep

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if args.experiment == "checkpoint":
        return _checkpoint(args, shlex.join(["python", "-m", "senet_lib.experiments", *argv]))
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "senet_lib.experiments", *argv])
    try:
        base = _config(args)
        device = pick_device(args.device)  # the one place the device is chosen
    except (TypeError, ValueError) as e:
        raise SystemExit(f"bad settings: {e}") from None
    world = distributed.start(device)
    try:
        if device.type == "cuda" and world > 1:
            device = torch.device("cuda", distributed.local_rank())
        if world > 1 and args.jobs > 1:
            raise SystemExit(f"--jobs {args.jobs} with torchrun: each run already uses all {world} "
                             "processes; leave --jobs at 1")
        if base.batch_size % world:
            raise SystemExit(f"bad settings: --batch-size {base.batch_size} must be divisible by the "
                             f"number of processes ({world})")
        studies = ["compare"] if args.experiment == "compare" else list(args.studies)
        talk = distributed.rank() == 0
        try:
            resume = resumable(args.out, base, studies, args.seeds, force=args.force,
                               checkpoint_dir=args.checkpoint_dir)
            if resume is not None and talk:
                done = sum(len(e["runs"]) for e in resume["arms"].values())
                print(f"resuming {args.out}: {done} runs already there")
            results = sweep(base, studies, args.seeds, args.out, jobs=args.jobs, device=device,
                            threads=args.threads, progress=not args.no_progress and talk, resume=resume,
                            checkpoint_dir=args.checkpoint_dir, reuse=args.reuse, command=command,
                            data_root=args.data_root, download=args.download)
        except Refused as e:
            raise SystemExit(str(e)) from None
        except ValueError as e:
            if str(e).startswith("reuse:"):
                raise SystemExit(f"bad --reuse: {e}") from None
            if str(e).startswith("seeds must"):
                raise SystemExit(f"bad settings: {e}") from None
            raise
        if talk:
            print(format_sweep(results))
            print(f"wall time {results['wall_time_s']:.0f} s; written to {args.out}")
        return results
    finally:
        distributed.stop()


if __name__ == "__main__":
    main()
