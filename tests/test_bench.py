"""The benchmark runs end to end on tiny shapes (it measures; it asserts no speed), and the
memory-traffic model gives the numbers worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from senet_lib import bench
from senet_lib.bench import traffic
from senet_lib.cifar_resnet import CifarResNet


@pytest.fixture
def one_thread():
    """Smoke runs use one thread (steadier on a shared machine); restore the setting after."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ smoke runs (no timing asserted)


def test_block_benchmark_smoke(tmp_path, capsys, one_thread):
    out = tmp_path / "bench.json"
    assert bench.main(["block", "--quick", "--threads", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ratio" in text and "Targets" in text
    data = json.loads(out.read_text())
    assert data["machine"]["torch"] == torch.__version__
    assert data["command"].startswith("python -m senet_lib.bench block --quick")
    (cfg,) = data["block"]
    assert cfg["mode"] == "forward+backward" and not cfg["compiled"]
    for row in cfg["rows"]:
        assert set(row["median_ms"]) >= {"senet_lib", "torchvision", "classic"}
        assert all(v > 0 for v in row["median_ms"].values())
        assert row["ratio_vs_best_of_timm_torchvision"] > 0
        assert row["bytes"]["total"] > 0


def test_an_existing_out_file_is_not_overwritten_without_force(tmp_path, capsys, one_thread):
    out = tmp_path / "mine.json"
    out.write_text("a reader's earlier results\n")
    with pytest.raises(SystemExit) as e:
        bench.main(["traffic", "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"--out {out} exists" in err and "--force" in err
    assert out.read_text() == "a reader's earlier results\n"
    assert bench.main(["traffic", "--out", str(out), "--force"]) == 0
    assert "traffic" in json.loads(out.read_text())


def test_full_benchmark_smoke(tmp_path, capsys, one_thread):
    out = tmp_path / "full.json"
    assert bench.main(["full", "--quick", "--no-compile", "--threads", "1", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"command", "machine", "settings", "block", "pieces", "ceilings", "models", "traffic",
            "paper", "targets", "elapsed_s"} <= set(data)
    assert "--quick" in data["command"] and data["settings"]["quick"]
    assert len(data["block"]) == 4  # {fwd, fwd+bwd} x {contiguous, channels_last}, eager
    assert {c["memory_format"] for c in data["block"]} == {"contiguous", "channels_last"}
    row = data["pieces"]["rows"][0]
    assert set(row["median_ms"]) == {"pool", "fc", "scale", "add", "addcmul", "conv1x1", "conv3x3"}
    assert row["intensity"]["conv1x1"] > row["intensity"]["pool"]
    assert data["ceilings"]["bandwidth_GBps"] > 0 and data["ceilings"]["matmul_GFLOPs"] > 0
    first = data["models"][0]
    assert set(first["ratios"]) >= {"senet_lib_fused", "senet_lib_unfused"}
    assert set(first["ratio_ci95"]) == set(first["ratios"])
    for pair, (low, high) in first["ratio_ci95"].items():
        assert low <= first["ratios"][pair] <= high
    assert first["fused_max_abs_diff"] < 1e-3  # the fused path computes the same function
    gates = data["gates_in_network"]
    assert len(gates["blocks"]) == 16 and gates["in_place_ms"] > 0 and gates["again_ms"] > 0
    names = [t["name"] for t in data["targets"]]
    assert any("SEBlock" in n for n in names) and any("batch-1" in n for n in names)
    assert data["traffic"]["unfused"]["per_image"] > data["traffic"]["fused"]["per_image"]
    assert "Targets" in capsys.readouterr().out


def test_compiled_block_smoke(one_thread):
    torch.set_num_threads(1)
    (row,) = bench.bench_block([(16, 4)], batch=2, rounds=1, compiled=True, names=("senet_lib",))
    assert row["median_ms"]["senet_lib"] > 0 and row["compile_s"]["senet_lib"] > 0
    assert row["ratio_vs_best_of_timm_torchvision"] is None  # no rival ran


def test_module_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "senet_lib.bench", "traffic"], capture_output=True,
                         text=True, check=True).stdout
    assert "76.6 MB" in out and "32.4 MB" in out


# ------------------------------------------------------------------ contenders


def test_contenders_compute_the_same_function():
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
    with pytest.raises(ValueError, match="unknown contenders"):
        bench.block_contenders(32, names=("senet_lib", "nope"))


def test_model_contenders_share_weights_and_fused_matches():
    models = bench.model_contenders(("se_resnet50_fused", "se_resnet50_unfused"))
    assert models["se_resnet50_fused"].layer1[0].fused
    assert not models["se_resnet50_unfused"].layer1[0].fused
    x = torch.randn(1, 3, 32, 32)
    assert bench.check_fused(models["se_resnet50_fused"], models["se_resnet50_unfused"], x) < 1e-4
    with pytest.raises(ValueError, match="unknown models"):
        bench.model_contenders(("resnet51",))


def test_gate_times_in_network_times_every_fused_block_and_leaves_the_model_as_it_was():
    from senet_lib.networks import se_resnet50

    torch.manual_seed(0)
    model = se_resnet50().eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        before = model(x)
    res = bench.gate_times_in_network(model, x, rounds=2, warmup=1)
    names = [b["name"] for b in res["blocks"]]
    assert names[0] == "layer1.0.se" and names[-1] == "layer4.2.se" and len(names) == 16
    assert [b["channels"] for b in res["blocks"][:3]] == [256] * 3
    assert all(b["in_place_us"] > 0 and b["again_us"] > 0 for b in res["blocks"])
    assert res["in_place_ms"] == pytest.approx(sum(b["in_place_us"] for b in res["blocks"]) / 1e3)
    assert "gates" not in vars(model.layer1[0].se)  # the timing wrapper is gone
    with torch.inference_mode():
        torch.testing.assert_close(model(x), before)


def test_gate_times_in_network_rejects_models_it_cannot_time():
    import torchvision
    from senet_lib.networks import se_resnet50

    with pytest.raises(ValueError, match="no SEBlock"):
        bench.gate_times_in_network(torchvision.models.resnet18(), torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="fused=True"):
        bench.gate_times_in_network(se_resnet50(fused=False).eval(), torch.randn(1, 3, 32, 32),
                                    rounds=1, warmup=0)
    with pytest.raises(ValueError, match="rounds must be an int >= 1, got 0"):
        bench.gate_times_in_network(se_resnet50(), torch.randn(1, 3, 32, 32), rounds=0)
    with pytest.raises(ValueError, match="warmup must be an int >= 0, got -1"):
        bench.gate_times_in_network(se_resnet50(), torch.randn(1, 3, 32, 32), warmup=-1)
    with pytest.raises(ValueError, match="on the CPU"):
        bench.gate_times_in_network(se_resnet50(), torch.zeros(1, 3, 32, 32, device="meta"))


def test_interleaved_rejects_bad_rounds():
    with pytest.raises(ValueError, match="rounds"):
        bench.interleaved({"a": lambda: None}, rounds=0)
    with pytest.raises(ValueError, match="warmup"):
        bench.interleaved({"a": lambda: None}, rounds=1, warmup=-1)
    with pytest.raises(ValueError, match="fns"):
        bench.interleaved({}, rounds=1)


def test_interleaved_order_and_sync():
    calls = []
    times = bench.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                              rounds=2, warmup=1, sync=lambda: calls.append("|"))
    assert calls == ["a", "b"] + ["|", "a", "|", "|", "b", "|"] * 2  # A, B, A, B: interleaved
    assert [len(v) for v in times.values()] == [2, 2]
    assert bench.device_sync("cpu") is None


def test_interleaved_shuffle_changes_the_order_between_rounds_reproducibly():
    def run(seed):
        calls = []
        bench.interleaved({k: (lambda k=k: calls.append(k)) for k in "abcd"}, rounds=12, warmup=0,
                          shuffle=seed)
        return [tuple(calls[i:i + 4]) for i in range(0, 48, 4)]

    rounds = run(0)
    assert all(sorted(r) == list("abcd") for r in rounds)  # each contender once per round
    assert len(set(rounds)) > 1  # the order changes
    assert run(0) == rounds and run(1) != rounds  # seeded


def test_paired_ratio_pairs_rounds_and_brackets_the_median():
    # the machine is slow in odd rounds (a busy neighbour); SE is always 4 % slower than plain
    plain = [0.100 if i % 2 else 0.150 for i in range(40)]
    se = [t * 1.04 for t in plain]
    p = bench.paired_ratio(se, plain)
    assert p["median"] == pytest.approx(1.04) and p["low"] == pytest.approx(1.04)
    assert p["rounds"] == 40
    # 50 rounds: the interval is the 19th to the 32nd of the sorted ratios (binomial ranks)
    ratios = [1.0 + 0.01 * ((7 * i) % 11) for i in range(50)]
    noisy = bench.paired_ratio(ratios, [1.0] * 50)
    ranked = sorted(ratios)
    assert noisy["median"] == pytest.approx((ranked[24] + ranked[25]) / 2)
    assert (noisy["low"], noisy["high"]) == (ranked[18], ranked[31])
    assert noisy["low"] < noisy["median"] < noisy["high"]
    few = bench.paired_ratio([2.0, 3.0, 1.0], [1.0, 1.0, 1.0])
    assert (few["low"], few["median"], few["high"]) == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="equal length"):
        bench.paired_ratio([1.0], [1.0, 2.0])


def test_summarize_medians_and_spread():
    med, iqr = bench.summarize({"a": [0.001, 0.003, 0.002], "b": [0.001] * 5})
    assert med["a"] == pytest.approx(2.0) and iqr["a"] == pytest.approx(2.0)
    assert med["b"] == pytest.approx(1.0) and iqr["b"] == pytest.approx(0.0)


def test_targets_are_read_from_results():
    results = {
        "block": [{"mode": "forward+backward", "compiled": False, "memory_format": "contiguous",
                   "rows": [{"ratio_vs_best_of_timm_torchvision": 0.9},
                            {"ratio_vs_best_of_timm_torchvision": 1.1}]},
                  {"mode": "forward", "compiled": False, "memory_format": "contiguous",
                   "rows": [{"ratio_vs_best_of_timm_torchvision": 5.0}]}],
        "models": [{"batch": 1, "compiled": False, "memory_format": "contiguous",
                    "ratios": {"senet_lib_fused": 1.02, "timm": 1.06},
                    "ratio_ci95": {"senet_lib_fused": [1.01, 1.04], "timm": [1.05, 1.07]}},
                   {"batch": 32, "compiled": False, "memory_format": "contiguous",
                    "ratios": {"senet_lib_fused": 9.0}}],
    }
    block, model = bench.targets(results)
    assert block["value"] == 1.1 and not block["met"] and block["per_shape"] == [0.9, 1.1]
    assert model["value"] == 1.02 and model["met"] and model["beside"] == {"timm": 1.06}
    assert model["ci95"] == [1.01, 1.04] and not model["decided"]  # the interval straddles 1.03
    results["models"][0]["ratio_ci95"]["senet_lib_fused"] = [1.01, 1.025]
    assert bench.targets(results)[1]["decided"]


def test_machine_describes_the_run():
    m = bench.machine()
    assert m["torch"] == torch.__version__ and m["cpu_count"] >= 1 and m["torch_threads"] >= 1


# ------------------------------------------------------------------ the memory-traffic model


def test_se_block_bytes_by_hand():
    # SEBlock(32, r=16) on one 32 x 8 x 8 map: M = 2048, G = 32, h = 2, fp32.
    b = traffic.se_block_bytes(32, 8, 8)
    assert b["pool"] == 4 * (2048 + 32) == 8320
    assert b["excite"] == 4 * (32 + 2 * 32 * 2 + 32 + 32) == 896
    assert b["scale"] == 4 * (2 * 2048 + 32) == 16512
    assert b["total"] == 8320 + 896 + 16512 == 25728
    f = traffic.se_block_bytes(32, 8, 8, fused=True)
    assert f["scale"] == 4 * 32 and f["total"] == 8320 + 896 + 128 == 9344


def test_se_block_bytes_batch_dtype_and_hidden():
    # batch 2, fp16, C = 3 < r: one hidden unit. M = 2*3*4*5 = 120, G = 6.
    b = traffic.se_block_bytes(3, 4, 5, batch=2, dtype_bytes=2)
    assert b["pool"] == 2 * 126 and b["excite"] == 2 * (12 + 6 + 3) and b["scale"] == 2 * 246
    assert traffic.se_block_bytes(64, 2, 2, hidden=8)["excite"] == 4 * (128 + 2 * 64 * 8 + 64)
    with pytest.raises(ValueError, match="channels"):
        traffic.se_block_bytes(0, 8, 8)
    with pytest.raises(TypeError, match="fused"):
        traffic.se_block_bytes(8, 8, 8, fused="yes")


def test_se_resnet50_bytes_per_image_by_hand():
    # Feature-map elements over the 16 SE blocks at 224 x 224:
    # 3*256*56^2 + 4*512*28^2 + 6*1024*14^2 + 3*2048*7^2 = 5,519,360.
    maps = 3 * 256 * 56**2 + 4 * 512 * 28**2 + 6 * 1024 * 14**2 + 3 * 2048 * 7**2
    assert maps == 5_519_360
    channels = 3 * 256 + 4 * 512 + 6 * 1024 + 3 * 2048  # 15,104: one fc2 bias per channel
    weights = 2_514_944 + channels  # the paper's (2/r) sum N_s C_s^2, plus the fc2 biases
    vectors = 4 * channels  # z written and read, gates written and read
    unfused = traffic.se_network_bytes(fused=False)
    fused = traffic.se_network_bytes(fused=True)
    assert unfused["total"] == 4 * (3 * maps + weights + vectors) == 76_594_176
    assert fused["total"] == 4 * (maps + weights + vectors) == 32_439_296
    assert unfused["total"] - fused["total"] == 4 * 2 * maps
    assert [s["blocks"] for s in unfused["per_stage"]] == [3, 4, 6, 3]
    assert traffic.se_network_bytes(batch=4)["per_image"] < unfused["per_image"]  # weights shared


def test_flops_intensity_and_bandwidth():
    f = traffic.se_block_flops(32, 8, 8)
    assert f == {"pool": 2048, "excite": 4 * 32 * 2, "scale": 2048, "total": 4352}
    c = traffic.conv_cost(1, 64, 256, 56, 1)
    assert c.flops == 2 * 56 * 56 * 64 * 256
    assert c.bytes == 4 * (56 * 56 * (64 + 256) + 64 * 256)
    assert c.intensity == pytest.approx(c.flops / c.bytes)
    assert traffic.conv_cost(1, 8, 8, 4, 3).flops == 2 * 16 * 64 * 9
    assert traffic.implied_bandwidth(2e9, 0.5) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="seconds"):
        traffic.implied_bandwidth(1.0, 0.0)


@pytest.mark.parametrize("call", [
    lambda: traffic.se_block_bytes(32, 8, 8, fused=1),
    lambda: CifarResNet(1, se="yes"),
])
def test_flags_must_be_bools_and_the_error_says_so(call):
    with pytest.raises(TypeError, match=r"must be a bool \(True or False\), got"):
        call()
