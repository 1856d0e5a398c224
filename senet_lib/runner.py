"""The one runner: every arm of some studies, with every seed, written to a results file after each run.

``compare`` (chapter 6) is the study ``plain`` against ``se``; chapter 8's ablations, chapter 10's
successors and chapter 7's context control are studies too (:data:`senet_lib.ablations.STUDIES`),
so one function trains them all (:func:`sweep`) into one schema (:mod:`senet_lib.results`):

* every run is seeded (:func:`train_run`): the same arm and seed on the same number of torch
  threads give the same numbers, bit for bit, whether trained alone, in a worker process of
  ``jobs > 1`` (one thread each), or in another experiment, so
* a results file made with the same settings can lend its runs instead of training them again
  (``reuse``: a sweep's plain and SE arms become chapter 6's runs, not reruns), and
* an interrupted command resumes from its own file, training only the runs it lacks; given more
  seeds it extends a finished one (:func:`resumable`; runs go seed by seed, so a partial file
  holds comparable arms). Files of format 1 are converted as they are read.

With ``checkpoint_dir``, each arm's model trained with the first seed is saved there
(:func:`senet_lib.checkpoints.save_checkpoint`) and recorded under ``"checkpoints"``. Because the
runs are seeded, a checkpoint that was recorded but not kept is made again by training its run
again (:func:`remake_checkpoints`), and its recorded SHA-256 says whether it is the same file.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .ablations import STUDIES, arm_config, arm_cost, sweep_arms
from .checkpoints import checkpoint_name, save_checkpoint
from .config import RunConfig, build_data, build_model
from .device import pick_device
from .records import environment
from .results import FORMAT, finish, model_fields, read_results, sha256_of, write_results
from .train import History, random_flip, train

__all__ = ["Refused", "train_run", "run_one", "sweep", "resumable", "reused_runs", "remake_checkpoints"]


class Refused(ValueError):
    """A command would replace or mix up files that exist; the message says which and what to do."""


def train_run(cfg: RunConfig, *, device: str | torch.device | None = None, data_root: str = "data",
              download: bool = False, progress: bool = False, desc: str = "training"
              ) -> tuple[torch.nn.Module, History, dict[str, Any], float]:
    """Train the run ``cfg`` describes: its data, ``torch.manual_seed(cfg.seed)``, its network,
    :func:`senet_lib.train.train`. Returns ``(model, history, data info, seconds of training)``."""
    train_ds, test_ds, info = build_data(cfg, data_root=data_root, download=download)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    t0 = time.perf_counter()
    hist = train(model, train_ds, test_ds, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 momentum=cfg.momentum, weight_decay=cfg.weight_decay, warmup_epochs=cfg.warmup_epochs,
                 # the CIFAR-10 loader crops and flips already; the photo patches get flips here
                 augment=random_flip if cfg.dataset == "photos" else None, seed=cfg.seed, device=device,
                 progress=progress, desc=desc, amp=cfg.amp, channels_last=cfg.channels_last)
    return model, hist, info, time.perf_counter() - t0


def run_one(cfg: RunConfig, arm: str, *, device: str | torch.device | None = None,
            checkpoint_dir: str | None = None, data_root: str = "data", download: bool = False,
            threads: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Train ``arm``'s run ``cfg``; its entry for the results file, with ``"checkpoint"`` (the
    manifest entry) when ``checkpoint_dir`` is given. A top-level function, so that worker
    processes can run it (``threads``: their torch threads)."""
    if threads is not None:
        torch.set_num_threads(threads)
    model, hist, info, wall = train_run(cfg, device=device, data_root=data_root, download=download,
                                        progress=progress, desc=f"{arm} seed {cfg.seed}")
    run = {"seed": cfg.seed, "final_test_acc": hist.test_acc[-1], "wall_time_s": wall,
           "history": hist.to_dict()}
    if checkpoint_dir is not None and distributed.rank() == 0:
        path = Path(checkpoint_dir) / checkpoint_name(cfg.dataset, cfg.depth, arm)
        run["checkpoint"] = save_checkpoint(model, cfg, path, info=info, final_test_acc=hist.test_acc[-1])
    return run


def _arm_entry(base: RunConfig, arm: str) -> dict[str, Any]:
    cfg = arm_config(base, arm)
    return {"model": cfg.arm(), **arm_cost(cfg), "runs": []}


def reused_runs(base: RunConfig, arms: Sequence[str], seeds: Sequence[int], files: Sequence[str | Path]
                ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Runs of ``arms`` with ``seeds`` already trained with ``base``'s settings in the results
    ``files`` (any format, any study): ``({arm: [run, ...]}, [file records])``. An arm of a file
    lends its runs to the arm here that builds the same network (the same arm fields), whatever
    it is called; each lent run says ``reused_from``.

    Raises:
        ValueError: a file made with other settings (seeds aside), or not a results file.
    """
    now = base.shared()
    wanted = {a: arm_config(base, a).arm() for a in arms}
    found: dict[str, list[dict[str, Any]]] = {}
    records = []
    for file in files:
        path = Path(file)
        try:
            old = read_results(path)
            before = {k: v for k, v in old["settings"].items() if k != "seeds"}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"reuse: {path} is not a results file we can read ({e})") from None
        if before != now:
            diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            raise ValueError(f"reuse: {path} was made with other settings ({', '.join(diff)} differ)")
        n = 0
        for entry in old["arms"].values():
            model = model_fields(entry)
            for arm in [a for a, m in wanted.items() if m == model]:
                have = {r["seed"] for r in found.get(arm, [])}
                for r in entry["runs"]:
                    if r["seed"] in seeds and r["seed"] not in have:
                        found.setdefault(arm, []).append({**r, "reused_from": path.name})
                        have.add(r["seed"])
                        n += 1
        records.append({"file": path.name, "sha256": sha256_of(path), "runs": n})
    return found, records


def resumable(out: str | Path, base: RunConfig, studies: Sequence[str], seeds: Sequence[int], *,
              force: bool = False, checkpoint_dir: str | None = None) -> dict[str, Any] | None:
    """The interrupted results file ``out`` to resume (converted to format 2 if older), or
    ``None`` to start afresh.

    Raises:
        Refused: ``out`` is finished (and ``seeds`` add none after its own), was made with other
            settings, studies or arms, is not a results file, or starting afresh would replace
            checkpoints in ``checkpoint_dir``; ``force=True`` starts over instead.
    """
    out = Path(out)
    if checkpoint_dir is not None and not force and not out.exists():
        existing = [str(p) for a in sweep_arms(studies)
                    if (p := Path(checkpoint_dir) / checkpoint_name(base.dataset, base.depth, a)).exists()]
        if existing:
            raise Refused("refusing to overwrite " + ", ".join(existing) + ": choose another "
                          "--checkpoint-dir, or add --force to replace them")
    if force or not out.exists():
        return None
    try:
        old = read_results(out)
        before = dict(old["settings"])
    except (KeyError, TypeError, ValueError) as e:
        raise Refused(f"refusing to overwrite {out}: it is not a results file we can read ({e}); "
                      "add --force to replace it") from None
    now = {**base.shared(), "seeds": list(seeds)}
    rest = lambda d: {k: v for k, v in d.items() if k != "seeds"}
    had = list(before.get("seeds", []))
    more_seeds = rest(before) == rest(now) and len(now["seeds"]) > len(had) and now["seeds"][:len(had)] == had
    if old.get("complete") and not more_seeds:
        raise Refused(f"refusing to overwrite {out}: it is finished; choose another --out, add seeds "
                      "after its own (--seeds 0 1 2 3 4 extends 0 1 2), or add --force to run it again")
    arms_now = {a: arm_config(base, a).arm() for a in sweep_arms(studies)}
    arms_then = {a: model_fields(e) for a, e in old["arms"].items()}
    if (before != now and not more_seeds) or list(old.get("studies", {})) != list(studies) or arms_then != arms_now:
        raise Refused(f"refusing to resume {out}: it was started with other settings, studies or arms "
                      f"({old.get('command')}); rerun that command to resume it, or add --force to start over")
    if more_seeds:  # the file becomes what this command makes from scratch
        old["settings"]["seeds"], old["complete"] = now["seeds"], False
    return old


def _pool(jobs: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"))


def sweep(base: RunConfig, studies: Sequence[str], seeds: Sequence[int], out: str | Path, *,
          jobs: int = 1, device: str | torch.device | None = None, threads: int | None = None,
          progress: bool = True, resume: dict[str, Any] | None = None, checkpoint_dir: str | Path | None = None,
          reuse: Sequence[str | Path] = (), command: str = "", data_root: str = "data",
          download: bool = False) -> dict[str, Any]:
    """Train every arm that ``studies`` need (:func:`senet_lib.ablations.sweep_arms`) with every
    seed, on ``base``'s settings; write ``out`` after each run; return the results dict (also in
    ``out``, with ``"complete": True``).

    Args:
        resume: a results dict an earlier, interrupted call wrote (:func:`resumable`): its runs
            are kept, not trained again.
        jobs: train this many runs at once in worker processes (one torch thread each); every
            run is seeded, so only the wall times differ from ``jobs=1`` with ``threads=1``.
            Another thread count sums in another order and changes the last bits, which the
            training then amplifies (:mod:`senet_lib.bench.training` measures it): every shipped
            run was trained on one thread (``--jobs 2``), and a rerun meant to repeat them must
            be too.
        reuse: results files whose runs with the same settings are taken instead of trained
            (:func:`reused_runs`; only when starting).
        checkpoint_dir: save each arm's model trained with the first seed there.
        command: the command line, recorded in the file.
        device, threads, data_root, download: where the runs happen (recorded per session).
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds must be one or more distinct ints >= 0, got {list(seeds)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    out, arms = Path(out), sweep_arms(studies)
    device = pick_device(device)
    ckpt = None if checkpoint_dir is None else str(checkpoint_dir)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    if resume is None:
        _, _, info = build_data(base, data_root=data_root, download=download)
        results: dict[str, Any] = {
            "format": FORMAT, "command": command, "settings": {**base.shared(), "seeds": seeds},
            "studies": {s: STUDIES[s] for s in studies}, "dataset": info,
            "arms": {a: _arm_entry(base, a) for a in arms}, "sessions": [], "complete": False,
        }
        if ckpt is not None:
            results["checkpoint_dir"] = ckpt
        if reuse:
            found, results["reused"] = reused_runs(base, arms, seeds, reuse)
            for arm, runs in found.items():
                results["arms"][arm]["runs"] += runs
            if ckpt is not None:  # a reused run's model is not trained here, so it is not saved here
                results["checkpoints_not_saved"] = sorted(a for a in arms if any(
                    r["seed"] == seeds[0] for r in found.get(a, [])))
    else:
        results = resume
    results["command"] = command
    session: dict[str, Any] = {"started_utc": started, "command": command, "jobs": jobs, "runs": 0, "wall_time_s": 0.0,
               "options": {"threads": threads, "data_root": data_root, "download": download},
               "environment": {**environment(), "device": str(device), "world_size": distributed.world(),
                               "threads_per_run": 1 if jobs > 1 else torch.get_num_threads()}}
    results["sessions"].append(session)
    done = {(a, r["seed"]) for a, e in results["arms"].items() for r in e["runs"]}
    todo = [(a, s) for s in seeds for a in arms if (a, s) not in done]

    def record(arm: str, run: dict[str, Any]) -> None:
        saved = run.pop("checkpoint", None)
        if saved is not None:
            results.setdefault("checkpoints", {})[arm] = saved
        results["arms"][arm]["runs"].append(run)
        session["runs"] += 1
        session["wall_time_s"] = time.perf_counter() - t0
        write_results(out, finish(results))

    def options(seed: int, in_worker: bool) -> dict[str, Any]:
        return {"device": device, "checkpoint_dir": ckpt if seed == seeds[0] else None,
                "data_root": data_root, "download": download, "threads": 1 if in_worker else None}

    from .progress import progress_bar

    with progress_bar(len(arms) * len(seeds), "sweep", progress and distributed.rank() == 0, unit="run") as bar:
        bar.update(len(arms) * len(seeds) - len(todo))
        if jobs == 1:
            for arm, seed in todo:
                bar.set_description(f"sweep: {arm} seed {seed}")
                record(arm, run_one(arm_config(base, arm, seed), arm, **options(seed, False)))
                bar.update()
        else:
            from concurrent.futures import FIRST_COMPLETED, wait

            with _pool(jobs) as pool:
                pending: dict[Any, str] = {}
                queue = list(todo)
                while queue or pending:
                    while queue and len(pending) < jobs:
                        arm, seed = queue.pop(0)
                        pending[pool.submit(run_one, arm_config(base, arm, seed), arm, **options(seed, True))] = arm
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        record(pending.pop(f), f.result())
                        bar.update()
    results["complete"] = True
    session["wall_time_s"] = time.perf_counter() - t0
    write_results(out, finish(results))
    return results


def remake_checkpoints(results_path: str | Path, arms: Sequence[str], out_dir: str | Path, *,
                       jobs: int = 1, force: bool = False, record: bool = False, command: str = "",
                       data_root: str = "data", download: bool = False) -> dict[str, dict[str, Any]]:
    """Train again the runs whose checkpoints ``results_path`` records for ``arms``, saving them
    in ``out_dir`` under their recorded names, one torch thread per run (as the sweeps train).

    Returns ``{arm: {"file", "sha256", "recorded_sha256", "same_file", "final_test_acc",
    "recorded_final_test_acc", "same_accuracy", "same_history", "recorded", "wall_time_s"}}``:
    ``same_history`` says that every per-epoch number the results file kept for that run (its
    history but the timings, or only the test accuracies of a run converted from format 1) came
    out the same, which is the training run again. A file can hold the same weights and still differ
    from the recorded bytes: a checkpoint written by the format-1 harness stored another
    configuration dict. With ``record``, each checkpoint whose training came out the same but
    whose bytes differ is recorded in the results file in place of the old entry, with a
    ``"remade"`` note (the old SHA-256, the command, the date); otherwise the file is not
    changed. Never record while a sweep is writing that file: it would write its own copy over it.

    Raises:
        ValueError: an arm without a recorded checkpoint, or ``jobs`` < 1.
        Refused: a file in ``out_dir`` would be replaced and ``force`` is not given.
    """
    from .results import run_config

    res = read_results(results_path)
    recorded = res.get("checkpoints") or {}
    missing = [a for a in arms if a not in recorded]
    if missing or not arms:
        raise ValueError(f"arms must be among the checkpoints {results_path} records, {sorted(recorded)}, "
                         f"got {list(arms)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    out_dir = Path(out_dir)
    there = [str(out_dir / recorded[a]["file"]) for a in arms if (out_dir / recorded[a]["file"]).exists()]
    if there and not force:
        raise Refused("refusing to overwrite " + ", ".join(there) + ": choose another --out-dir, or add --force")
    cfgs = {a: run_config(res, a, recorded[a]["seed"]) for a in arms}
    options: dict[str, Any] = {"checkpoint_dir": str(out_dir), "data_root": data_root, "download": download,
                               "threads": 1}
    if jobs == 1:
        runs = {a: run_one(cfgs[a], a, **options) for a in arms}
    else:
        with _pool(jobs) as pool:
            futures = {a: pool.submit(run_one, cfgs[a], a, **options) for a in arms}
            runs = {a: f.result() for a, f in futures.items()}
    made = {}
    for a, run in runs.items():
        saved, want = run["checkpoint"], recorded[a]
        old_run = next(r for r in res["arms"][a]["runs"] if r["seed"] == want["seed"])
        kept = old_run.get("history", {})
        computed = {k: v for k, v in kept.items() if k != "seconds"}     # the timings differ every time
        same_history = bool(computed) and all(run["history"].get(k) == v for k, v in computed.items())
        made[a] = {"file": str(out_dir / saved["file"]), "sha256": saved["sha256"],
                   "recorded_sha256": want["sha256"], "same_file": saved["sha256"] == want["sha256"],
                   "final_test_acc": run["final_test_acc"], "recorded_final_test_acc": want["final_test_acc"],
                   "same_accuracy": run["final_test_acc"] == want["final_test_acc"],
                   "same_history": same_history, "recorded": False, "wall_time_s": run["wall_time_s"],
                   "entry": saved}
    fresh = [a for a, m in made.items() if record and m["same_history"] and not m["same_file"]]
    if fresh:
        res = read_results(results_path)          # as it is now
        date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        for a in fresh:
            res["checkpoints"][a] = {**made[a]["entry"], "remade": {
                "replaces_sha256": made[a]["recorded_sha256"], "command": command, "date": date,
                "environment": environment(),
                "why": "the first file was not kept; the run was trained again from the recorded "
                       "configuration and seed, and its recorded per-epoch numbers came out the same"}}
            made[a]["recorded"] = True
        write_results(results_path, res)
    for m in made.values():
        m.pop("entry")
    return made
