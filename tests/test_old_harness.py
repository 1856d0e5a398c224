"""The redesigned experiment layer against the one it replaced (tests/data/old_harness, written by
the old code with tests/data/old_harness/make.py): the same seeds give the same runs, its files
are read and resumed, its checkpoints load.

The exact comparisons hold with the PyTorch and the CPU kernels that wrote the fixture: torch
2.14.1 on an x86-64 processor running PyTorch's and oneDNN's AVX2 kernels. On a processor with
AVX-512, PyTorch picks wider kernels whose sums round differently, and after a few SGD steps the
tiny networks' histories part in the fourth digit; so the runs to compare are trained in a child
process told to use the AVX2 kernels (``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2``),
which gives the fixture's numbers bit for bit on both kinds of processor. With another torch
version the histories are compared to 1e-5.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from senet_lib import ablations, experiments, records, runner
from senet_lib.checkpoints import load_checkpoint
from senet_lib.config import RunConfig, build_data
from senet_lib.results import convert, read_results, run_config
from senet_lib.train import evaluate

OLD = Path(__file__).parent / "data" / "old_harness"
TINY = ["--dataset", "photos", "--seeds", "0", "1", "--epochs", "2", "--depth", "8", "--width", "4",
        "--per-class", "4", "--test-per-class", "3", "--batch-size", "8", "--threads", "1", "--no-progress"]


def _old(name: str) -> dict:
    return json.loads((OLD / name).read_text())


#: The CPU kernels the fixture was written with (its files record torch and the processor's name,
#: "AMD EPYC", which does not say which; its numbers are reproduced exactly with these).
FIXTURE_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def _same_machine() -> bool:
    env = _old("compare.json")["environment"]
    here = records.environment()
    return (env["torch"], env["machine"]) == (here["torch"], here["machine"])


def _experiments(args: list[str], out: Path) -> dict:
    """``python -m senet_lib.experiments *args --out out`` in a child process that runs the
    fixture's CPU kernels; the results file it writes."""
    done = subprocess.run([sys.executable, "-m", "senet_lib.experiments", *args, "--out", str(out)],
                          env={**os.environ, **FIXTURE_KERNELS}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return read_results(out)


def _assert_same(new: dict, old: dict, what: str) -> None:
    """Histories without the seconds: equal here, to 1e-5 on another machine."""
    cols = [k for k in old if k != "seconds"]
    if _same_machine():
        assert {k: new[k] for k in cols} == {k: old[k] for k in cols}, what
    else:
        for k in cols:
            assert new[k] == pytest.approx(old[k], rel=1e-5, abs=1e-6), (what, k)


@pytest.fixture(scope="module")
def every_arm(tmp_path_factory):
    """Every arm of every study, both seeds, trained by the new runner at the fixture's settings,
    with each arm's seed-0 checkpoint."""
    folder = tmp_path_factory.mktemp("every_arm")
    res = _experiments(["sweep", "--studies", *ablations.STUDIES, *TINY, "--checkpoint-dir", str(folder / "ckpt")],
                       folder / "s.json")
    return folder, res


def test_the_new_runner_reproduces_every_arm_of_the_old_harness(every_arm):
    _, res = every_arm
    old_runs = _old("histories.json")["histories"]
    old_sweep = _old("sweep.json")["arms"]
    assert set(res["arms"]) == set(ablations.ARMS) == set(old_sweep)
    for arm, entry in res["arms"].items():
        assert [r["seed"] for r in entry["runs"]] == [0, 1]
        for run in entry["runs"]:
            _assert_same(run["history"], old_runs[f"{arm}/{run['seed']}"], f"{arm} seed {run['seed']}")
            old = next(r for r in old_sweep[arm]["runs"] if r["seed"] == run["seed"])
            assert run["history"]["test_acc"] == pytest.approx(old["test_acc"], abs=1e-12)
            assert run["final_test_acc"] == pytest.approx(old["final_test_acc"], abs=1e-12)
        # the same network: parameters and FLOPs as the old sweep counted them
        assert {k: entry[k] for k in ("params", "flops", "se_elementwise_ops")} == \
               {k: old_sweep[arm][k] for k in ("params", "flops", "se_elementwise_ops")}


def test_compare_is_the_study_plain_vs_se_and_reproduces_the_old_compare(tmp_path):
    res = _experiments(["compare", *TINY], tmp_path / "c.json")
    old = _old("compare.json")
    assert list(res["arms"]) == ["plain", "se"] and list(res["studies"]) == ["compare"]
    for arm in ("plain", "se"):
        for new, was in zip(res["arms"][arm]["runs"], old["models"][arm]["runs"], strict=True):
            _assert_same(new["history"], was["history"], f"{arm} seed {was['seed']}")


def test_a_checkpoint_of_every_arm_of_every_study_loads_and_scores_as_recorded(every_arm):
    folder, res = every_arm
    assert sorted(res["checkpoints"]) == sorted(ablations.ARMS)
    for arm, entry in res["checkpoints"].items():
        cfg = run_config(res, arm, entry["seed"])
        payload = torch.load(folder / "ckpt" / entry["file"], weights_only=True)
        assert payload["config"] == cfg.to_dict()                      # the same dict ...
        assert RunConfig.from_dict(payload["config"]) == cfg           # ... both ways
        model, _meta = load_checkpoint(folder / "ckpt" / entry["file"], entry["sha256"])
        _, test, _ = build_data(cfg)
        _, acc = evaluate(model, torch.utils.data.DataLoader(test, batch_size=256), "cpu")
        assert acc == entry["final_test_acc"] == res["arms"][arm]["runs"][0]["final_test_acc"], arm


def test_old_checkpoints_of_every_arm_load_and_score_as_recorded():
    """Format-1 checkpoints (``architecture`` + ``knobs``) rebuild the arm that saved them."""
    old = _old("sweep.json")
    cfg0 = RunConfig.from_dict({k: v for k, v in convert(old)["settings"].items() if k != "seeds"})
    _, test, _ = build_data(cfg0)
    loader = torch.utils.data.DataLoader(test, batch_size=256)
    assert sorted(old["checkpoints"]) == sorted(ablations.ARMS)
    for arm, entry in old["checkpoints"].items():
        model, meta = load_checkpoint(OLD / "sweep_ckpt" / entry["file"], entry["sha256"])
        assert meta["format"] == 1 and meta["architecture"]["knobs"] == old["arms"][arm]["knobs"]
        _, acc = evaluate(model, loader, "cpu")
        assert acc == pytest.approx(entry["final_test_acc"], abs=1e-12), arm


def test_the_old_r2_checkpoint_loads_with_its_own_reduction():
    """The bug this layer fixes: a sweep checkpoint of an arm that sets ``reduction`` recorded
    ``architecture.reduction`` 16 and ``knobs.reduction`` 2, and the format-1 loader passed both
    to ``cifar_resnet`` ("got multiple values for keyword argument 'reduction'")."""
    entry = _old("sweep.json")["checkpoints"]["r2"]
    path = OLD / "sweep_ckpt" / entry["file"]
    arch = torch.load(path, weights_only=True)["architecture"]
    assert arch["reduction"] == 16 and arch["knobs"]["reduction"] == 2   # what the old code wrote
    model, _ = load_checkpoint(path, entry["sha256"])
    assert [b.hidden for b in model.se_blocks().values()] == [4 // 2, 8 // 2, 16 // 2]  # r = 2, not 16


def test_both_old_schemas_convert_keeping_every_number():
    for name, arms in (("compare.json", "models"), ("sweep.json", "arms"), ("partial.json", "arms")):
        old = _old(name)
        new = convert(old)
        assert new["format"] == 2 and new["converted"]["from_format"] == 1
        assert new["converted"]["from_experiment"] == old["experiment"] and new["converted"]["date"]
        assert new["complete"] == (old["experiment"] == "compare" or old["complete"])
        assert new["settings"]["seeds"] == old["settings"]["seeds"]
        for arm, entry in old[arms].items():
            assert [(r["seed"], r["final_test_acc"]) for r in new["arms"][arm]["runs"]] == \
                   [(r["seed"], r["final_test_acc"]) for r in entry["runs"]]
            assert new["arms"][arm]["params"] == entry["params"]
        assert convert(new) == new                                     # format 2 stays as it is
    partial = convert(_old("partial.json"))
    assert partial["reused"] and partial["checkpoints_not_saved"] == ["plain", "se"]
    assert {r["reused_from"] for r in partial["arms"]["se"]["runs"]} == {"compare.json"}
    with pytest.raises(ValueError, match="not a results file of format 1 or 2"):
        convert({"format": 1, "experiment": "bench"})


def test_every_shipped_results_file_is_read_in_the_one_schema():
    from importlib import resources

    names = sorted(p.name for p in (resources.files("senet_lib") / "results").iterdir()
                   if p.name.endswith(".json") and not p.name.startswith("bench"))
    assert {"compare_photos.json", "sweep_photos.json", "beyond_photos.json", "context_photos.json"} <= set(names)
    for name in names:
        raw = json.loads((resources.files("senet_lib") / "results" / name).read_text(encoding="utf-8"))
        if name in ("compare_photos.json", "compare_photos_nocast.json", "context_photos.json",
                    "sweep_photos.json", "beyond_photos.json"):
            assert raw["format"] == 2 and raw["converted"]["from_format"] == 1, name  # converted once, on disk
        res = records.load_results(name)                              # (a newer file of format 1: on reading)
        assert res["format"] == 2 and (raw["format"] == 2 or res["converted"]), name
        for arm in res["arms"]:
            for run in res["arms"][arm]["runs"]:
                run_config(res, arm, run["seed"])                      # every run's configuration rebuilds


def test_a_partial_old_format_sweep_resumes_with_the_new_code(tmp_path, monkeypatch):
    """An interrupted sweep of the old code (with --reuse and --checkpoint-dir, as the running
    sweep20 is) resumed by the same command: only its missing runs are trained, and they are the
    runs the old code trains."""
    out, ckpt = tmp_path / "partial.json", tmp_path / "partial_ckpt"
    shutil.copy(OLD / "partial.json", out)
    shutil.copytree(OLD / "partial_ckpt", ckpt)
    before = json.loads(out.read_text())
    had = {(a, r["seed"]) for a, e in before["arms"].items() for r in e["runs"]}
    calls = []
    real = runner.run_one
    monkeypatch.setattr(runner, "run_one", lambda cfg, arm, **k: calls.append((arm, cfg.seed)) or real(cfg, arm, **k))
    res = experiments.main(["sweep", "--studies", "reduction", "context", *TINY, "--out", str(out),
                            "--checkpoint-dir", str(ckpt), "--reuse", str(OLD / "compare.json")])
    wanted = {(a, s) for a in ablations.sweep_arms(["reduction", "context"]) for s in (0, 1)}
    assert set(calls) == wanted - had and len(calls) == len(wanted - had)
    assert res["complete"] and res["format"] == 2 and res["converted"]["from_format"] == 1
    assert json.loads(out.read_text()) == res and len(res["sessions"]) == 2
    # the checkpoints of both formats, side by side in one folder, all load
    for entry in res["checkpoints"].values():
        load_checkpoint(ckpt / entry["file"], entry["sha256"])
    assert sorted(res["checkpoints"]) == ["r2", "r32", "r4", "r8", "scale"]
    assert read_results(out) == res
    # the same resumption with the fixture's CPU kernels: the runs it adds are the old code's
    again, again_ckpt = tmp_path / "again" / "partial.json", tmp_path / "again" / "partial_ckpt"
    again.parent.mkdir()
    shutil.copy(OLD / "partial.json", again)
    shutil.copytree(OLD / "partial_ckpt", again_ckpt)
    res = _experiments(["sweep", "--studies", "reduction", "context", *TINY, "--checkpoint-dir", str(again_ckpt),
                        "--reuse", str(OLD / "compare.json")], again)
    old_runs = _old("histories.json")["histories"]
    for arm, seed in wanted:
        run = next(r for r in res["arms"][arm]["runs"] if r["seed"] == seed)
        _assert_same(run["history"], {k: v for k, v in old_runs[f"{arm}/{seed}"].items() if k in run["history"]},
                     f"{arm} seed {seed}")
