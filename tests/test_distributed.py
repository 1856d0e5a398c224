"""Data-parallel training under torchrun on this CPU (gloo backend, 2 processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}


def _torchrun(args, timeout=120):
    return subprocess.run(TORCHRUN + args, capture_output=True, text=True, timeout=timeout, env=ENV,
                          cwd=HERE)


def test_one_step_split_across_two_processes_equals_one_process_on_the_whole_batch(tmp_path):
    from _ddp_step import one_step

    out = tmp_path / "w.pt"
    run = _torchrun([str(HERE / "_ddp_step.py"), str(out)])
    assert run.returncode == 0, run.stderr[-3000:]
    two = torch.load(out)
    one = one_step().state_dict()
    assert two.keys() == one.keys()
    moved = 0
    for k in one:
        torch.testing.assert_close(two[k], one[k], atol=1e-6, rtol=1e-5)
        moved += not torch.equal(one[k], _initial_weights()[k])
    assert moved == len(one)  # the step changed every tensor: the comparison is not vacuous


def _initial_weights():
    from senet_lib.tiny_task import TinySENet

    torch.manual_seed(0)
    return TinySENet(4, width=8, reduction=2).state_dict()


SMOKE = ["--seeds", "0", "--epochs", "1", "--depth", "8", "--width", "4", "--per-class", "4",
         "--test-per-class", "3", "--batch-size", "8", "--threads", "1", "--no-progress", "--device", "cpu"]


def test_compare_under_torchrun_completes_and_only_rank_0_writes(tmp_path):
    out, ckpt = tmp_path / "r.json", tmp_path / "ckpt"
    run = _torchrun(["-m", "senet_lib.experiments", "compare", *SMOKE, "--out", str(out),
                     "--checkpoint-dir", str(ckpt)])
    assert run.returncode == 0, run.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["sessions"][0]["environment"]["world_size"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "r.json"]  # no stray files
    assert sorted(p.name for p in ckpt.iterdir()) == ["photos_resnet8_plain.pt", "photos_resnet8_se.pt"]
    assert run.stdout.count("written to") == 1  # one report, from rank 0
    assert set(res["settings"]) >= {"seeds", "epochs", "depth"} and res["arms"]["se"]["runs"]


def test_bad_launches_fail_clearly(tmp_path):
    run = _torchrun(["-m", "senet_lib.experiments", "compare", *SMOKE, "--batch-size", "7",
                     "--out", str(tmp_path / "r.json")])
    assert run.returncode != 0 and "--batch-size 7 must be divisible by the number of processes (2)" in run.stderr
    assert not (tmp_path / "r.json").exists()
    if not torch.cuda.is_available():
        from senet_lib import experiments

        with pytest.raises(SystemExit, match="no CUDA GPU"):
            experiments.main(["compare", *SMOKE, "--device", "cuda", "--out", str(tmp_path / "c.json")])
        assert not (tmp_path / "c.json").exists()
