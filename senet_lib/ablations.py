"""The paper's ablations (Tables 10-16) at small scale: the ``sweep`` experiment of chapter 8.

Each study varies one knob of the CIFAR-style SE-ResNet (:data:`STUDIES`; the networks of every
arm in :data:`ARMS`) against the default SE arm and the plain network, with the same seeds for
every arm, so that arms are compared seed by seed (:func:`senet_lib.experiments.paired_difference`).
:func:`sweep` rewrites its results file after every run; the command
``python -m senet_lib.experiments sweep ...`` resumes an interrupted sweep from that file
(:func:`resumable`) and extends a finished one when given more seeds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from .cifar_resnet import cifar_resnet
from .cost import count_flops, count_parameters
from .experiments import (FORMAT, Settings, _arch, _datasets, _pool, _save_checkpoint, _train_one,
                          _world_size, _write_json, checkpoint_name, paired_difference, summarize)
from .records import environment
from .train import pick_device

__all__ = ["ARMS", "STUDIES", "PAPER_STUDIES", "sweep_arms", "arm_cost", "sweep", "resumable", "format_sweep"]


#: Every arm of the sweep: its name and the knobs of :func:`senet_lib.cifar_resnet.cifar_resnet`
#: that differ from the plain network. ``"se"`` is the default SE-ResNet every study compares to.
ARMS: dict[str, dict[str, Any]] = {
    "plain": {"se": False},
    "se": {"se": True},
    "r2": {"se": True, "reduction": 2},
    "r4": {"se": True, "reduction": 4},
    "r8": {"se": True, "reduction": 8},
    "r32": {"se": True, "reduction": 32},
    "pool_max": {"se": True, "pool": "max"},
    "pool_avgmax": {"se": True, "pool": "avgmax"},
    "gate_tanh": {"se": True, "gate": "tanh"},
    "gate_relu": {"se": True, "gate": "relu"},
    "gate_hard_sigmoid": {"se": True, "gate": "hard_sigmoid"},
    "stage1": {"se": True, "stages": [1]},
    "stage2": {"se": True, "stages": [2]},
    "stage3": {"se": True, "stages": [3]},
    "pos_pre": {"se": True, "position": "pre"},
    "pos_post": {"se": True, "position": "post"},
    "pos_identity": {"se": True, "position": "identity"},
    "no_squeeze": {"se": True, "squeeze": False},
    # chapter 10: SE's successors in SE's place (senet_lib.successors)
    "eca": {"se": True, "block": "eca"},
    "cbam": {"se": True, "block": "cbam"},
    "ge": {"se": True, "block": "ge"},
    "ge_learned": {"se": True, "block": "ge_learned"},
    # chapter 7: one learned gate per channel that does not depend on the image, from the start
    "scale": {"se": True, "block": "scale"},
}

#: Each study: the paper's table (``None`` for the two that are not the paper's), and its arms
#: (each study also holds ``plain`` and ``se``).
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
}

#: The studies of the SE paper (chapter 8), the command's default.
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


def _se_elementwise_ops(model: torch.nn.Module, input_size: tuple[int, ...]) -> int:
    """Operations of the attention blocks that FLOP counters miss (pooling, stretching, scaling;
    :func:`senet_lib.successors.elementwise_ops`), for every unit's ``se`` slot."""
    from .successors import elementwise_ops

    total = 0

    def count(module, inputs):
        nonlocal total
        total += elementwise_ops(module, inputs[0].shape)

    handles = [m.se.register_forward_pre_hook(count) for m in model.modules()
               if isinstance(getattr(m, "se", None), torch.nn.Module)
               and not isinstance(m.se, torch.nn.Identity)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_size))
    finally:
        for h in handles:
            h.remove()
    return total


def arm_cost(settings: Settings, arm: str, num_classes: int) -> dict[str, int]:
    """Parameters and FLOPs (for one 32 x 32 image) of an arm's network."""
    model = cifar_resnet(settings.depth, num_classes, width=settings.width,
                         **{"reduction": settings.reduction, **ARMS[arm]})
    size = (1, 3, 32, 32)
    return {"params": count_parameters(model), "flops": count_flops(model, size),
            "se_elementwise_ops": _se_elementwise_ops(model, size)}


def _sweep_run(settings: Settings, arm: str, seed: int, threads: int | None,
               checkpoint_dir: str | None = None) -> dict[str, Any]:
    """Train one arm with one seed (top level, for worker processes); the run's entry, with
    ``"checkpoint"`` (its manifest entry) when the model of the first seed was saved."""
    model, hist, arch, info, wall = _train_one(settings, seed, dict(ARMS[arm]), f"{arm} seed {seed}",
                                               False, threads)
    run = {"seed": seed, "final_test_acc": hist.test_acc[-1], "wall_time_s": wall,
           "test_acc": hist.test_acc}
    if checkpoint_dir is not None and seed == settings.seeds[0]:
        run["checkpoint"] = _save_checkpoint(model, arm, arch, info, settings, seed, hist.test_acc[-1],
                                             Path(checkpoint_dir), knobs=ARMS[arm])
    return run


def _finish_sweep(results: dict[str, Any]) -> None:
    """Per arm: accuracy summary and paired differences to the default SE arm (same seeds)."""
    se_runs = {r["seed"]: r["final_test_acc"] for r in results["arms"]["se"]["runs"]}
    for name, entry in results["arms"].items():
        runs = sorted(entry["runs"], key=lambda r: r["seed"])
        entry["runs"] = runs
        if runs:
            entry["final_test_acc"] = summarize([r["final_test_acc"] for r in runs])
        diffs = [100 * (r["final_test_acc"] - se_runs[r["seed"]]) for r in runs if r["seed"] in se_runs]
        entry["minus_se_points"] = (paired_difference(diffs) if len(diffs) > 1 and name != "se"
                                    else None)


def reused_runs(settings: Settings, arms: Sequence[str], files: Sequence[str | Path]
                ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Runs of ``arms`` already trained, with these settings, in the results ``files`` (a
    ``compare`` file gives ``plain`` and ``se``; a ``sweep`` file any arm whose knobs are
    :data:`ARMS`'), for the seeds of ``settings``: ``({arm: [run, ...]}, [file records])``.

    Every run is seeded, so a run reused from a file is the run this sweep would train; reusing
    makes a sweep's baseline arms *the same runs* as another experiment's (chapter 6's plain and
    SE networks), not reruns.

    Raises:
        ValueError: a file made with other settings (seeds aside), or not a results file.
    """
    from .experiments import sha256_of

    now = {k: v for k, v in settings.to_json().items() if k != "seeds"}
    found: dict[str, list[dict[str, Any]]] = {}
    records = []
    for file in files:
        path = Path(file)
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"reuse: {path} is not a results file we can read ({e})") from None
        before = {k: v for k, v in old.get("settings", {}).items() if k != "seeds"}
        if before != now:
            diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            raise ValueError(f"reuse: {path} was made with other settings ({', '.join(diff)} differ)")
        if old.get("experiment") == "compare":
            entries = {k: old["models"][k]["runs"] for k in ("plain", "se")}
        elif old.get("experiment") == "sweep":
            entries = {a: e["runs"] for a, e in old["arms"].items() if ARMS.get(a) == e.get("knobs")}
        else:
            raise ValueError(f"reuse: {path} holds a {old.get('experiment')!r} experiment")
        n = 0
        for arm, runs in entries.items():
            have = {r["seed"] for r in found.get(arm, [])}
            for r in runs:
                if arm in arms and r["seed"] in settings.seeds and r["seed"] not in have:
                    acc = r["history"]["test_acc"] if "history" in r else r["test_acc"]
                    found.setdefault(arm, []).append(
                        {"seed": r["seed"], "final_test_acc": r["final_test_acc"],
                         "wall_time_s": r["wall_time_s"], "test_acc": list(acc),
                         "reused_from": path.name})
                    n += 1
        records.append({"file": path.name, "sha256": sha256_of(path), "runs": n})
    return found, records


def sweep(settings: Settings, studies: Sequence[str], out: str | Path, *, jobs: int = 1,
          progress: bool = True, resume: dict[str, Any] | None = None,
          checkpoint_dir: str | Path | None = None,
          reuse: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Train every arm that ``studies`` need with every seed, writing ``out`` after each run.

    ``resume`` is a results dict an earlier, interrupted call wrote with the same settings and
    studies: its finished runs are kept and not trained again. Runs are ordered seed by seed
    (all arms with seed 0, then seed 1, ...) so that a partial file holds comparable arms.
    With ``checkpoint_dir``, each arm's model trained with the first seed is saved there and
    recorded under ``"checkpoints"`` (file, SHA-256, seed, accuracy), for
    :func:`senet_lib.checkpoints.load_trained`. ``reuse`` names results files whose runs with
    the same settings are taken instead of trained (:func:`reused_runs`; only when starting).
    Returns the results dict (also in ``out``), with ``"complete": True``.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    arms = sweep_arms(studies)
    _, _, info = _datasets(settings)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    if resume is None:
        results = {
            "format": FORMAT, "experiment": "sweep", "command": settings.command,
            "settings": settings.to_json(), "studies": {s: STUDIES[s] for s in studies},
            "architecture": {**_arch(settings, info), "family": "senet_lib.cifar_resnet.cifar_resnet"},
            "dataset": info,
            "arms": {a: {"knobs": ARMS[a], **arm_cost(settings, a, len(info["classes"])), "runs": []}
                     for a in arms},
            "sessions": [], "complete": False,
        }
        if reuse:
            found, results["reused"] = reused_runs(settings, arms, reuse)
            for arm, runs in found.items():
                results["arms"][arm]["runs"] += runs
            _finish_sweep(results)
    else:
        results = resume
    session = {"started_utc": started, "command": settings.command, "jobs": jobs, "runs": 0,
               "wall_time_s": 0.0, "environment": {**environment(), "device": str(pick_device(settings.device)),
                               "world_size": _world_size()}}
    results["sessions"].append(session)
    done = {(a, r["seed"]) for a, e in results["arms"].items() for r in e["runs"]}
    todo = [(a, seed) for seed in settings.seeds for a in arms if (a, seed) not in done]

    ckpt = None if checkpoint_dir is None else str(checkpoint_dir)
    if ckpt is not None and resume is None:
        results["checkpoint_dir"] = ckpt

    def record(arm: str, run: dict[str, Any]) -> None:
        saved = run.pop("checkpoint", None)
        if saved is not None:
            results.setdefault("checkpoints", {})[arm] = saved
        results["arms"][arm]["runs"].append(run)
        session["runs"] += 1
        session["wall_time_s"] = time.perf_counter() - t0
        results["wall_time_s"] = sum(s["wall_time_s"] for s in results["sessions"])
        _finish_sweep(results)
        _write_json(out, results)

    if ckpt is not None and resume is None and reuse:
        # a reused run's model is not trained here, so it is not saved here
        trained_first = {a for a, seed in todo if seed == settings.seeds[0]}
        results["checkpoints_not_saved"] = sorted(set(arms) - trained_first)
    with tqdm(total=len(arms) * len(settings.seeds), initial=len(done), disable=not progress,
              unit="run", desc="sweep") as bar:
        if jobs > 1:
            from concurrent.futures import FIRST_COMPLETED, wait

            with _pool(jobs) as pool:
                pending = {}
                queue = list(todo)
                while queue or pending:
                    while queue and len(pending) < jobs:
                        arm, seed = queue.pop(0)
                        pending[pool.submit(_sweep_run, settings, arm, seed, 1, ckpt)] = (arm, seed)
                    bar.set_description("sweep: " + ", ".join(f"{a} seed {s}" for a, s in pending.values()))
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        arm, _seed = pending.pop(f)
                        record(arm, f.result())
                        bar.update()
        else:
            for arm, seed in todo:
                bar.set_description(f"sweep: {arm} seed {seed}")
                record(arm, _sweep_run(settings, arm, seed, None, ckpt))
                bar.update()
    results["complete"] = True
    session["wall_time_s"] = time.perf_counter() - t0
    results["wall_time_s"] = sum(s["wall_time_s"] for s in results["sessions"])
    _finish_sweep(results)
    _write_json(out, results)
    return results


def resumable(args: argparse.Namespace, settings: Settings) -> dict[str, Any] | None:
    """The interrupted sweep in ``--out`` to resume, ``None`` to start afresh; refuses to
    replace a finished file or one made with other settings unless ``--force``."""
    out = Path(args.out)
    folder = getattr(args, "checkpoint_dir", None)
    if folder is not None and not args.force and not out.exists():
        existing = [str(p) for a in sweep_arms(args.studies)
                    if (p := Path(folder) / checkpoint_name(settings.dataset, settings.depth, a)).exists()]
        if existing:
            raise SystemExit("refusing to overwrite " + ", ".join(existing) + ": choose another "
                             "--checkpoint-dir, or add --force to replace them")
    if args.force or not out.exists():
        return None
    try:
        old = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"refusing to overwrite {out}: it is not a results file we can read ({e}); "
                         "add --force to replace it") from None
    if old.get("experiment") != "sweep":
        raise SystemExit(f"refusing to overwrite {out}: it holds a {old.get('experiment')!r} "
                         "experiment, not a sweep; choose another --out, or add --force")
    before, now = old.get("settings", {}), settings.to_json()
    rest = lambda d: {k: v for k, v in d.items() if k != "seeds"}  # noqa: E731
    more_seeds = (rest(before) == rest(now) and len(now["seeds"]) > len(before.get("seeds", []))
                  and now["seeds"][:len(before.get("seeds", []))] == before.get("seeds"))
    if old.get("complete") and not more_seeds:
        raise SystemExit(f"refusing to overwrite {out}: that sweep is finished; choose another "
                         "--out, add seeds after its own (--seeds 0 1 2 3 4 extends 0 1 2), or add "
                         "--force to run it again")
    if (before != now and not more_seeds) or list(old.get("studies", {})) != list(args.studies):
        raise SystemExit(f"refusing to resume {out}: it was started with other settings or studies "
                         f"({old.get('command')}); rerun that command to resume it, or add --force "
                         "to start over")
    if more_seeds:  # the file becomes what this command makes from scratch
        old["settings"]["seeds"], old["command"], old["complete"] = now["seeds"], settings.command, False
    return old


def format_sweep(results: dict[str, Any]) -> str:
    """A text table of a sweep: per study and arm, accuracy (mean ± s.e. over seeds), the paired
    difference to the default SE arm (mean ± s.e., points), parameters and FLOPs."""
    lines = []
    for study, spec in results["studies"].items():
        source = "not in the paper" if spec["paper_table"] is None else f"paper Table {spec['paper_table']}"
        lines.append(f"{study} ({source})")
        for arm in [a for a in ["plain", *spec["arms"]] if a in results["arms"]]:
            e = results["arms"][arm]
            acc = e.get("final_test_acc")
            if acc is None:
                lines.append(f"  {arm:<18} (no runs yet)")
                continue
            n = len(acc["values"])
            sem = acc["std"] / n ** 0.5
            d = e.get("minus_se_points")
            diff = "" if d is None else f"  vs SE {d['mean']:+.2f} ± {d['sem']:.2f}"
            lines.append(f"  {arm:<18} {100 * acc['mean']:6.2f} ± {100 * sem:.2f} % (n={n}){diff:<22}"
                         f"  {e['params']:>9,} params  {e['flops'] / 1e6:7.2f} MFLOPs")
    return "\n".join(lines)
