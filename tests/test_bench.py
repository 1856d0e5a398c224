"""The benchmark runs end to end on tiny shapes (it measures; it asserts no speed)."""

import json

import pytest

from senet_lib import bench


def test_block_benchmark_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["block", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ratio" in text and "worst ratio" in text
    data = json.loads(out.read_text())
    assert data["machine"]["torch"] and data["rows"]
    for row in data["rows"]:
        assert set(row["median_ms"]) >= {"senet_lib", "torchvision", "classic"}
        assert all(v > 0 for v in row["median_ms"].values())
        assert row["ratio_vs_best_of_timm_torchvision"] > 0


def test_contenders_compute_the_same_function():
    import torch

    torch.manual_seed(0)
    mods = bench.block_contenders(32)
    ours = mods["senet_lib"]
    x = torch.randn(2, 32, 5, 5)
    classic = mods["classic"]
    with torch.no_grad():
        classic.gates[2].weight.copy_(ours.fc1.weight)
        classic.gates[4].weight.copy_(ours.fc2.weight)
        classic.gates[4].bias.copy_(ours.fc2.bias)
    torch.testing.assert_close(classic(x), ours(x))


def test_interleaved_rejects_zero_rounds():
    with pytest.raises(ValueError, match="rounds"):
        bench.interleaved({"a": lambda: None}, rounds=0)
