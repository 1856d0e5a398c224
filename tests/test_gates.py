"""senet_lib.gates: finding SE blocks, recording gates through hooks, measures with known answers."""

from __future__ import annotations

import pytest
import torch
from gate_models import hook_count, random_images, small_se_resnet
from torch import nn

from senet_lib import gates as G
from senet_lib.block import NoSqueezeSE
from senet_lib.cifar_resnet import cifar_resnet

# ---- finding blocks -------------------------------------------------------------------------


def test_se_blocks_names_in_order(model):
    assert list(G.se_blocks(model, required=True)) == ["layer1.0.se", "layer2.0.se", "layer3.0.se"]
    assert all(G.gate_module(b) is b.gate for b in G.se_blocks(model).values())


def test_se_blocks_of_plain_models():
    plain = cifar_resnet(8, 4)
    assert G.se_blocks(plain) == {}
    with pytest.raises(ValueError, match="no SE blocks"):
        G.se_blocks(plain, required=True)
    with pytest.raises(ValueError, match="no SE blocks"):
        G.record_gates(plain, random_images(2))
    with pytest.raises(TypeError, match="nn.Module"):
        G.se_blocks("resnet", required=True)
    assert G.gate_module(nn.Conv2d(3, 3, 1)) is None


def test_se_blocks_in_timm_models():
    timm = pytest.importorskip("timm")
    m = timm.create_model("legacy_seresnet50", pretrained=False)
    blocks = G.se_blocks(m, required=True)
    assert len(blocks) == 16 and next(iter(blocks)) == "layer1.0.se_module"
    assert isinstance(G.gate_module(blocks["layer4.2.se_module"]), nn.Sigmoid)
    assert G.gate_channels(blocks["layer4.2.se_module"]) == 2048
    m2 = timm.create_model("seresnet18", pretrained=False)   # timm.layers SEModule, gate "gate"
    assert len(G.se_blocks(m2, required=True)) == 8


def test_select_se_blocks(model):
    assert list(G.select_se_blocks(model)) == list(G.se_blocks(model))
    assert list(G.select_se_blocks(model, "layer2.0.se")) == ["layer2.0.se"]
    with pytest.raises(ValueError, match=r"unknown SE block.*layer9.*the model's SE blocks are"):
        G.select_se_blocks(model, ["layer9.0.se"])
    with pytest.raises(ValueError, match="at least one"):
        G.select_se_blocks(model, [])


def test_gate_channels(model):
    assert [G.gate_channels(b) for b in G.se_blocks(model).values()] == [16, 32, 64]
    assert G.gate_channels(NoSqueezeSE(12, 4)) == 12
    assert G.gate_channels(nn.Identity()) is None


def test_group_by_stage():
    assert G.group_by_stage(["layer1.0.se", "layer1.1.se", "layer3.0.se"]) == {
        "layer1": ["layer1.0.se", "layer1.1.se"], "layer3": ["layer3.0.se"]}
    with pytest.raises(TypeError, match="one str"):
        G.group_by_stage("layer1.0.se")


# ---- recording ------------------------------------------------------------------------------


def test_record_gates_shapes_names_and_values(model, images):
    gates = G.record_gates(model, images, batch_size=5)
    assert {n: tuple(g.shape) for n, g in gates.items()} == {
        "layer1.0.se": (12, 16), "layer2.0.se": (12, 32), "layer3.0.se": (12, 64)}
    # the gates are those the block computes from its own input
    before, s, after = G.record_feature_maps(model, images, "layer2.0.se")
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
    _gates, logits = G.record_gates(model, images, return_logits=True)
    assert model.training, "the model's mode is restored"
    model.eval()
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert hook_count(model) == 0
    # and a recorder does not change what a forward pass returns
    with G.GateRecorder(model) as rec, torch.no_grad():
        out = model(images)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert rec.gates()["layer1.0.se"].shape == (12, 16)


def test_recorder_concatenates_forward_passes(model, images):
    with G.GateRecorder(model, "layer3.0.se") as rec, torch.no_grad():
        model(images[:5])
        model(images[5:])
    torch.testing.assert_close(rec.gates()["layer3.0.se"], G.record_gates(model, images)["layer3.0.se"])


def test_hooks_removed_when_forward_raises(model):
    bad = torch.randn(2, 5, 32, 32)   # wrong number of input channels: the model raises
    with pytest.raises(ValueError):
        G.record_gates(model, bad)
    assert hook_count(model) == 0

    class Boom(Exception):
        pass

    with pytest.raises(Boom), G.GateRecorder(model):
        assert hook_count(model) == 3
        raise Boom()
    assert hook_count(model) == 0
    with pytest.raises(ValueError):
        G.record_feature_maps(model, bad[:, :3, :0], "layer1.0.se")
    assert hook_count(model) == 0


def test_recording_selected_blocks_and_bad_names(model, images):
    gates = G.record_gates(model, images, names=["layer3.0.se"])
    assert list(gates) == ["layer3.0.se"]
    with pytest.raises(ValueError, match="unknown SE block.*layer9"):
        G.record_gates(model, images, names=["layer9.0.se"])
    with pytest.raises(ValueError, match="unknown SE block"):
        G.record_feature_maps(model, images, "layer1.0")
    with pytest.raises(TypeError, match="name must be the str"):
        G.record_feature_maps(model, images, ["layer1.0.se"])
    with pytest.raises(ValueError, match="4-D"):
        G.record_gates(model, images[0])
    with pytest.raises(TypeError, match="floating"):
        G.record_gates(model, images.to(torch.int64))
    with pytest.raises(ValueError, match="batch_size"):
        G.record_gates(model, images, batch_size=0)
    with pytest.raises(ValueError, match="at least one image"):
        G.record_gates(model, images[:0])
    assert hook_count(model) == 0


def test_recorder_without_forward_says_so(model):
    with G.GateRecorder(model) as rec:
        pass
    with pytest.raises(RuntimeError, match="no forward pass"):
        rec.gates()


def test_recorder_rejects_per_position_gates():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), NoSqueezeSE(8, 4)).eval()
    assert list(G.se_blocks(m)) == ["1"]
    with pytest.raises(ValueError, match=r"one gate per channel"):
        G.record_gates(m, torch.rand(2, 3, 6, 6))
    assert hook_count(m) == 0


def test_recorder_rejects_a_shared_gate():
    shared = nn.Sigmoid()   # two blocks, one gate module: their gates cannot be told apart
    a, b = small_se_resnet().layer1[0].se, small_se_resnet().layer1[0].se
    a.gate = b.gate = shared
    with pytest.raises(ValueError, match="shares its gate"), G.GateRecorder(nn.Sequential(a, b)):
        pass


# ---- measures with known answers ------------------------------------------------------------


def test_class_specificity_known_value():
    # class 0: [0,0],[0,2] (mean [0,1], rms spread 1); class 1: [4,0],[4,2] (mean [4,1], spread 1)
    g = torch.tensor([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0]])
    y = torch.tensor([0, 0, 1, 1])
    assert G.class_specificity(g, y) == pytest.approx(4.0)
    # three classes on a line at 0, 3, 6 with spread 1: pair distances 3, 6, 3 -> mean 4
    g3 = torch.cat([g[:2], g[:2] + torch.tensor([3.0, 0.0]), g[:2] + torch.tensor([6.0, 0.0])])
    assert G.class_specificity(g3, torch.tensor([0, 0, 1, 1, 2, 2])) == pytest.approx(4.0)
    sep = G.class_separation(g, y)            # distances per sqrt(C) = sqrt(2)
    assert sep.between == pytest.approx(4 / 2 ** 0.5) and sep.within == pytest.approx(1 / 2 ** 0.5)
    assert sep.specificity == pytest.approx(4.0)
    assert G.specificity_by_block({"a": g, "b": g3[:4]}, y) == {
        "a": pytest.approx(4.0), "b": pytest.approx(G.class_specificity(g3[:4], y))}


def test_class_specificity_agnostic_and_separable():
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(400, 32, generator=gen)
    y = torch.arange(4).repeat_interleave(100)
    agnostic = G.class_specificity(noise, y)
    assert agnostic < 0.3                                    # chance level ~ sqrt(2 / 100)
    shift = torch.zeros(400, 32)
    shift[torch.arange(400), y * 8] = 3.0                    # each class lights up its own channel
    assert G.class_specificity(noise + shift, y) > 5 * agnostic
    # identical gates for every image: no spread, no distance -> 0
    assert G.class_specificity(torch.full((6, 4), 0.5), torch.tensor([0, 0, 1, 1, 2, 2])) == 0.0
    # class means apart but no spread within a class: infinitely specific
    assert G.Separation(between=0.5, within=0.0).specificity == float("inf")


def test_class_specificity_bad_input():
    g = torch.rand(6, 4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        G.class_specificity(g, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2 classes"):
        G.class_separation(g, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2"):
        G.class_specificity(g, torch.tensor([0, 0, 0, 0, 0, 1]))
    with pytest.raises(ValueError, match="one label per row"):
        G.class_specificity(g, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="integer"):
        G.class_specificity(g, torch.tensor([0.0, 0, 0, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        G.class_specificity(torch.rand(6, 4, 1), torch.tensor([0, 0, 0, 1, 1, 1]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        G.class_specificity([[0.5]], torch.tensor([0]))
    with pytest.raises(TypeError, match="block name"):
        G.specificity_by_block(g, torch.tensor([0, 0, 0, 1, 1, 1]))


def test_saturation_known_fractions():
    g = torch.tensor([[0.99, 0.96, 0.5, 0.01], [0.5, 0.5, 0.04, 0.95]])
    high, low = G.saturation(g)
    assert high == pytest.approx(2 / 8) and low == pytest.approx(2 / 8)   # 0.95 itself is not above
    assert G.saturation_by_block({"a": g})["a"] == (high, low)
    assert G.saturation(g, high=0.9, low=0.1) == (pytest.approx(2 / 8 + 1 / 8), pytest.approx(2 / 8))
    with pytest.raises(ValueError, match="low < high"):
        G.saturation(g, high=0.1, low=0.2)
    with pytest.raises(ValueError, match="non-empty"):
        G.saturation(torch.empty(0, 4))
    with pytest.raises(TypeError, match="block name"):
        G.saturation_by_block({})


def test_extreme_channels():
    g = torch.tensor([0.2, 0.9, 0.1, 0.5])
    assert G.extreme_channels(g, 2) == ([1, 3], [2, 0])
    assert G.extreme_channels(torch.stack([g, g]), 1) == ([1], [2])
    with pytest.raises(ValueError, match="more than"):
        G.extreme_channels(g, 5)
    with pytest.raises(ValueError, match=r"\(C,\) or \(N, C\)"):
        G.extreme_channels(g[None, None], 1)
    with pytest.raises(ValueError, match="k must be a positive int"):
        G.extreme_channels(g, 0)
