"""Shipped checkpoints: verified by SHA-256, a damaged file gives a clear error."""

import shutil

import pytest
import torch

from senet_lib import checkpoints
from senet_lib.records import load_results
from senet_lib.results import sha256_of


def test_load_trained_gives_the_documented_model_and_meta():
    model, meta = checkpoints.load_trained("se")
    assert not model.training and len(model.se_blocks()) > 0
    assert len(meta["class_names"]) == meta["architecture"]["num_classes"] >= 8
    assert len(meta["mean"]) == len(meta["std"]) == 3
    assert {"seed", "final_test_acc", "file", "sha256", "dataset", "results"} <= set(meta)
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, len(meta["class_names"]))
    plain, pmeta = checkpoints.load_trained("plain")
    assert plain.se_blocks() == {} and pmeta["class_names"] == meta["class_names"]
    # built from the configuration the results file records for that run
    assert meta["config"]["attn"] == "se" and pmeta["config"]["attn"] == "none"
    assert meta["config"]["seed"] == meta["seed"] and meta["config"]["depth"] == meta["architecture"]["depth"]


def test_load_trained_refuses_a_checkpoint_the_results_file_does_not_describe(tmp_path):
    from senet_lib.config import RunConfig

    path, sha = _shipped_copy(tmp_path, "se")
    with pytest.raises(checkpoints.CheckpointError, match="Missing key|Unexpected key|size mismatch"):
        checkpoints.load_checkpoint(path, sha, config=RunConfig(depth=20, attn="eca"))


def test_shipped_files_are_small():
    res = load_results(checkpoints.DEFAULT_RESULTS)
    for entry in res["checkpoints"].values():
        assert entry["bytes"] < 5_000_000


def _shipped_copy(tmp_path, kind="se"):
    entry = load_results(checkpoints.DEFAULT_RESULTS)["checkpoints"][kind]
    from importlib import resources

    src = resources.files("senet_lib") / "checkpoints" / entry["file"]
    dst = tmp_path / entry["file"]
    with resources.as_file(src) as p:
        shutil.copy(p, dst)
    return dst, entry["sha256"]


def test_corrupted_file_names_file_and_remedy(tmp_path):
    path, sha = _shipped_copy(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoints.CheckpointError) as e:
        checkpoints.load_checkpoint(path, sha, command="python -m senet_lib.experiments compare ...")
    msg = str(e.value)
    assert str(path) in msg and "SHA-256" in msg and "reinstall" in msg.lower()
    assert "python -m senet_lib.experiments compare" in msg


def test_mismatched_and_missing_files(tmp_path):
    path, sha = _shipped_copy(tmp_path, "plain")
    se_sha = load_results(checkpoints.DEFAULT_RESULTS)["checkpoints"]["se"]["sha256"]
    with pytest.raises(checkpoints.CheckpointError, match="SHA-256"):
        checkpoints.load_checkpoint(path, se_sha)  # the plain file where SE was expected
    with pytest.raises(checkpoints.CheckpointError, match="not found"):
        checkpoints.load_checkpoint(tmp_path / "gone.pt", sha)


def test_hash_ok_but_not_a_checkpoint(tmp_path):
    path = tmp_path / "junk.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(checkpoints.CheckpointError, match="junk.pt"):
        checkpoints.load_checkpoint(path, sha256_of(path))


def test_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        checkpoints.load_trained("resnet")
