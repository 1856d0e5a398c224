"""senet_lib.removal: replacing SE blocks on a copy, and what it costs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from senet_lib import SEBlock
from senet_lib.cost import count_parameters
from senet_lib.gates import record_gates, se_blocks
from senet_lib.removal import ConstantGate, RemovalResult, removal_study, replace_se
from senet_lib.train import accuracy, predict


def test_replace_se_returns_a_copy(model, images):
    with torch.no_grad():
        expected = model(images)
    new = replace_se(model, ["layer3.0.se"])
    assert isinstance(model.layer3[0].se, SEBlock), "the input model is not modified"
    assert isinstance(new.layer3[0].se, nn.Identity)
    assert list(se_blocks(new, required=True)) == ["layer1.0.se", "layer2.0.se"]
    with torch.no_grad():
        torch.testing.assert_close(model(images), expected, rtol=0, atol=0)
    saved = count_parameters(model) - count_parameters(new)
    assert saved == sum(p.numel() for p in model.layer3[0].se.parameters())


def test_replace_se_by_mean_gate_is_exact_for_constant_gates(model, images):
    gates = record_gates(model, images)
    frozen = replace_se(model, "layer2.0.se", "mean", {"layer2.0.se": gates["layer2.0.se"].mean(0)})
    assert isinstance(frozen.layer2[0].se, ConstantGate)
    torch.testing.assert_close(frozen.layer2[0].se.gates, gates["layer2.0.se"].mean(0))
    # freezing at a gate vector equal to an image's own gates reproduces that image's output
    one = images[:1]
    g1 = record_gates(model, one)["layer2.0.se"][0]
    same = replace_se(model, ["layer2.0.se"], "mean", {"layer2.0.se": g1})
    with torch.no_grad():
        torch.testing.assert_close(same(one), model(one), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="mean_gates"):
        replace_se(model, ["layer2.0.se"], "mean")
    with pytest.raises(ValueError, match="no entry for SE block"):
        replace_se(model, ["layer2.0.se"], "mean", {"layer3.0.se": torch.ones(64)})
    with pytest.raises(ValueError, match=r"\(32,\)"):
        replace_se(model, ["layer2.0.se"], "mean", {"layer2.0.se": torch.ones(5)})
    with pytest.raises(ValueError, match="how"):
        replace_se(model, ["layer2.0.se"], "zero")
    with pytest.raises(ValueError, match="unknown SE block"):
        replace_se(model, ["layer4.0.se"])


def test_removal_study(model, images):
    y = torch.arange(4).repeat_interleave(3)
    r = removal_study(model, images, y, ["layer3.0.se"])
    assert isinstance(r, RemovalResult) and r.names == ["layer3.0.se"]
    assert r.accuracy_full == pytest.approx(accuracy(model, images, y))
    assert r.params_full == count_parameters(model)
    assert r.params_saved == sum(p.numel() for p in model.layer3[0].se.parameters())
    assert r.se_params_full == sum(p.numel() for b in se_blocks(model).values() for p in b.parameters())
    assert 0 < r.se_overhead_after < r.se_overhead_before
    assert r.change_identity == pytest.approx(r.accuracy_identity - r.accuracy_full)
    assert r.change_mean == pytest.approx(r.accuracy_mean - r.accuracy_full)
    full = predict(model, images)
    no_se = replace_se(model, ["layer3.0.se"])
    assert r.accuracy_identity == pytest.approx(accuracy(no_se, images, y))
    assert r.flipped_identity == pytest.approx(float((predict(no_se, images) != full).double().mean()))
    assert 0 <= r.flipped_mean <= 1
    agree = removal_study(model, images, y, ["layer3.0.se"], predicted=True)
    assert agree.accuracy_full == 1.0
    assert agree.accuracy_identity == pytest.approx(1 - r.flipped_identity)
    ref = record_gates(model, images, return_logits=True)
    assert removal_study(model, images, y, ["layer3.0.se"], reference=ref) == r
    with pytest.raises(ValueError, match="reference"):
        removal_study(model, images, y, ["layer3.0.se"], reference=({}, ref[1]))
    with pytest.raises(ValueError, match="reference"):
        removal_study(model, images[:3], y[:3], ["layer3.0.se"], reference=ref)
    with pytest.raises(ValueError, match="reference"):
        removal_study(model, images, y, ["layer3.0.se"], reference=ref[0])
    with pytest.raises(ValueError, match="one label per row"):
        removal_study(model, images, y[:5], ["layer3.0.se"])
    with pytest.raises(TypeError, match="predicted"):
        removal_study(model, images, y, ["layer3.0.se"], predicted="yes")


def test_constant_gate_checks_input():
    cg = ConstantGate(torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(cg(torch.ones(1, 2, 3, 3))[0, :, 0, 0], torch.tensor([0.5, 2.0]))
    with pytest.raises(ValueError, match="channels"):
        cg(torch.ones(1, 3, 2, 2))
    assert sum(p.numel() for p in cg.parameters()) == 0
    assert [n for n, _ in cg.named_buffers()] == ["gates"]
    with pytest.raises(ValueError, match=r"1-D tensor \(C,\)"):
        ConstantGate(torch.ones(2, 2))
