"""senet_lib.bench.training: the training-step benchmark runs and checks numbers bit for bit (no
timing is asserted: benchmarks are scripts)."""

from dataclasses import replace

from senet_lib.bench import training


def test_a_quick_run_without_compile_has_every_contender_and_a_verdict(tmp_path, capsys):
    import json

    out = tmp_path / "t.json"
    res = training.main(["--quick", "--no-compile", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    assert res["command"] == "python -m senet_lib.bench.training --quick --no-compile --out " + str(out)
    configs = [c for c in training.CONFIGS if c != "compile"]
    assert sorted((r["network"], r["config"]) for r in res["rows"]) == sorted(
        (n, c) for n in ("ResNet-20", "SE-ResNet-20") for c in configs)
    for r in res["rows"]:
        assert r["median_ms"] > 0 and r["images_per_s"] > 0
        t = r["time_over_eager"]
        assert t["low"] <= t["median"] <= t["high"]
        if r["config"] == "eager":
            assert t["median"] == 1.0
    for attn in ("none", "se"):
        assert res["identical"][attn]["eager"]["bitwise"]               # eager against itself
        assert res["identical"][attn]["eager"]["max_abs_weight_diff"] == 0
    v = res["verdict"]
    assert v["fastest_identical"] in v["bitwise_identical_to_eager"] and "eager" in v["bitwise_identical_to_eager"]
    assert set(v["images_per_s_before"]) == {"ResNet-20", "SE-ResNet-20"}
    assert "fastest with eager's numbers bit for bit" in capsys.readouterr().out


def test_the_check_sees_a_configuration_that_changes_the_numbers(monkeypatch):
    """Make the channels-last contender compute differently (its loss scaled by 1.001): the check
    must call it not identical, with weights that differ; eager against eager stays identical."""
    import torch

    real = training.train_step

    def perturbed(net, optimizer, x, y, **kw):
        if not x.is_contiguous():  # only the channels-last contender feeds channels-last images
            ce = torch.nn.functional.cross_entropy
            torch.nn.functional.cross_entropy = lambda *a, **k: 1.001 * ce(*a, **k)
            try:
                return real(net, optimizer, x, y, **kw)
            finally:
                torch.nn.functional.cross_entropy = ce
        return real(net, optimizer, x, y, **kw)

    cfg = replace(training.CHAPTER6, depth=8, width=8, per_class=8, batch_size=16)
    batches, test = training._batches(cfg, 2)
    configs = {"eager": training.CONFIGS["eager"], "again": training.CONFIGS["eager"],
               "channels_last": training.CONFIGS["channels_last"]}
    monkeypatch.setattr(training, "train_step", perturbed)
    out = training.identical(cfg, "se", batches, test, 2, configs)
    assert out["again"]["bitwise"] and out["again"]["max_abs_weight_diff"] == 0
    assert not out["channels_last"]["bitwise"] and out["channels_last"]["max_abs_loss_diff"] > 0
    assert out["channels_last"]["max_abs_weight_diff"] > 0
