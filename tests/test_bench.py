"""The benchmark runs end to end on tiny shapes (it measures; it asserts no speed), its
contenders compute the same function, and its statistics do what they say. (The bytes and FLOPs
it reports are tested in test_cost.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from senet_lib import SEBlock, bench


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
    assert "senet_lib / classic" in text and "95 % interval" in text and "Targets" in text
    data = json.loads(out.read_text())
    assert data["environment"]["torch"] == torch.__version__
    assert data["command"].startswith("python -m senet_lib.bench block --quick")
    (cfg,) = data["block"]
    assert cfg["mode"] == "forward+backward" and not cfg["compiled"]
    for row in cfg["rows"]:
        assert set(row["median_ms"]) >= {"senet_lib", "torchvision", "classic"}
        assert all(v > 0 for v in row["median_ms"].values())
        assert set(row["ratios"]) == set(row["median_ms"]) - {"senet_lib"} == set(row["ratio_ci95"])
        for k, (low, high) in row["ratio_ci95"].items():
            assert 0 < low <= row["ratios"][k] <= high
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
    assert {"command", "environment", "settings", "block", "pieces", "ceilings", "models", "traffic",
            "paper", "targets", "elapsed_s"} <= set(data)
    assert "--quick" in data["command"] and data["settings"]["quick"]
    assert len(data["block"]) == 4  # {fwd, fwd+bwd} x {contiguous, channels_last}, eager
    assert {c["memory_format"] for c in data["block"]} == {"contiguous", "channels_last"}
    row = data["pieces"]["rows"][0]
    assert set(row["median_ms"]) == {"pool", "fc", "scale", "add", "addcmul", "conv1x1", "conv3x3"}
    assert row["intensity"]["conv1x1"] > row["intensity"]["pool"]
    assert data["ceilings"]["bandwidth_GBps"] > 0 and data["ceilings"]["matmul_GFLOPs"] > 0
    first = data["models"][0]
    assert "senet_lib" in first["ratios"] and set(first["ratio_ci95"]) == set(first["ratios"])
    for pair, (low, high) in first["ratio_ci95"].items():
        assert low <= first["ratios"][pair] <= high
    assert all(set(m["median_ms"]) >= {"resnet50", "se_resnet50"} for m in data["models"])
    gates = data["gates_in_network"]
    assert len(gates["blocks"]) == 16 and gates["in_place_ms"] > 0 and gates["again_ms"] > 0
    names = [t["name"] for t in data["targets"]]
    assert any("SEBlock" in n for n in names) and any("batch-1" in n for n in names)
    assert data["traffic"]["se_blocks"]["per_image"] > data["traffic"]["folded"]["per_image"]
    assert "Targets" in capsys.readouterr().out


def test_compiled_block_smoke(one_thread):
    torch.set_num_threads(1)
    (row,) = bench.bench_block([(16, 4)], batch=2, rounds=1, compiled=True, names=("senet_lib",))
    assert row["median_ms"]["senet_lib"] > 0 and row["compile_s"]["senet_lib"] > 0
    assert row["ratios"] == {} == row["ratio_ci95"]  # no rival ran
    assert row["compile_order"] == ["senet_lib"]


def test_compile_seconds_rotate_the_order_after_a_warm_up(tmp_path, capsys, one_thread):
    """Chapter 9's compile seconds: a throwaway compile first, then every contender compiled once
    per round, each round (and each shape) starting one contender later."""
    out = tmp_path / "compile.json"
    assert bench.main(["compile", "--quick", "--threads", "1", "--out", str(out)]) == 0
    assert "torch.compile, first call" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["command"] == f"python -m senet_lib.bench compile --quick --threads 1 --out {out}"
    c = data["compile"]
    assert c["warm_up_s"] > 0 and c["repeats"] == 1 and c["backward"] is True
    names = list(c["rows"][0]["compile_s"])
    assert set(names) >= {"senet_lib", "torchvision", "classic"}
    for i, row in enumerate(c["rows"]):                   # shape i starts with contender i
        assert row["orders"] == [names[i:] + names[:i]]
        assert all(len(v) == 1 and v[0] > 0 for v in row["runs_s"].values())
    res = bench.compile_seconds([(16, 4)], batch=2, repeats=2, names=("senet_lib", "classic"))
    (row,) = res["rows"]
    assert row["orders"] == [["senet_lib", "classic"], ["classic", "senet_lib"]]
    for k, runs in row["runs_s"].items():                # the median of the rounds, per contender
        assert len(runs) == 2 and row["compile_s"][k] == pytest.approx(sum(runs) / 2)
    with pytest.raises(ValueError, match="repeats"):
        bench.compile_seconds([(16, 4)], repeats=0)


def test_module_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "senet_lib.bench", "traffic"], capture_output=True,
                         text=True, check=True).stdout
    assert "76.6 MB" in out and "32.4 MB" in out


# ------------------------------------------------------------------ contenders


def test_classic_contender_is_the_plain_sequence_of_the_write_up():
    classic = bench.ClassicSE(64, 16)
    assert [type(m) for m in classic.gates] == [nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear, nn.ReLU,
                                                nn.Linear, nn.Sigmoid, nn.Unflatten]
    fc1, fc2 = classic.gates[2], classic.gates[4]
    assert (fc1.in_features, fc1.out_features, fc1.bias) == (64, 4, None)
    assert (fc2.in_features, fc2.out_features) == (4, 64) and fc2.bias is not None
    assert bench.ClassicSE(3, 16).gates[2].out_features == 1  # the floor of SEBlock, not a 0-wide layer


def test_contenders_compute_the_same_function():
    torch.manual_seed(0)
    mods = bench.block_contenders(32)
    assert set(mods) >= {"senet_lib", "torchvision", "classic"}
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


def test_model_contenders():
    models = bench.model_contenders(("resnet50", "se_resnet50"))
    assert set(models) == {"resnet50", "se_resnet50"}
    assert sum(isinstance(m, SEBlock) for m in models["se_resnet50"].modules()) == 16
    assert not any(isinstance(m, SEBlock) for m in models["resnet50"].modules())
    assert all(not m.training and not any(p.requires_grad for p in m.parameters()) for m in models.values())
    assert set(bench.PAIRS) >= {"senet_lib"} and bench.PAIRS["senet_lib"] == ("se_resnet50", "resnet50")
    with pytest.raises(ValueError, match="unknown models"):
        bench.model_contenders(("resnet51",))


def test_gate_times_in_network_times_every_block_and_leaves_the_model_as_it_was():
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
    assert [b["size"] for b in res["blocks"][:1]] == [[8, 8]]  # 32 x 32 input, stage 1
    assert "excite" not in vars(model.layer1[0].se)  # the timing wrapper is gone
    assert not model.layer1[0].se._forward_pre_hooks  # and so is the shape hook
    with torch.inference_mode():
        torch.testing.assert_close(model(x), before)


def test_gate_times_in_network_rejects_models_it_cannot_time():
    import torchvision

    from senet_lib.networks import se_resnet50

    with pytest.raises(ValueError, match="no SEBlock"):
        bench.gate_times_in_network(torchvision.models.resnet18(), torch.randn(1, 3, 32, 32))
    class Bypass(nn.Module):  # has an SE block but never runs it
        def __init__(self):
            super().__init__()
            self.se = SEBlock(3)

        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="never called"):
        bench.gate_times_in_network(Bypass(), torch.randn(1, 3, 8, 8), rounds=1, warmup=0)
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
    def block_row(timm, tv):
        return {"median_ms": {"senet_lib": 1.0, "timm": 1.0 / timm[0], "torchvision": 1.0 / tv[0]},
                "ratios": {"timm": timm[0], "torchvision": tv[0]},
                "ratio_ci95": {"timm": timm[1], "torchvision": tv[1]}}

    results = {
        "block": [{"mode": "forward+backward", "compiled": False, "memory_format": "contiguous",
                   # against the faster rival (larger ratio): 0.9 at the first shape, 1.1 at the second
                   "rows": [block_row((0.9, [0.85, 0.95]), (0.5, [0.4, 0.6])),
                            block_row((0.7, [0.6, 0.8]), (1.1, [1.05, 1.2]))]},
                  {"mode": "forward", "compiled": False, "memory_format": "contiguous",
                   "rows": [block_row((5.0, [5.0, 5.0]), (5.0, [5.0, 5.0]))]}],
        "models": [{"batch": 1, "compiled": False, "memory_format": "contiguous",
                    "ratios": {"senet_lib": 1.02, "timm": 1.06},
                    "ratio_ci95": {"senet_lib": [1.01, 1.04], "timm": [1.05, 1.07]}},
                   {"batch": 32, "compiled": False, "memory_format": "contiguous",
                    "ratios": {"senet_lib": 9.0}}],
    }
    block, model = bench.targets(results)  # no "classic" contender, no timm pairing: neither target
    assert block["value"] == 1.1 and not block["met"] and block["per_shape"] == [0.9, 1.1]
    assert block["ci95"] == [1.05, 1.2] and block["decided"]  # the whole interval is above 1.0
    assert model["value"] == 1.02 and model["met"] and model["beside"] == {"timm": 1.06}
    assert model["ci95"] == [1.01, 1.04] and not model["decided"]  # the interval straddles 1.03
    results["models"][0]["ratio_ci95"]["senet_lib"] = [1.01, 1.025]
    assert bench.targets(results)[1]["decided"]
    assert "SEBlock" in bench.format_results({"targets": bench.targets(results)})
    # with the classic sequence timed too, its worst stage is a target of its own
    for cfg in results["block"]:
        # strict=False: the forward config has one shape (0.97 only), the forward+backward config two
        for row, r in zip(cfg["rows"], (0.97, 1.04), strict=False):
            row["ratios"]["classic"], row["ratio_ci95"]["classic"] = r, [r - 0.02, r + 0.02]
    classic = [t for t in bench.targets(results) if "classic" in t["name"]]
    # "no slower": fails only when the whole interval is above 1 (here [1.02, 1.06] for fwd+bwd)
    assert [t["value"] for t in classic] == [1.04, 0.97] and [t["met"] for t in classic] == [False, True]
    results["block"][0]["rows"][1]["ratio_ci95"]["classic"] = [0.99, 1.09]     # the run cannot tell
    assert [t["met"] for t in bench.targets(results) if "classic" in t["name"]] == [True, True]
    results["models"][0]["senet_lib_vs_timm"] = {"median": 1.01, "ci95": [0.995, 1.03]}
    vs_timm = next(t for t in bench.targets(results) if "over timm" in t["name"])
    assert vs_timm["met"] and "no slower" in bench.format_results({"targets": [vs_timm]})
    results["imports"] = {"senet_lib_vs_torch": {"median": 1.05, "low": 1.0, "high": 1.1}}
    imports = bench.targets(results)[-1]
    assert imports["name"].startswith("import senet_lib") and imports["met"] and imports["decided"]


def test_attention_bench_times_each_block_against_the_plain_network():
    from senet_lib.bench.attention import bench_attention

    res = bench_attention("resnet14_cifar", batch=2, rounds=2, warmup=0, kinds=("eca", "cbam"))
    assert list(res["median_ms"]) == ["plain", "eca", "cbam"]
    assert set(res["ratio"]) == {"eca", "cbam"}
    for k in ("eca", "cbam"):
        lo, hi = res["ratio_ci95"][k]
        assert lo <= res["ratio"][k] <= hi
        assert len(res["times_ms"][k]) == 2
    assert res["params"]["eca"] - res["params"]["plain"] == 6 * 3  # ResNet-14: 6 blocks of k = 3 weights
    assert res["flops"]["cbam"] > res["flops"]["plain"]


def test_attention_bench_refuses_bad_input():
    from senet_lib.bench.attention import bench_attention

    with pytest.raises(ValueError, match="network must be one of"):
        bench_attention("vgg", rounds=1)
    with pytest.raises(ValueError, match="unknown blocks"):
        bench_attention("resnet14_cifar", rounds=1, kinds=("sk",))
    with pytest.raises(ValueError, match="batch must be a positive int"):
        bench_attention("resnet14_cifar", rounds=1, batch=0)
