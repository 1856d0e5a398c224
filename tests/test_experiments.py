"""The experiment commands and the one runner behind them: a smoke run writes a complete, valid
results file and checkpoints; resuming, extending, reusing and refusing; the command line made
from the configuration's fields."""

import json
import shlex
from dataclasses import fields, replace

import pytest
import torch

from senet_lib import ablations, checkpoints, config, experiments, records, report, runner
from senet_lib.results import run_config, sha256_of

SMOKE = ["compare", "--dataset", "photos", "--seeds", "0", "1", "--epochs", "1", "--depth", "8",
         "--width", "4", "--per-class", "4", "--test-per-class", "3", "--batch-size", "8",
         "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smoke")
    argv = SMOKE + ["--out", str(folder / "r.json"), "--checkpoint-dir", str(folder / "ckpt")]
    experiments.main(argv)
    return folder, argv, json.loads((folder / "r.json").read_text())


def test_results_file_is_complete(smoke):
    _folder, argv, res = smoke
    assert res["format"] == 2 and res["complete"]
    assert res["command"] == shlex.join(["python", "-m", "senet_lib.experiments", *argv])
    assert res["settings"]["seeds"] == [0, 1] and res["settings"]["epochs"] == 1
    assert res["settings"]["depth"] == 8 and res["dataset"]["n_train"] == 40
    assert res["studies"] == {"compare": ablations.STUDIES["compare"]}
    assert len(res["dataset"]["classes"]) == len(res["dataset"]["credits"]) >= 8
    for kind in ("plain", "se"):
        m = res["arms"][kind]
        assert m["model"] == ablations.arm_config(config.RunConfig(), kind).arm()
        assert [r["seed"] for r in m["runs"]] == [0, 1]
        for r in m["runs"]:
            assert len(r["history"]["test_acc"]) == 1 and r["wall_time_s"] > 0
            assert r["final_test_acc"] == r["history"]["test_acc"][-1]
            assert run_config(res, kind, r["seed"]).seed == r["seed"]
        acc = m["final_test_acc"]
        assert acc["mean"] == pytest.approx(sum(acc["values"]) / 2) and acc["std"] >= 0
    assert res["arms"]["se"]["params"] > res["arms"]["plain"]["params"]
    assert res["arms"]["se"]["flops"] > res["arms"]["plain"]["flops"]
    session = res["sessions"][0]
    assert session["runs"] == 4 and session["jobs"] == 1 and session["options"]["threads"] == 1
    assert {"torch", "torchvision", "senet_lib", "python", "machine", "platform", "device",
            "world_size"} <= set(session["environment"])
    assert res["wall_time_s"] > 0


def test_checkpoints_recorded_and_loadable(smoke):
    folder, _, res = smoke
    for kind in ("plain", "se"):
        entry = res["checkpoints"][kind]
        path = folder / "ckpt" / entry["file"]
        assert entry["sha256"] == sha256_of(path) and entry["bytes"] == path.stat().st_size
        model, meta = checkpoints.load_checkpoint(path, entry["sha256"])
        assert meta["config"] == run_config(res, kind, 0).to_dict() and meta["config"]["seed"] == 0
        assert bool(model.se_blocks()) == (kind == "se") and not model.training


def test_existing_results_and_checkpoints_are_not_overwritten_without_force(smoke, tmp_path):
    import shutil

    folder = tmp_path / "run"                      # a copy: the smoke run's files stay as they are
    shutil.copytree(smoke[0], folder)
    argv = SMOKE + ["--out", str(folder / "r.json"), "--checkpoint-dir", str(folder / "ckpt")]
    before = {p: p.read_bytes() for p in [folder / "r.json", *(folder / "ckpt").iterdir()]}
    with pytest.raises(SystemExit, match=r"refusing to overwrite .*r\.json.*--force"):
        experiments.main(argv)
    # a new --out, but the checkpoints of that depth are in the folder already
    with pytest.raises(SystemExit, match=r"photos_resnet8_plain\.pt.*photos_resnet8_se\.pt"):
        experiments.main(SMOKE + ["--out", str(tmp_path / "new.json"), "--checkpoint-dir", str(folder / "ckpt")])
    assert not (tmp_path / "new.json").exists()
    assert {p: p.read_bytes() for p in before} == before
    # with --force they are replaced, and the recorded settings do not include the flag
    res = experiments.main(argv + ["--force"])
    assert "force" not in res["settings"] and len(res["sessions"]) == 1
    assert json.loads((folder / "r.json").read_text())["command"].endswith("--force")


def test_colour_cast_and_exposure_options_reach_the_patches(tmp_path):
    """`--max-cast 0 --max-exposure 0` trains on the photographs' own colours."""
    from senet_lib.data import photo_patches

    res = experiments.main(SMOKE + ["--seeds", "0", "--max-cast", "0", "--max-exposure", "0",
                                    "--out", str(tmp_path / "r.json")])
    assert res["settings"]["max_cast"] == 0 and res["settings"]["max_exposure"] == 0
    gen = res["dataset"]["generator"]
    assert gen["max_cast"] == 0 and gen["max_exposure"] == 0
    plain = photo_patches("train", 4, seed=0, max_cast=0, max_exposure=0)
    cast = photo_patches("train", 4, seed=0)
    assert res["dataset"]["mean"] == list(plain.mean) != list(cast.mean)
    with pytest.raises(ValueError, match="max_cast must be between 0 and 2"):
        experiments.main(SMOKE + ["--max-cast", "3", "--out", str(tmp_path / "bad.json")])
    assert not (tmp_path / "bad.json").exists()


def test_shipped_results_were_made_by_the_command():
    res = records.load_results("compare_photos.json")
    assert res["command"].startswith("python -m senet_lib.experiments compare")
    assert len(res["settings"]["seeds"]) >= 3
    for kind in ("plain", "se"):
        assert len(res["arms"][kind]["runs"]) == len(res["settings"]["seeds"])
    # the patches the command trained on are the ones photo_patches makes today
    from senet_lib.data import photo_patches

    gen = res["dataset"]["generator"]
    tr = photo_patches("train", gen["per_class_train"], seed=gen["seed"])
    assert list(tr.mean) == res["dataset"]["mean"] and list(tr.std) == res["dataset"]["std"]


def test_chapter6_claims_hold_for_the_shipped_results():
    """The prose of chapters 6 and 7 about the two shipped results files (their verdicts are
    written by code; what remains in words is checked here). If the files are remade, this test
    says which sentences to re-read."""
    cast_res = records.load_results("compare_photos.json")
    nocast_res = records.load_results("compare_photos_nocast.json")
    # both made after the normalisation fix: the test split normalised with the training statistics
    for res in (cast_res, nocast_res):
        assert res["dataset"]["normalised_with"] == "training set statistics (both splits)"
    assert nocast_res["settings"]["max_cast"] == 0 and nocast_res["settings"]["max_exposure"] == 0
    # "the same command, with the same seeds, depth, epochs and patches"
    for k in ("depth", "width", "epochs", "per_class", "test_per_class", "seeds", "lr", "batch_size"):
        assert cast_res["settings"][k] == nocast_res["settings"][k], k
    # chapter 7: "Chapter 6 found SE-ResNet-20 clearly ahead of ResNet-20 on this task"
    with_cast = report.paired_summary(cast_res)
    assert with_cast["clear"] and with_cast["mean"] > 0
    assert cast_res["settings"]["depth"] == 20


def test_load_results_errors():
    with pytest.raises(ValueError, match="name"):
        records.load_results("../x.json")
    with pytest.raises(FileNotFoundError, match="available"):
        records.load_results("nope.json")


def test_cifar10_path_of_the_command_on_a_fixture(tmp_path, monkeypatch):
    import os

    import torchvision.datasets.cifar as tv_cifar
    from test_data import _write_cifar_fixture

    _write_cifar_fixture(tmp_path, n_train=40, n_test=10)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    res = experiments.main(["compare", "--dataset", "cifar10", "--data-root", str(tmp_path),
                            "--subset", "16", "--seeds", "0", "--epochs", "1", "--depth", "8",
                            "--width", "4", "--batch-size", "8", "--no-progress",
                            "--out", str(tmp_path / "c.json")])
    assert res["dataset"]["name"] == "cifar10" and res["dataset"]["n_train"] == 16
    assert res["dataset"]["n_test"] == 10 and len(res["dataset"]["classes"]) == 10
    assert res["sessions"][0]["options"]["data_root"] == str(tmp_path)
    assert json.loads((tmp_path / "c.json").read_text())["arms"]["se"]["runs"][0]["seed"] == 0


# --- the configuration and the command line ---------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    (dict(dataset="imagenet"), "dataset"), (dict(epochs=0), "epochs"), (dict(depth=21), "depth"),
    (dict(lr=-0.1), "lr"), (dict(lr=0), "lr"), (dict(batch_size=2.5), "batch_size"), (dict(seed=-1), "seed"),
    (dict(attn="sknet"), "attn"), (dict(attn="se", attn_options={"ratio": 4}), "ratio"),
    (dict(stages=(4,)), "stages"), (dict(position="middle"), "position"), (dict(amp="yes"), "amp"),
])
def test_settings_are_validated_once(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        config.RunConfig(**kwargs)


def test_config_round_trips_through_its_dict():
    c = config.RunConfig(depth=8, attn="se", attn_options={"reduction": 2}, stages=[2, 1], seed=3, epochs=2)
    assert c.stages == (1, 2) and c.attn_options["reduction"] == 2 and c.attn_options["pool"] == "avg"
    d = c.to_dict()
    assert json.loads(json.dumps(d)) == d and d["stages"] == [1, 2]
    assert config.RunConfig.from_dict(d) == c
    assert config.RunConfig(attn="se") == config.RunConfig(attn="se", attn_options={"reduction": 16})
    with pytest.raises(ValueError, match=r"not fields of RunConfig: \['reduction'\]"):
        config.RunConfig.from_dict({**d, "reduction": 2})
    assert set(c.arm()) == set(config.ARM_FIELDS) and "seed" not in c.shared()


def test_build_data_normalises_the_test_split_with_the_training_statistics():
    """The model sees its training set's mean and std on any test split, whatever its size."""
    from senet_lib.data import normalize, photo_patches

    train_ds, test_ds, info = config.build_data(config.RunConfig(per_class=6, test_per_class=3))
    tr = photo_patches("train", 6, seed=0)
    te = photo_patches("test", 3, seed=0)
    assert info["mean"] == list(tr.mean) and info["std"] == list(tr.std)
    assert list(te.mean) != list(tr.mean)  # the test call's own statistics differ ...
    torch.testing.assert_close(test_ds.tensors[0], normalize(te.images, tr.mean, tr.std))  # ... unused
    torch.testing.assert_close(train_ds.tensors[0], normalize(tr.images, tr.mean, tr.std))


def test_the_command_line_is_made_from_the_configuration_fields():
    p = experiments.parser()
    sub = p._subparsers._group_actions[0].choices
    for name in ("compare", "sweep"):
        flags = {s for a in sub[name]._actions for s in a.option_strings}
        wanted = {"--" + f.name.replace("_", "-") for f in fields(config.RunConfig)
                  if f.name not in config.ARM_FIELDS and f.name != "seed"}
        assert wanted <= flags, wanted - flags
        assert not {"--attn", "--stages", "--position", "--seed"} & flags   # the arms set those
    args = p.parse_args(["sweep", "--out", "x", "--epochs", "3", "--amp", "--lr", "0.05"])
    cfg = experiments._config(args)
    assert cfg == replace(experiments.DEFAULTS["sweep"], epochs=3, amp=True, lr=0.05)


def test_presets_are_replaced_defaults_and_options_win(tmp_path, monkeypatch):
    import os

    import torchvision.datasets.cifar as tv_cifar
    from test_data import _write_cifar_fixture

    assert config.PRESETS["cifar10-resnet110"] == replace(config.RunConfig(), dataset="cifar10", depth=110,
                                                          epochs=164, weight_decay=1e-4)
    args = experiments.parser().parse_args(["compare", "--preset", "cifar10-resnet110", "--epochs", "30", "--out", "x"])
    cfg = experiments._config(args)
    assert (cfg.dataset, cfg.depth, cfg.epochs, cfg.weight_decay) == ("cifar10", 110, 30, 1e-4)
    assert not args.download  # a preset never downloads by itself
    # the GPU preset of the sweep, run offline on the CIFAR fixture with small overrides
    _write_cifar_fixture(tmp_path, n_train=40, n_test=10)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    res = experiments.main(["sweep", "--preset", "gpu", "--studies", "no_squeeze", "--data-root",
                            str(tmp_path), "--subset", "16", "--seeds", "0", "--epochs", "1",
                            "--depth", "8", "--width", "4", "--batch-size", "8", "--no-progress",
                            "--out", str(tmp_path / "s.json")])
    assert res["settings"]["dataset"] == "cifar10" and res["settings"]["epochs"] == 1
    assert res["settings"]["weight_decay"] == config.PRESETS["gpu"].weight_decay
    assert res["dataset"]["n_train"] == 16 and res["complete"]
    with pytest.raises(SystemExit):
        experiments.main(["compare", "--preset", "tpu", "--out", str(tmp_path / "n.json")])
    with pytest.raises(SystemExit, match="bad settings: depth"):
        experiments.main(["compare", "--depth", "21", "--out", str(tmp_path / "n.json")])
    with pytest.raises(SystemExit, match="bad settings: seeds"):
        experiments.main(["compare", "--seeds", "1", "1", "--out", str(tmp_path / "n.json")])
    assert not (tmp_path / "n.json").exists()


# --- the ablation sweep --------------------------------------------------------------------------

SWEEP = ["sweep", "--studies", "no_squeeze", "--seeds", "0", "--epochs", "1", "--depth", "8",
         "--width", "4", "--per-class", "4", "--test-per-class", "3", "--batch-size", "8",
         "--threads", "1", "--no-progress"]


def test_sweep_smoke_writes_every_arm(tmp_path):
    out = tmp_path / "s.json"
    res = experiments.main(SWEEP + ["--seeds", "0", "1", "--out", str(out)])
    assert res == json.loads(out.read_text()) and res["complete"]
    assert list(res["arms"]) == ["plain", "se", "no_squeeze"]
    assert res["studies"] == {"no_squeeze": {"paper_table": 16, "arms": ["se", "no_squeeze"]}}
    for arm in res["arms"].values():
        assert [r["seed"] for r in arm["runs"]] == [0, 1]
        assert arm["params"] > 0 and arm["flops"] > 0
    # no squeeze costs FLOPs that grow with the map; SE's FC layers barely count
    assert res["arms"]["no_squeeze"]["flops"] > res["arms"]["se"]["flops"] > res["arms"]["plain"]["flops"]
    assert res["arms"]["se"]["se_elementwise_ops"] > 0 == res["arms"]["plain"]["se_elementwise_ops"]
    assert res["command"].startswith("python -m senet_lib.experiments sweep") and res["wall_time_s"] > 0
    table = report.format_sweep(res).splitlines()
    assert table[0] == "no_squeeze (paper Table 16)" and len(table) == 4  # the study, then its 3 arms
    d = report.paired(res, "no_squeeze", "se")
    assert table[3].split()[0] == "no_squeeze" and f"vs se {d['mean']:+.2f} ± {d['sem']:.2f}" in table[3]


def test_sweep_resumes_after_an_interruption_and_refuses_to_overwrite(tmp_path, monkeypatch):
    out = tmp_path / "s.json"
    argv = SWEEP + ["--seeds", "0", "1", "--out", str(out)]
    real = runner.run_one
    calls = []

    def dies_after_four(cfg, arm, **kwargs):
        if len(calls) == 4:
            raise KeyboardInterrupt  # the machine went away mid-sweep
        calls.append((arm, cfg.seed))
        return real(cfg, arm, **kwargs)

    monkeypatch.setattr(runner, "run_one", dies_after_four)
    with pytest.raises(KeyboardInterrupt):
        experiments.main(argv)
    partial = json.loads(out.read_text())
    assert not partial["complete"] and sum(len(a["runs"]) for a in partial["arms"].values()) == 4
    kept = {a: list(e["runs"]) for a, e in partial["arms"].items()}

    calls.clear()
    monkeypatch.setattr(runner, "run_one", lambda cfg, arm, **k: calls.append((arm, cfg.seed)) or real(cfg, arm, **k))
    res = experiments.main(argv)
    assert calls == [("se", 1), ("no_squeeze", 1)]  # only the two missing runs were trained
    assert res["complete"] and len(res["sessions"]) == 2
    for arm, runs in kept.items():
        assert res["arms"][arm]["runs"][:len(runs)] == runs
    # finished: refused without --force, and refused with other settings
    with pytest.raises(SystemExit, match="finished.*--force"):
        experiments.main(argv)
    # ... but more seeds after its own extend it, training only the new seed
    calls.clear()
    more = SWEEP + ["--seeds", "0", "1", "2", "--out", str(out)]
    res = experiments.main(more)
    assert calls == [("plain", 2), ("se", 2), ("no_squeeze", 2)] and res["complete"]
    assert res["settings"]["seeds"] == [0, 1, 2] and res["command"].endswith(str(out))
    assert "0 1 2" in res["command"] and len(res["arms"]["se"]["runs"]) == 3
    with pytest.raises(SystemExit, match="finished"):
        experiments.main(argv)  # fewer seeds than the file holds: nothing to add
    out.write_text(json.dumps({**res, "complete": False}))
    with pytest.raises(SystemExit, match="other settings"):
        experiments.main(argv + ["--epochs", "2"])
    with pytest.raises(SystemExit, match="other settings, studies or arms"):
        experiments.main(SWEEP[:2] + ["context"] + SWEEP[3:] + ["--seeds", "0", "1", "--out", str(out)])
    with pytest.raises(SystemExit):  # argparse: invalid choice for --studies
        experiments.main(SWEEP[:2] + ["nonsense"] + SWEEP[3:] + ["--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_sweep_saves_each_arms_first_seed_and_load_trained_reads_it(tmp_path):
    out, folder = tmp_path / "b.json", tmp_path / "ck"
    argv = SWEEP[:2] + ["context"] + SWEEP[3:] + ["--seeds", "0", "1", "--out", str(out),
                                                 "--checkpoint-dir", str(folder)]
    res = experiments.main(argv)
    assert list(res["arms"]) == ["se", "scale"]  # the context study brings no plain arm
    assert sorted(res["checkpoints"]) == ["scale", "se"]
    assert sorted(p.name for p in folder.iterdir()) == ["photos_resnet8_scale.pt", "photos_resnet8_se.pt"]
    entry = res["checkpoints"]["scale"]
    assert entry["seed"] == 0 and entry["final_test_acc"] == res["arms"]["scale"]["runs"][0]["final_test_acc"]
    table = report.format_sweep(res).splitlines()
    assert table[0] == "context (not in the paper)" and [r.split()[0] for r in table[1:]] == ["se", "scale"]
    # the saved model is rebuilt from the configuration it carries
    from senet_lib.block import ChannelScale
    from senet_lib.checkpoints import load_checkpoint, load_trained

    model, payload = load_checkpoint(folder / entry["file"], entry["sha256"])
    assert isinstance(model.layer1[0].se, ChannelScale)
    assert payload["config"]["attn"] == "scale" and payload["format"] == checkpoints.FORMAT
    # ... and load_trained finds a shipped sweep's checkpoints by arm name (chapter 10's file)
    from senet_lib.successors import ECABlock

    eca, meta = load_trained("eca", "beyond_photos.json")
    assert isinstance(eca.layer2[1].se, ECABlock) and meta["seed"] == 0 and meta["config"]["attn"] == "eca"
    with pytest.raises(ValueError, match="ge_learned"):
        load_trained("sknet", "beyond_photos.json")  # the error lists the arms the file records
    # a fresh sweep refuses to overwrite checkpoints that are there
    out.unlink()
    with pytest.raises(SystemExit, match="refusing to overwrite.*photos_resnet8_se.pt"):
        experiments.main(argv)


def test_sweep_arms_and_studies():
    assert ablations.sweep_arms(["reduction"]) == ["plain", "se", "r2", "r4", "r8", "r32"]
    assert ablations.sweep_arms(["context"]) == ["se", "scale"]
    assert ablations.sweep_arms(["compare"]) == ["plain", "se"]
    assert ablations.sweep_arms(["context", "beyond"])[:2] == ["plain", "se"]
    assert ablations.PAPER_STUDIES == ("reduction", "squeeze", "excitation", "stages", "integration", "no_squeeze")
    everything = ablations.sweep_arms(list(ablations.STUDIES))
    assert set(everything) == set(ablations.ARMS) and len(everything) == len(set(everything))
    with pytest.raises(ValueError, match="studies"):
        ablations.sweep_arms(["colour"])
    with pytest.raises(ValueError, match="arm must be one of"):
        ablations.arm_config(config.RunConfig(), "sknet")


def test_format_1_knobs_map_to_the_arms():
    """Every arm as the old sweep described it (its knobs) is the arm as it is now."""
    old = json.loads((__import__("pathlib").Path(__file__).parent / "data" / "old_harness" / "sweep.json").read_text())
    base = config.RunConfig()
    for arm, entry in old["arms"].items():
        assert config.arm_from_knobs(entry["knobs"], 16) == ablations.arm_config(base, arm).arm(), arm
    with pytest.raises(ValueError, match="knobs of format 1"):
        config.arm_from_knobs({"se": True, "ratio": 2})


def test_sweep_reuses_the_runs_of_a_compare_file_instead_of_training_them(tmp_path, monkeypatch):
    base = SWEEP[3:] + ["--seeds", "0", "1"]  # the settings, without "sweep --studies ..."
    cmp_out = tmp_path / "c.json"
    experiments.main(["compare", *base, "--out", str(cmp_out)])
    trained = experiments.main(SWEEP + ["--seeds", "0", "1", "--out", str(tmp_path / "t.json")])
    real = runner.run_one
    calls = []
    monkeypatch.setattr(runner, "run_one", lambda cfg, arm, **k: calls.append((arm, cfg.seed)) or real(cfg, arm, **k))
    out = tmp_path / "r.json"
    res = experiments.main(SWEEP + ["--seeds", "0", "1", "--out", str(out), "--reuse", str(cmp_out)])
    assert calls == [("no_squeeze", 0), ("no_squeeze", 1)]  # plain and SE came from the file
    assert res["reused"][0]["file"] == "c.json" and res["reused"][0]["runs"] == 4
    for arm in ("plain", "se", "no_squeeze"):  # every run is seeded: reused = trained
        assert ([r["history"]["test_acc"] for r in res["arms"][arm]["runs"]]
                == [r["history"]["test_acc"] for r in trained["arms"][arm]["runs"]])
    assert {r.get("reused_from") for r in res["arms"]["se"]["runs"]} == {"c.json"}
    assert report.paired(res, "no_squeeze", "se") == report.paired(trained, "no_squeeze", "se")
    with pytest.raises(SystemExit, match="other settings.*epochs"):
        experiments.main(SWEEP + ["--seeds", "0", "1", "--epochs", "2", "--out", str(tmp_path / "x.json"),
                                  "--reuse", str(cmp_out)])


def test_jobs_give_the_runs_one_process_gives(tmp_path):
    one = experiments.main(SWEEP + ["--seeds", "0", "1", "--out", str(tmp_path / "one.json")])
    two = experiments.main(SWEEP + ["--seeds", "0", "1", "--jobs", "2", "--out", str(tmp_path / "two.json")])
    for arm in one["arms"]:
        for a, b in zip(one["arms"][arm]["runs"], two["arms"][arm]["runs"], strict=True):
            assert {k: v for k, v in a["history"].items() if k != "seconds"} == \
                   {k: v for k, v in b["history"].items() if k != "seconds"}
    assert two["sessions"][0]["jobs"] == 2 and two["sessions"][0]["environment"]["threads_per_run"] == 1


def test_checkpoint_command_trains_a_recorded_run_again_and_gets_the_same_file(tmp_path):
    """A checkpoint that was recorded but not kept (a sweep's ``--checkpoint-dir`` outside the
    package) is made again from the results file alone: the same bytes, the same accuracy."""
    out, first, again = tmp_path / "s.json", tmp_path / "first", tmp_path / "again"
    res = experiments.main(SWEEP + ["--seeds", "0", "1", "--out", str(out), "--checkpoint-dir", str(first)])
    before = out.read_bytes()
    argv = ["checkpoint", "--results", str(out), "--arms", "no_squeeze", "plain", "--out-dir", str(again)]
    made = experiments.main(argv)
    assert out.read_bytes() == before                              # the results file is not changed
    for arm in ("no_squeeze", "plain"):
        m, rec = made[arm], res["checkpoints"][arm]
        assert m["same_file"] and m["same_accuracy"] and m["sha256"] == rec["sha256"]
        assert (again / rec["file"]).read_bytes() == (first / rec["file"]).read_bytes()
        assert m["same_history"] and not m["recorded"]
    rec_plain = res["checkpoints"]["plain"]
    with pytest.raises(SystemExit, match="refusing to overwrite .*photos_resnet8_plain.pt"):
        experiments.main(argv)                                     # the files are there now
    with pytest.raises(SystemExit, match=r"arms must be among the checkpoints .* got \['sknet'\]"):
        experiments.main(["checkpoint", "--results", str(out), "--arms", "sknet", "--out-dir", str(again)])
    # a recorded hash the new file does not match (as for a file the format-1 harness wrote):
    # exit 1, the file kept for a look, the reason said; the results file is unchanged
    doctored = json.loads(before)
    doctored["checkpoints"]["plain"]["sha256"] = "0" * 64
    (tmp_path / "d.json").write_text(json.dumps(doctored))
    remake = ["checkpoint", "--results", str(tmp_path / "d.json"), "--arms", "plain", "--out-dir"]
    with pytest.raises(SystemExit, match="differ from the recorded ones"):
        experiments.main([*remake, str(tmp_path / "d")])
    assert (tmp_path / "d" / "photos_resnet8_plain.pt").exists()
    assert json.loads((tmp_path / "d.json").read_text()) == doctored
    # --record: the training came out the same epoch by epoch, so the new file is recorded, with a note
    made = experiments.main([*remake, str(tmp_path / "e"), "--record"])
    assert made["plain"]["same_history"] and made["plain"]["recorded"] and not made["plain"]["same_file"]
    entry = json.loads((tmp_path / "d.json").read_text())["checkpoints"]["plain"]
    assert entry["sha256"] == rec_plain["sha256"] and entry["remade"]["replaces_sha256"] == "0" * 64
    assert "--record" in entry["remade"]["command"] and entry["remade"]["environment"]["cpu_capability"]
    # ... and a run whose recorded history differs is not recorded
    doctored["arms"]["plain"]["runs"][0]["history"]["test_acc"][0] += 0.001
    (tmp_path / "d.json").write_text(json.dumps(doctored))
    with pytest.raises(SystemExit, match="differ from the recorded ones"):
        experiments.main([*remake, str(tmp_path / "f"), "--record"])
    assert json.loads((tmp_path / "d.json").read_text()) == doctored


def _documented_commands():
    """Every ``python -m senet_lib.experiments`` command in README.md (its results table, commands
    abbreviated with ``...``) and in the appendix's shell blocks (continuation lines joined), as
    the argument lists after the module name."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for line in (root / "README.md").read_text(encoding="utf-8").splitlines():
        found += re.findall(r"`python -m senet_lib\.experiments ([^`]+)`", line)
    nb = json.loads((root / "book" / "appendix_scale.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for block in "".join(cell["source"]).split("```")[1::2]:
            text = block.replace("\\\n", " ")
            found += re.findall(r"-m senet_lib\.experiments\s+(.+)", text)
    return [[a for a in shlex.split(cmd) if a != "..."] for cmd in found]


def test_every_documented_command_still_parses():
    """README's and the appendix's commands keep working (here: they parse into a valid
    configuration; the full ones are run by the other tests at small settings)."""
    commands = _documented_commands()
    assert len(commands) >= 8 and {c[0] for c in commands} == {"compare", "sweep", "checkpoint"}
    for argv in commands:
        if argv[0] == "checkpoint":
            args = experiments.parser().parse_args(argv)
            assert args.results and args.arms and args.out_dir, argv
            continue
        if "--out" not in argv:
            argv = [*argv, "--out", "x.json"]
        args = experiments.parser().parse_args(argv)
        cfg = experiments._config(args)
        assert cfg.depth in (14, 20, 110) and args.seeds, argv
