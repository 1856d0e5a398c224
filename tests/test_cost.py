"""senet_lib.cost: the stage table, the parameter formula against counted parameters, FLOPs
(counted and analytic) and the memory-traffic model, with numbers worked out by hand."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from senet_lib import SEBlock, add_se, cost, se_resnet50

RESNET50_PARAMS = 25_557_032
# (2 / 16) * N_s * C_s**2 for N = (3, 4, 6, 3), C = (256, 512, 1024, 2048)
SE50_WEIGHTS_PER_STAGE = [24_576, 131_072, 786_432, 1_572_864]
SE50_FC2_BIASES_PER_STAGE = [768, 2_048, 6_144, 6_144]  # N_s * C_s
SE50_FC1_BIASES_PER_STAGE = [48, 128, 384, 384]  # N_s * C_s / 16


# ---------------------------------------------------------------- the stage table


def test_resnet50_stages_are_torchvision_resnet50():
    assert cost.RESNET50_STAGES == ((3, 256, 56), (4, 512, 28), (6, 1024, 14), (3, 2048, 7))
    assert cost.RESNET50_STAGES[3].channels == 2048 and cost.RESNET50_STAGES[0].size == 56
    model = torchvision.models.resnet50()
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        for stage, layer in zip(cost.RESNET50_STAGES, [model.layer1, model.layer2, model.layer3, model.layer4],
                                strict=True):
            x = layer(x)
            assert len(layer) == stage.blocks and tuple(x.shape[1:]) == (stage.channels, stage.size, stage.size)


@pytest.mark.parametrize("arch", sorted(cost.RESNET_LAYOUTS))
def test_layouts_match_torchvision(arch):
    with torch.device("meta"):
        model = getattr(torchvision.models, arch)()
    layers = [model.layer1, model.layer2, model.layer3, model.layer4]
    last_bn = "bn3" if arch in ("resnet50", "resnet101", "resnet152") else "bn2"
    assert [(len(layer), getattr(layer[-1], last_bn).num_features) for layer in layers] == [
        (s.blocks, s.channels) for s in cost.RESNET_LAYOUTS[arch]]


# ---------------------------------------------------------------- parameters: formula and count


def test_count_parameters():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))  # BN statistics are buffers
    assert cost.count_parameters(model) == 4 * 3 + 3 + 3 + 3
    model[1].requires_grad_(False)
    assert cost.count_parameters(model, trainable_only=True) == 15
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got list"):
        cost.count_parameters([1, 2])


def test_paper_formula_for_resnet50():
    weights = cost.analytic_se_params(cost.RESNET50_STAGES, 16, bias1=False, bias2=False)
    assert [s.weights for s in weights] == SE50_WEIGHTS_PER_STAGE
    # the paper's (2 / r) * sum N_s C_s^2, exactly, for every r that divides the widths
    for r in (2, 4, 8, 16, 32):
        expected = sum(2 * s.blocks * s.channels**2 for s in cost.RESNET50_STAGES) // r
        assert cost.analytic_se_params(cost.RESNET50_STAGES, r, bias1=False, bias2=False).total == expected
    assert weights.total == weights.weights == 2_514_944 and weights.biases == 0
    assert [s.hidden for s in weights] == [16, 32, 64, 128] and [s.stage for s in weights] == [1, 2, 3, 4]


@pytest.mark.parametrize("bias1,fc1_biases", [(False, [0] * 4), (True, SE50_FC1_BIASES_PER_STAGE)])
def test_formula_equals_counted_parameters_of_se_resnet50(bias1, fc1_biases):
    """SEBlock's defaults (bias2 only) give 28,087,080 parameters; timm's (both biases) 28,088,024."""
    model = se_resnet50(bias1=bias1)
    stages = cost.analytic_se_params(cost.RESNET50_STAGES, 16, bias1=bias1, bias2=True)
    assert [s.biases for s in stages] == [a + b for a, b in zip(fc1_biases, SE50_FC2_BIASES_PER_STAGE, strict=True)]
    assert cost.count_se_params(model) == {s.stage: s.total for s in stages}
    assert cost.count_parameters(torchvision.models.resnet50()) == RESNET50_PARAMS
    assert cost.count_parameters(model) == RESNET50_PARAMS + stages.total
    assert stages.total == (2_530_048 if not bias1 else 2_530_992)


def test_formula_matches_timm_seresnet50():
    timm = pytest.importorskip("timm")
    plain = cost.count_parameters(timm.create_model("resnet50", pretrained=False))
    se = timm.create_model("seresnet50", pretrained=False)
    both = cost.analytic_se_params(cost.RESNET50_STAGES, 16, bias1=True, bias2=True)
    assert cost.count_parameters(se) - plain == both.total
    assert cost.count_se_params(se) == {s.stage: s.total for s in both}  # timm's SE modules too


@pytest.mark.parametrize("arch", sorted(cost.RESNET_LAYOUTS))
@pytest.mark.parametrize("reduction", [4, 16, 32])
def test_formula_equals_counted_for_every_resnet(arch, reduction):
    with torch.device("meta"):  # structure only: no memory, no initialisation
        model = add_se(getattr(torchvision.models, arch)(), reduction)
    analytic = cost.analytic_se_params(cost.RESNET_LAYOUTS[arch], reduction, bias1=False, bias2=True)
    assert cost.count_se_params(model) == {s.stage: s.total for s in analytic}


def test_formula_floors_the_hidden_width_like_seblock():
    stages = [(2, 24), (1, 100), (3, 8)]  # (blocks, channels); 8 < r = 16: one hidden unit
    for r in (4, 16):
        blocks = [SEBlock(c, r, bias1=True) for n, c in stages for _ in range(n)]
        assert cost.analytic_se_params(stages, r, bias1=True, bias2=True).total == sum(
            cost.count_parameters(b) for b in blocks)
    assert cost.analytic_se_params([(3, 8)], 16, bias1=False, bias2=False)[0].hidden == 1


def test_stage4_holds_most_of_the_overhead():
    stages = cost.analytic_se_params(cost.RESNET50_STAGES, 16, bias1=False, bias2=True)
    assert stages[3].total / stages.total > 0.6
    no4 = add_se(torchvision.models.resnet50(), stages=(1, 2, 3))
    assert cost.count_parameters(no4) - RESNET50_PARAMS == stages.total - stages[3].total
    assert sorted(cost.count_se_params(no4)) == [1, 2, 3]


def test_count_se_params_in_a_vgg_and_a_plain_model():
    with torch.device("meta"):
        vgg = add_se(torchvision.models.vgg16_bn(), stages=(2, 5))
    assert cost.count_se_params(vgg) == {2: 2 * 128 * 8 + 128, 5: 2 * 512 * 32 + 512}
    assert cost.stage_of("features.43.se.fc1", vgg) == 5 and cost.stage_of("classifier.0", vgg) == 0
    assert cost.count_se_params(torchvision.models.resnet18()) == {}


@pytest.mark.parametrize("call,err,text", [
    (lambda: cost.analytic_se_params(cost.RESNET50_STAGES, 16), TypeError, "bias1"),
    (lambda: cost.analytic_se_params(cost.RESNET50_STAGES, 16, bias1=False, bias2=1), TypeError, "bias2 must be a bool"),
    (lambda: cost.analytic_se_params(cost.RESNET50_STAGES, 0, bias1=False, bias2=False), ValueError, "reduction"),
    (lambda: cost.analytic_se_params([(3, 0)], 16, bias1=False, bias2=False), ValueError, r"stages\[0\] channels"),
    (lambda: cost.analytic_se_params([(8,)], 4, bias1=False, bias2=False), ValueError, r"stages\[0\] must be"),
    (lambda: cost.analytic_se_params("resnet50", 16, bias1=False, bias2=False), TypeError, "stages must be"),
    (lambda: cost.analytic_se_params([], 16, bias1=False, bias2=False), TypeError, "non-empty"),
])
def test_parameter_formula_rejects_bad_input(call, err, text):
    with pytest.raises(err, match=text):
        call()


# ---------------------------------------------------------------- FLOPs


def test_count_flops_counts_matrix_products_on_meta():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    conv, fc = 2 * 8 * 3 * 9 * 4 * 4, 2 * 8 * 4 * 4 * 10
    assert cost.count_flops(model, (2, 3, 4, 4)) == 2 * (conv + fc)
    by_op = cost.count_flops(model, (2, 3, 4, 4), by_op=True)
    assert by_op == {"aten.convolution": 2 * conv, "aten.addmm": 2 * fc}
    assert model[0].weight.device.type == "cpu"  # the model itself is not moved
    with pytest.raises(ValueError, match="input_size"):
        cost.count_flops(model, (2, 3, 0, 4))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        cost.count_flops("resnet50")


def test_counted_flops_see_only_the_fc_layers_of_se():
    with torch.device("meta"):
        plain, se = torchvision.models.resnet50(), se_resnet50()
    extra = cost.count_flops(se) - cost.count_flops(plain)
    assert extra == 2 * 2_514_944  # 2 FLOPs per FC weight, one image; no pooling, no scaling


def test_se_block_flops_by_hand():
    assert cost.se_block_flops(32, 8, 8) == {"pool": 2048, "excite": 4 * 32 * 2, "scale": 2048, "total": 4352}
    assert cost.se_block_flops(3, 2, 2, batch=2)["excite"] == 4 * 2 * 3 * 1  # C < r: one hidden unit
    assert cost.se_block_flops(64, 2, 2, hidden=8)["excite"] == 4 * 64 * 8


def test_analytic_se_flops_se_resnet50():
    with torch.device("meta"):
        model = se_resnet50()
    flops = cost.analytic_se_flops(model, (2, 3, 224, 224))
    for k, s in enumerate(cost.RESNET50_STAGES, start=1):
        assert flops[k]["pool"] == flops[k]["scale"] == 2 * s.blocks * s.channels * s.size**2
        assert flops[k]["fc"] == 2 * SE50_WEIGHTS_PER_STAGE[k - 1]  # multiply-adds, 2 images
    assert model.training  # the pass ran in eval mode and the mode came back
    with pytest.raises(ValueError, match="no SEBlock"):
        cost.analytic_se_flops(torchvision.models.resnet18(), (1, 3, 32, 32))
    with pytest.raises(ValueError, match="input_size"):
        cost.analytic_se_flops(model, (3, 224, 224))


# ---------------------------------------------------------------- bytes


def test_se_block_bytes_by_hand():
    # SEBlock(32, r=16) on one 32 x 8 x 8 map: M = 2048, G = 32, h = 2, fp32.
    b = cost.se_block_bytes(32, 8, 8)
    assert b["pool"] == 4 * (2048 + 32) == 8320
    assert b["excite"] == 4 * (32 + 2 * 32 * 2 + 32 + 32) == 896
    assert b["scale"] == 4 * (2 * 2048 + 32) == 16512
    assert b["total"] == 8320 + 896 + 16512 == 25728
    f = cost.se_block_bytes(32, 8, 8, fused=True)
    assert f["scale"] == 4 * 32 and f["total"] == 8320 + 896 + 128 == 9344


def test_se_block_bytes_batch_dtype_and_hidden():
    # batch 2, fp16, C = 3 < r: one hidden unit. M = 2*3*4*5 = 120, G = 6.
    b = cost.se_block_bytes(3, 4, 5, batch=2, dtype_bytes=2)
    assert b["pool"] == 2 * 126 and b["excite"] == 2 * (12 + 6 + 3) and b["scale"] == 2 * 246
    assert cost.se_block_bytes(64, 2, 2, hidden=8)["excite"] == 4 * (128 + 2 * 64 * 8 + 64)


def test_se_resnet50_bytes_per_image_by_hand():
    # Feature-map elements over the 16 SE blocks at 224 x 224:
    # 3*256*56^2 + 4*512*28^2 + 6*1024*14^2 + 3*2048*7^2 = 5,519,360.
    maps = 3 * 256 * 56**2 + 4 * 512 * 28**2 + 6 * 1024 * 14**2 + 3 * 2048 * 7**2
    assert maps == 5_519_360
    channels = 3 * 256 + 4 * 512 + 6 * 1024 + 3 * 2048  # 15,104: one fc2 bias per channel
    weights = 2_514_944 + channels  # the paper's (2/r) sum N_s C_s^2, plus the fc2 biases
    vectors = 4 * channels  # z written and read, gates written and read
    plain = cost.se_network_bytes()
    folded = cost.se_network_bytes(fused=True)
    assert plain["total"] == 4 * (3 * maps + weights + vectors) == 76_594_176
    assert folded["total"] == 4 * (maps + weights + vectors) == 32_439_296
    assert plain["total"] - folded["total"] == 4 * 2 * maps
    assert [(s["blocks"], s["channels"], s["size"]) for s in plain["per_stage"]] == list(cost.RESNET50_STAGES)
    assert cost.se_network_bytes(batch=4)["per_image"] < plain["per_image"]  # weights shared


def test_convolution_and_addition_costs():
    c = cost.conv_cost(1, 64, 256, 56, 1)
    assert c.flops == 2 * 56 * 56 * 64 * 256
    assert c.bytes == 4 * (56 * 56 * (64 + 256) + 64 * 256)
    assert c.intensity == pytest.approx(c.flops / c.bytes)
    assert cost.conv_cost(1, 8, 8, 4, 3).flops == 2 * 16 * 64 * 9
    m = 2 * 8 * 5 * 5
    assert cost.residual_add_cost(2, 8, 5) == cost.OpCost(m, 4 * 3 * m)
    # folding the gates in adds one product per element and reads the (N, C) gates: the
    # same extra bytes as se_block_bytes(fused=True)'s rescale
    gated = cost.residual_add_cost(2, 8, 5, gated=True)
    assert gated.flops == 2 * m
    assert gated.bytes - 4 * 3 * m == cost.se_block_bytes(8, 5, 5, batch=2, fused=True)["scale"]
    assert cost.implied_bandwidth(2e9, 0.5) == pytest.approx(4.0)


@pytest.mark.parametrize("call,err,text", [
    (lambda: cost.se_block_bytes(0, 8, 8), ValueError, "channels must be a positive int"),
    (lambda: cost.se_block_bytes(8, 8, 8, fused="yes"), TypeError, r"fused must be a bool \(True or False\)"),
    (lambda: cost.se_block_bytes(8, 8, 8, hidden=0), ValueError, "hidden"),
    (lambda: cost.se_block_flops(8, 8, 8, batch=0), ValueError, "batch"),
    (lambda: cost.se_network_bytes([(3, 256)]), ValueError, r"\(blocks, channels, size\)"),
    (lambda: cost.conv_cost(1, 64, 256, 56, 0), ValueError, "kernel"),
    (lambda: cost.residual_add_cost(1, 8, 4, gated=1), TypeError, "gated must be a bool"),
    (lambda: cost.implied_bandwidth(1.0, 0.0), ValueError, "seconds must be > 0"),
])
def test_traffic_model_rejects_bad_input(call, err, text):
    with pytest.raises(err, match=text):
        call()
