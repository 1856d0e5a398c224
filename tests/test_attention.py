"""senet_lib.attention: recording through hooks, measures with known answers, removal, plots."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from torch import nn

from senet_lib import SEBlock
from senet_lib import attention as A
from senet_lib.cifar_resnet import cifar_resnet

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = cifar_resnet(8, 4, se=True, width=16, reduction=4)
    # make the batch norms do something, so gates differ between images
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


# ---- finding blocks -------------------------------------------------------------------------


def test_find_se_blocks_names_in_order(model):
    assert list(A.find_se_blocks(model)) == ["layer1.0.se", "layer2.0.se", "layer3.0.se"]


def test_find_se_blocks_rejects_plain_models():
    with pytest.raises(ValueError, match="no SE blocks"):
        A.find_se_blocks(cifar_resnet(8, 4, se=False))
    with pytest.raises(TypeError, match="nn.Module"):
        A.find_se_blocks("resnet")


def test_find_se_blocks_in_timm_models():
    timm = pytest.importorskip("timm")
    m = timm.create_model("legacy_seresnet50", pretrained=False)
    blocks = A.find_se_blocks(m)
    assert len(blocks) == 16 and list(blocks)[0] == "layer1.0.se_module"
    assert isinstance(A.gate_module(blocks["layer4.2.se_module"]), nn.Sigmoid)
    m2 = timm.create_model("seresnet18", pretrained=False)   # timm.layers SEModule, gate "gate"
    assert len(A.find_se_blocks(m2)) == 8


# ---- recording ------------------------------------------------------------------------------


def test_record_gates_shapes_names_and_values(model, images):
    gates = A.record_gates(model, images, batch_size=5)
    assert {n: tuple(g.shape) for n, g in gates.items()} == {
        "layer1.0.se": (12, 16), "layer2.0.se": (12, 32), "layer3.0.se": (12, 64)}
    # the gates are those the block computes from its own input
    before, s, after = A.record_feature_maps(model, images, "layer2.0.se")
    torch.testing.assert_close(s, gates["layer2.0.se"])
    torch.testing.assert_close(s, model.layer2[0].se.gates(before))
    torch.testing.assert_close(after, before * s[:, :, None, None])
    assert before.shape == (12, 32, 16, 16)


def test_recording_leaves_outputs_and_model_unchanged(model, images):
    model.train()
    with torch.no_grad():
        model.eval()
        expected = model(images)
        model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    gates, logits = A.record_gates(model, images, return_logits=True)
    assert model.training, "the model's mode is restored"
    model.eval()
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert _hook_count(model) == 0
    # and a recorder does not change what a forward pass returns
    with A.GateRecorder(model) as rec, torch.no_grad():
        out = model(images)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert rec.gates()["layer1.0.se"].shape == (12, 16)


def test_hooks_removed_when_forward_raises(model):
    bad = torch.randn(2, 5, 32, 32)   # wrong number of input channels: the model raises
    with pytest.raises(ValueError):
        A.record_gates(model, bad)
    assert _hook_count(model) == 0

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with A.GateRecorder(model):
            assert _hook_count(model) == 3
            raise Boom()
    assert _hook_count(model) == 0
    with pytest.raises(ValueError):
        A.record_feature_maps(model, bad[:, :3, :0], "layer1.0.se")
    assert _hook_count(model) == 0


def test_recording_selected_blocks_and_bad_names(model, images):
    gates = A.record_gates(model, images, names=["layer3.0.se"])
    assert list(gates) == ["layer3.0.se"]
    with pytest.raises(ValueError, match="unknown SE block.*layer9"):
        A.record_gates(model, images, names=["layer9.0.se"])
    with pytest.raises(ValueError, match="unknown SE block"):
        A.record_feature_maps(model, images, "layer1.0")
    with pytest.raises(ValueError, match="4-D"):
        A.record_gates(model, images[0])
    with pytest.raises(TypeError, match="floating"):
        A.record_gates(model, images.to(torch.int64))
    assert _hook_count(model) == 0


def test_recorder_without_forward_says_so(model):
    with A.GateRecorder(model) as rec:
        pass
    with pytest.raises(RuntimeError, match="no forward pass"):
        rec.gates()


# ---- measures with known answers ------------------------------------------------------------


def test_class_specificity_known_value():
    # class 0: [0,0],[0,2] (mean [0,1], rms spread 1); class 1: [4,0],[4,2] (mean [4,1], spread 1)
    g = torch.tensor([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0]])
    y = torch.tensor([0, 0, 1, 1])
    assert A.class_specificity(g, y) == pytest.approx(4.0)
    # three classes on a line at 0, 3, 6 with spread 1: pair distances 3, 6, 3 -> mean 4
    g3 = torch.cat([g[:2], g[:2] + torch.tensor([3.0, 0.0]), g[:2] + torch.tensor([6.0, 0.0])])
    assert A.class_specificity(g3, torch.tensor([0, 0, 1, 1, 2, 2])) == pytest.approx(4.0)
    sep = A.class_separation(g, y)            # distances per sqrt(C) = sqrt(2)
    assert sep.between == pytest.approx(4 / 2 ** 0.5) and sep.within == pytest.approx(1 / 2 ** 0.5)
    assert sep.specificity == pytest.approx(4.0)


def test_class_specificity_agnostic_and_separable():
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(400, 32, generator=gen)
    y = torch.arange(4).repeat_interleave(100)
    agnostic = A.class_specificity(noise, y)
    assert agnostic < 0.3                                    # chance level ~ sqrt(2 / 100)
    shift = torch.zeros(400, 32)
    shift[torch.arange(400), y * 8] = 3.0                    # each class lights up its own channel
    assert A.class_specificity(noise + shift, y) > 5 * agnostic
    # identical gates for every image: no spread, no distance -> 0
    assert A.class_specificity(torch.full((6, 4), 0.5), torch.tensor([0, 0, 1, 1, 2, 2])) == 0.0


def test_class_specificity_bad_input():
    g = torch.rand(6, 4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        A.class_specificity(g, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2 classes"):
        A.class_separation(g, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2"):
        A.class_specificity(g, torch.tensor([0, 0, 0, 0, 0, 1]))
    with pytest.raises(ValueError, match="one label per row"):
        A.class_specificity(g, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        A.class_specificity(torch.rand(6, 4, 1), torch.tensor([0, 0, 0, 1, 1, 1]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        A.class_specificity([[0.5]], torch.tensor([0]))


def test_saturation_known_fractions():
    g = torch.tensor([[0.99, 0.96, 0.5, 0.01], [0.5, 0.5, 0.04, 0.95]])
    high, low = A.saturation(g)
    assert high == pytest.approx(2 / 8) and low == pytest.approx(2 / 8)   # 0.95 itself is not above
    assert A.saturation_by_block({"a": g})["a"] == (high, low)
    with pytest.raises(ValueError, match="low < high"):
        A.saturation(g, high=0.1, low=0.2)


def test_extreme_channels():
    g = torch.tensor([0.2, 0.9, 0.1, 0.5])
    assert A.extreme_channels(g, 2) == ([1, 3], [2, 0])
    assert A.extreme_channels(torch.stack([g, g]), 1) == ([1], [2])
    with pytest.raises(ValueError, match="more than"):
        A.extreme_channels(g, 5)


def test_group_by_stage():
    assert A.group_by_stage(["layer1.0.se", "layer1.1.se", "layer3.0.se"]) == {
        "layer1": ["layer1.0.se", "layer1.1.se"], "layer3": ["layer3.0.se"]}


# ---- removal --------------------------------------------------------------------------------


def test_replace_se_returns_a_copy(model, images):
    with torch.no_grad():
        expected = model(images)
    new = A.replace_se(model, ["layer3.0.se"])
    assert isinstance(model.layer3[0].se, SEBlock), "the input model is not modified"
    assert isinstance(new.layer3[0].se, nn.Identity)
    assert list(A.find_se_blocks(new)) == ["layer1.0.se", "layer2.0.se"]
    with torch.no_grad():
        torch.testing.assert_close(model(images), expected, rtol=0, atol=0)
    saved = A.count_parameters(model) - A.count_parameters(new)
    assert saved == sum(p.numel() for p in model.layer3[0].se.parameters())


def test_replace_se_by_mean_gate_is_exact_for_constant_gates(model, images):
    gates = A.record_gates(model, images)
    frozen = A.replace_se(model, "layer2.0.se", "mean", {"layer2.0.se": gates["layer2.0.se"].mean(0)})
    assert isinstance(frozen.layer2[0].se, A.ConstantGate)
    # freezing at a gate vector equal to an image's own gates reproduces that image's output
    one = images[:1]
    g1 = A.record_gates(model, one)["layer2.0.se"][0]
    same = A.replace_se(model, ["layer2.0.se"], "mean", {"layer2.0.se": g1})
    with torch.no_grad():
        torch.testing.assert_close(same(one), model(one), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="mean_gates"):
        A.replace_se(model, ["layer2.0.se"], "mean")
    with pytest.raises(ValueError, match=r"\(32,\)"):
        A.replace_se(model, ["layer2.0.se"], "mean", {"layer2.0.se": torch.ones(5)})
    with pytest.raises(ValueError, match="how"):
        A.replace_se(model, ["layer2.0.se"], "zero")
    with pytest.raises(ValueError, match="unknown SE block"):
        A.replace_se(model, ["layer4.0.se"])


def test_removal_study(model, images):
    y = torch.arange(4).repeat_interleave(3)
    r = A.removal_study(model, images, y, ["layer3.0.se"])
    assert r.accuracy_full == pytest.approx(A.accuracy(model, images, y))
    assert r.params_saved == sum(p.numel() for p in model.layer3[0].se.parameters())
    assert r.se_params_full == sum(p.numel() for b in A.find_se_blocks(model).values() for p in b.parameters())
    assert 0 < r.se_overhead_after < r.se_overhead_before
    assert r.change_identity == pytest.approx(r.accuracy_identity - r.accuracy_full)
    full = A.predict(model, images)
    assert r.flipped_identity == pytest.approx(
        float((A.predict(A.replace_se(model, ["layer3.0.se"]), images) != full).double().mean()))
    assert 0 <= r.flipped_mean <= 1
    agree = A.removal_study(model, images, y, ["layer3.0.se"], predicted=True)
    assert agree.accuracy_full == 1.0
    ref = A.record_gates(model, images, return_logits=True)
    assert A.removal_study(model, images, y, ["layer3.0.se"], reference=ref) == r
    with pytest.raises(ValueError, match="reference"):
        A.removal_study(model, images, y, ["layer3.0.se"], reference=({}, ref[1]))
    with pytest.raises(ValueError, match="reference"):
        A.removal_study(model, images[:3], y[:3], ["layer3.0.se"], reference=ref)


def test_constant_gate_checks_input():
    cg = A.ConstantGate(torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(cg(torch.ones(1, 2, 3, 3))[0, :, 0, 0], torch.tensor([0.5, 2.0]))
    with pytest.raises(ValueError, match="channels"):
        cg(torch.ones(1, 3, 2, 2))
    assert sum(p.numel() for p in cg.parameters()) == 0


# ---- the timm path, offline -----------------------------------------------------------------


def test_timm_path_offline_with_pretrained_false():
    pytest.importorskip("timm")
    torch.manual_seed(0)
    model, info = A.timm_legacy_seresnet50(pretrained=False)
    assert len(info["class_names"]) == 1000 and len(info["mean"]) == 3
    imgs, labels = A.photo_views(["chelsea", "coffee"], per_photo=2, size=64, seed=0)
    assert imgs.shape == (4, 3, 64, 64) and labels.tolist() == [0, 0, 1, 1]
    assert 0.0 <= imgs.min() and imgs.max() <= 1.0
    from senet_lib.data import normalize

    report = A.attention_report(model, normalize(imgs, info["mean"], info["std"]), labels)
    assert len(report.gates) == 16 and report.last_stage == "layer4"
    assert report.gates["layer4.2.se_module"].shape == (4, 2048)
    assert set(report.specificity) == set(report.saturation) == set(report.gates)
    assert all(math.isfinite(v) for v in report.specificity.values())
    assert report.removal.names == ["layer4.0.se_module", "layer4.1.se_module", "layer4.2.se_module"]
    expected = sum(p.numel() for n in report.removal.names for p in model.get_submodule(n).parameters())
    assert report.removal.params_saved == expected
    assert report.removal.accuracy_full == 1.0        # agreement with itself
    assert _hook_count(model) == 0


def test_timm_legacy_rejects_non_bool():
    with pytest.raises(TypeError, match="pretrained"):
        A.timm_legacy_seresnet50("yes")


# ---- plots ----------------------------------------------------------------------------------


def test_plots_draw_and_check_input(model, images):
    import matplotlib.pyplot as plt

    gates = A.record_gates(model, images)
    y = torch.arange(4).repeat_interleave(3)
    g = gates["layer2.0.se"]
    ax = A.plot_gate_heatmap(g, row_labels=[str(i) for i in range(12)], title="t")
    assert ax.get_xlabel() == "channel" and ax.get_ylabel() == "image"
    ax = A.plot_class_excitations(g, y, ["a", "b", "c", "d"], classes=[0, 2])
    assert len(ax.lines) == 3 and ax.get_ylabel() == "mean excitation"
    ax = A.plot_within_class(g, y, ["a", "b", "c", "d"], [1, 3])
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    before, s, after = A.record_feature_maps(model, images[:1], "layer2.0.se")
    fig = A.plot_channel_maps(images[0].sigmoid(), before[0], after[0], s[0], [0, 5],
                              labels=["most", "least"])
    assert len(fig.axes) == 4 + 2           # 2 rows x 2 panels + a colour bar per row
    spec = A.specificity_by_block(gates, y)
    ax = A.plot_specificity(spec, spec)
    assert len(ax.lines) == 2 and ax.get_ylabel() == "class-specificity"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(gates)
    ax = A.plot_saturation(A.saturation_by_block(gates))
    assert len(ax.patches) == 2 * len(gates) and ax.get_ylabel() == "fraction of gates"
    with pytest.raises(ValueError, match="same blocks"):
        A.plot_specificity(spec, {"x": 1.0})
    with pytest.raises(ValueError, match="channels"):
        A.plot_channel_maps(images[0].sigmoid(), before[0], after[0], s[0], [99])
    with pytest.raises(ValueError, match="row_labels"):
        A.plot_gate_heatmap(g, row_labels=["x"])
    with pytest.raises(ValueError, match="no images"):
        A.plot_class_excitations(g, y, ["a", "b", "c", "d"], classes=[7])
    plt.close("all")


# ---- the claims chapter 7 makes about the shipped checkpoint --------------------------------


def test_chapter7_claims_hold_for_the_shipped_checkpoint():
    """Chapter 7's prose describes the shipped SE-ResNet; if the checkpoint is retrained, this
    test says which sentence to re-read."""
    from senet_lib.data import normalize, photo_patches

    try:
        from senet_lib.checkpoints import load_trained

        model, meta = load_trained("se")
    except (ImportError, FileNotFoundError, RuntimeError) as e:
        pytest.skip(f"no shipped checkpoint: {e}")
    gen = meta["dataset"]["generator"]
    test = photo_patches("test", gen["per_class_test"], seed=gen["seed"])
    x, y = normalize(test.images, meta["mean"], meta["std"]), test.labels
    gates, logits = A.record_gates(model, x, return_logits=True)
    names = list(gates)
    spec = A.specificity_by_block(gates, y)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    chance = A.specificity_by_block(gates, shuffled)
    # "in every block the gates separate the photographs far better than shuffled labels"
    assert all(spec[n] > 3 * chance[n] for n in names), (spec, chance)
    # "averaged over each stage, the specificity rises a little with depth, but from block to
    # block it goes up and down, and the first block is already far above chance"
    stages = A.group_by_stage(names)
    by_stage = [sum(spec[n] for n in stages[s]) / len(stages[s]) for s in stages]
    assert by_stage == sorted(by_stage) and by_stage[-1] < 1.5 * by_stage[0], by_stage
    assert any(spec[b] < spec[a] for a, b in zip(names, names[1:])), spec
    # "none of our blocks saturates"
    assert all(h < 0.01 and lo < 0.01 for h, lo in A.saturation_by_block(gates).values())
    removal = {s: A.removal_study(model, x, y, stages[s], reference=(gates, logits)) for s in stages}
    *earlier, last = removal.values()
    # "replacing the last stage's SE by the identity costs far less than replacing an earlier
    # stage's, ... a loss of a few points and many flipped predictions"
    assert -0.10 < last.change_identity < 0 and last.flipped_identity > 0.05, last
    assert all(r.change_identity < 5 * last.change_identity for r in earlier), removal
    # "our last-stage gates are far from 1" (the identity roughly doubles the branches)
    assert float(gates[stages[list(stages)[-1]][-1]].mean()) < 0.7
    # "earlier stages: the identity wrecks the accuracy; freezing any stage at its mean gate
    # costs little or nothing"
    assert all(r.change_identity < -0.2 for r in earlier)
    assert all(abs(r.change_mean) < 0.03 for r in removal.values())
    # "SE adds less than one percent ... the last stage holds most of SE's parameters"
    assert last.se_overhead_before < 0.01 and last.params_saved > 0.5 * last.se_params_full
