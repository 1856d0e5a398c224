"""The results file of a training experiment: one schema for every study (format 2).

``python -m senet_lib.experiments compare | sweep`` writes it (:mod:`senet_lib.runner`), the
chapters read it (:func:`senet_lib.records.load_results`), :mod:`senet_lib.report` judges it::

    {"format": 2,
     "command": "python -m senet_lib.experiments sweep ...",       # the latest command
     "settings": {... RunConfig's shared fields ..., "seeds": [0, 1, 2]},
     "studies": {"reduction": {"paper_table": 10, "arms": ["r2", ...]}, ...},
     "dataset": {"name", "classes", "n_train", "n_test", "mean", "std", ...},
     "arms": {"se": {"model": {"attn", "attn_options", "stages", "position"},
                     "params", "flops", "se_elementwise_ops",
                     "runs": [{"seed", "final_test_acc", "wall_time_s", "history": {...}}, ...],
                     "final_test_acc": {"values", "mean", "std"}}, ...},
     "checkpoints": {"se": {"file", "sha256", "bytes", "seed", "final_test_acc"}, ...},
     "sessions": [{"started_utc", "command", "jobs", "runs", "wall_time_s", "options", "environment"}],
     "complete": true, "wall_time_s": ...}

A run's configuration is ``RunConfig(**settings minus seeds, **arm["model"], seed=run["seed"])``
(:func:`run_config`). Accuracies are fractions; ``history`` has the columns of
:class:`senet_lib.train.History` (runs converted from a format-1 sweep keep only ``epoch`` and
``test_acc``, all that file recorded). Optional keys: ``reused`` (files whose runs were taken,
not trained; each such run says ``reused_from``), ``checkpoint_dir``, ``checkpoints_not_saved``,
and ``converted`` in a file first written in format 1 (``{"from_format", "from_experiment",
"by", "date"}``): :func:`convert` turns both format-1 schemas (``compare``: ``models`` and
``se_minus_plain``; ``sweep``: ``arms`` with ``knobs``) into this one, and :func:`read_results`
does so on reading.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import ARM_FIELDS, RunConfig, arm_from_knobs

__all__ = ["FORMAT", "summarize", "sha256_of", "run_config", "finish", "convert", "read_results",
           "write_results", "runs_by_seed", "model_fields"]

#: Results format version, bumped when the layout of the JSON changes.
FORMAT = 2

#: Fields of the format-1 settings that say where a run happened, not what it computed; a
#: converted file keeps them in its sessions' ``options``.
_WHERE = ("data_root", "download", "device", "threads")


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{"values", "mean", "std"}``; ``std`` is the sample standard deviation (0 for one value)."""
    values = [float(v) for v in values]
    return {"values": values, "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_config(results: Mapping[str, Any], arm: str, seed: int) -> RunConfig:
    """The configuration of ``arm``'s run with ``seed`` in ``results`` (format 2)."""
    if arm not in results["arms"]:
        raise ValueError(f"arm must be one of {list(results['arms'])}, got {arm!r}")
    shared = {k: v for k, v in results["settings"].items() if k != "seeds"}
    return RunConfig.from_dict({**shared, **results["arms"][arm]["model"], "seed": seed})


def runs_by_seed(results: Mapping[str, Any], arm: str) -> dict[int, float]:
    """``{seed: final test accuracy (fraction)}`` of ``arm``'s runs."""
    if arm not in results["arms"]:
        raise ValueError(f"arm must be one of {list(results['arms'])}, got {arm!r}")
    return {r["seed"]: r["final_test_acc"] for r in results["arms"][arm]["runs"]}


def finish(results: dict[str, Any]) -> dict[str, Any]:
    """Sort every arm's runs by seed and summarise their accuracies (in place; returned)."""
    results["wall_time_s"] = sum(s["wall_time_s"] for s in results.get("sessions", []))
    for entry in results["arms"].values():
        entry["runs"] = sorted(entry["runs"], key=lambda r: r["seed"])
        if entry["runs"]:
            entry["final_test_acc"] = summarize([r["final_test_acc"] for r in entry["runs"]])
        else:
            entry.pop("final_test_acc", None)
    return results


def write_results(path: str | Path, results: Mapping[str, Any]) -> None:
    """Write ``results`` to ``path`` atomically (a crash never leaves half a file); under
    ``torchrun`` only rank 0 writes."""
    from .distributed import rank

    if rank() != 0:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Format 1
# --------------------------------------------------------------------------------------------


def _settings_v1(old: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """``(settings of format 2, where-options, reduction)`` from format 1's settings."""
    settings = dict(old["settings"])
    reduction = settings.pop("reduction", 16)
    seeds = settings.pop("seeds")
    where = {k: settings.pop(k) for k in _WHERE if k in settings}
    shared = RunConfig.from_dict(settings).shared()  # validated, numbers as RunConfig keeps them
    return {**shared, "seeds": list(seeds)}, where, reduction


def _run_v1(run: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in run.items() if k not in ("test_acc", "history")}
    if "history" in run:
        out["history"] = dict(run["history"])
    else:  # a format-1 sweep kept the test accuracies only
        out["history"] = {"epoch": list(range(1, len(run["test_acc"]) + 1)), "test_acc": list(run["test_acc"])}
    return out


def convert(old: Mapping[str, Any], *, by: str = "senet_lib.results.convert") -> dict[str, Any]:
    """The results dict ``old`` of format 1 (a ``compare`` or a ``sweep`` file, finished or not)
    in format 2, with ``"converted"`` saying from what, by what and when. A dict already in
    format 2 is returned as it is.

    Every number is kept; the paired differences that format 1 stored (``se_minus_plain``,
    ``minus_se_points``) are left out, :mod:`senet_lib.report` computes them from the runs. A
    compare file's arms get their FLOPs counted here (it recorded parameters only; the count
    must equal them).

    Raises:
        ValueError: not a results file of format 1 or 2, or a network that does not rebuild.
    """
    from . import __version__
    from .ablations import STUDIES, arm_cost

    if old.get("format") == FORMAT:
        return dict(old)
    experiment = old.get("experiment")
    if old.get("format") != 1 or experiment not in ("compare", "sweep"):
        raise ValueError(f"not a results file of format 1 or {FORMAT} (format {old.get('format')!r}, "
                         f"experiment {experiment!r})")
    settings, where, reduction = _settings_v1(old)
    shared = {k: v for k, v in settings.items() if k != "seeds"}
    arms: dict[str, dict[str, Any]] = {}
    if experiment == "compare":
        studies = {"compare": dict(STUDIES["compare"])}
        for name, entry in old["models"].items():
            model = arm_from_knobs({"se": name == "se"}, reduction)
            cost = arm_cost(RunConfig.from_dict({**shared, **model}))
            if cost["params"] != entry["params"]:
                raise ValueError(f"the {name!r} network rebuilds with {cost['params']} parameters, "
                                 f"the file recorded {entry['params']}")
            arms[name] = {"model": model, **cost, "runs": [_run_v1(r) for r in entry["runs"]]}
        env = dict(old["environment"])
        jobs = env.pop("jobs", 1)
        sessions = [{"started_utc": old["started_utc"], "command": old["command"], "jobs": jobs,
                     "runs": sum(len(a["runs"]) for a in arms.values()), "wall_time_s": old["wall_time_s"],
                     "options": where, "environment": env}]
        complete = True
    else:
        studies = {k: dict(v) for k, v in old["studies"].items()}
        for name, entry in old["arms"].items():
            arms[name] = {"model": arm_from_knobs(entry["knobs"], reduction),
                          **{k: entry[k] for k in ("params", "flops", "se_elementwise_ops")},
                          "runs": [_run_v1(r) for r in entry["runs"]]}
        sessions = [{**s, "options": where} for s in old["sessions"]]
        complete = bool(old["complete"])
    new: dict[str, Any] = {"format": FORMAT, "command": old["command"], "settings": settings,
                           "studies": studies, "dataset": old["dataset"], "arms": arms}
    for key in ("checkpoint_dir", "checkpoints", "checkpoints_not_saved", "reused"):
        if key in old:
            new[key] = old[key]
    new.update(sessions=sessions, complete=complete)
    new["converted"] = {"from_format": 1, "from_experiment": experiment, "by": f"{by} (senet_lib {__version__})",
                        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return finish(new)


def read_results(path: str | Path) -> dict[str, Any]:
    """The results file at ``path`` in format 2 (a format-1 file is converted as it is read;
    :func:`convert`). Files that are not training experiments (the benchmarks') come as they are.

    Raises:
        ValueError: the file is not JSON we can read.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not a results file we can read ({e})") from None
    if isinstance(data, dict) and data.get("format") == 1 and data.get("experiment") in ("compare", "sweep"):
        return convert(data)
    return data


def model_fields(arm: Mapping[str, Any]) -> dict[str, Any]:
    """An arm entry's model, normalised as :class:`~senet_lib.config.RunConfig` keeps it (so two
    entries compare equal when they build the same network)."""
    return RunConfig.from_dict({k: arm["model"][k] for k in ARM_FIELDS}).arm()


def main(argv: Sequence[str] | None = None) -> list[str]:
    """``python -m senet_lib.results FILE ...``: convert results files of format 1 to format 2, in
    place (files already in format 2, and the benchmarks', are left as they are); returns the
    names of the files rewritten."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m senet_lib.results",
                                description="Convert results files of format 1 to format 2, in place.")
    p.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    done = []
    for name in args.files:
        data = json.loads(Path(name).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("format") == 1:
            write_results(name, convert(data, by="python -m senet_lib.results"))
            done.append(name)
    return done


if __name__ == "__main__":
    main()
