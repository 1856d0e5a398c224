"""Tests for senet_lib.networks: add_se, SE-ResNet-50's parameter arithmetic, timm parity."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from senet_lib import SEBlock
from senet_lib.networks import (
    POSITIONS,
    RESNET_LAYOUTS,
    SEBasicBlock,
    SEBottleneck,
    add_se,
    analytic_se_flops,
    analytic_se_params,
    count_se_params,
    se_blocks,
    se_resnet50,
    se_resnet50_from_timm,
    timm_to_senet_state_dict,
)

RESNET50_PARAMS = 25_557_032
# (2 / 16) * N_s * C_s**2 for N = (3, 4, 6, 3), C = (256, 512, 1024, 2048)
SE50_WEIGHTS_PER_STAGE = [24_576, 131_072, 786_432, 1_572_864]
SE50_FC2_BIASES_PER_STAGE = [768, 2_048, 6_144, 6_144]  # N_s * C_s
SE50_FC1_BIASES_PER_STAGE = [48, 128, 384, 384]  # N_s * C_s / 16


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def small_resnet(block: str = "bottleneck") -> torchvision.models.ResNet:
    """A narrow torchvision ResNet (fast to run), of BasicBlocks or Bottlenecks."""
    if block == "basic":
        return torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 2, 1, 1], num_classes=5)
    return torchvision.models.ResNet(torchvision.models.resnet.Bottleneck, [1, 2, 1, 1], num_classes=5)


def randomize_bn(model: nn.Module) -> None:
    """Non-trivial BN statistics and affine parameters, so every branch matters in eval mode."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.4 + 0.2)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.05)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 0.4 + 0.8)


# ---------------------------------------------------------------- SE-ResNet-50 arithmetic


def test_se_resnet50_parameter_count_exact():
    model = se_resnet50()
    assert n_params(torchvision.models.resnet50()) == RESNET50_PARAMS
    assert n_params(model) == RESNET50_PARAMS + 2_514_944 + 15_104 == 28_087_080
    per_stage = count_se_params(model)
    expected = [w + b for w, b in zip(SE50_WEIGHTS_PER_STAGE, SE50_FC2_BIASES_PER_STAGE)]
    assert per_stage == {1: 25_344, 2: 133_120, 3: 792_576, 4: 1_579_008}
    assert list(per_stage.values()) == expected


def test_analytic_formula_matches_paper_and_model():
    stages = analytic_se_params(*RESNET_LAYOUTS["resnet50"], reduction=16)
    assert [s.weights for s in stages] == SE50_WEIGHTS_PER_STAGE
    assert sum(s.weights for s in stages) == 2_514_944
    # the paper's (2 / r) * sum N_s C_s^2, exactly
    blocks, channels = RESNET_LAYOUTS["resnet50"]
    assert sum(2 * n * c * c for n, c in zip(blocks, channels)) // 16 == 2_514_944
    assert [s.biases for s in stages] == SE50_FC2_BIASES_PER_STAGE
    both = analytic_se_params(blocks, channels, 16, bias1=True)
    both_biases = [a + b for a, b in zip(SE50_FC1_BIASES_PER_STAGE, SE50_FC2_BIASES_PER_STAGE)]
    assert [s.biases for s in both] == both_biases
    assert RESNET50_PARAMS + sum(s.total for s in both) == 28_088_024  # timm's seresnet50
    assert n_params(se_resnet50(bias1=True)) == 28_088_024
    none = analytic_se_params(blocks, channels, 16, bias2=False)
    assert sum(s.total for s in none) == 2_514_944


@pytest.mark.parametrize("arch", sorted(RESNET_LAYOUTS))
@pytest.mark.parametrize("reduction", [4, 16, 32])
def test_analytic_matches_counted_for_every_resnet(arch, reduction):
    with torch.device("meta"):  # structure only: no memory, no initialisation
        model = add_se(getattr(torchvision.models, arch)(), reduction)
    counted = count_se_params(model)
    analytic = analytic_se_params(*RESNET_LAYOUTS[arch], reduction=reduction)
    assert counted == {s.stage: s.total for s in analytic}


def test_stage4_holds_most_of_the_overhead():
    stages = analytic_se_params(*RESNET_LAYOUTS["resnet50"])
    total = sum(s.total for s in stages)
    assert stages[3].total / total > 0.6
    no4 = add_se(torchvision.models.resnet50(), stages=(1, 2, 3))
    assert n_params(no4) - RESNET50_PARAMS == total - stages[3].total


def test_analytic_params_errors():
    with pytest.raises(ValueError, match="one entry per stage"):
        analytic_se_params([3, 4], [256])
    with pytest.raises(ValueError, match="channels"):
        analytic_se_params([3], [0])
    with pytest.raises(ValueError, match="reduction"):
        analytic_se_params([3], [64], 0)


def test_analytic_flops_se_resnet50():
    flops = analytic_se_flops(se_resnet50(), (1, 3, 224, 224))
    sizes = {1: 56, 2: 28, 3: 14, 4: 7}
    blocks, channels = RESNET_LAYOUTS["resnet50"]
    for s, (n, c) in enumerate(zip(blocks, channels), start=1):
        assert flops[s]["pool"] == flops[s]["scale"] == n * c * sizes[s] ** 2
        assert flops[s]["fc"] == SE50_WEIGHTS_PER_STAGE[s - 1]
    with pytest.raises(ValueError, match="no SE blocks"):
        analytic_se_flops(torchvision.models.resnet18(), (1, 3, 32, 32))
    with pytest.raises(ValueError, match="input_size"):
        analytic_se_flops(se_resnet50(), (3, 224, 224))


# ---------------------------------------------------------------- add_se: structure


def test_add_se_keeps_torchvision_names_and_weights():
    plain = torchvision.models.resnet18()
    sd = {k: v.clone() for k, v in plain.state_dict().items()}
    model = add_se(plain)
    assert all(isinstance(b, SEBasicBlock) for layer in [model.layer1, model.layer4] for b in layer)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert unexpected == [] and all(".se." in k for k in missing)
    names = [n for n, _ in model.layer1[0].named_children()]
    assert names == ["conv1", "bn1", "relu", "conv2", "bn2", "se"]
    assert "position='standard'" in repr(model.layer1[0])


def test_add_se_retrofit_preserves_the_rest_of_the_network():
    """With SE gates forced to 1 (+inf bias, zero weights), the SE model equals the plain one."""
    plain = small_resnet().eval()
    randomize_bn(plain)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = plain(x)
    for position in POSITIONS:
        model = add_se(small_resnet().eval(), position=position)
        model.load_state_dict(plain.state_dict(), strict=False)
        with torch.no_grad():
            for _, _, se in se_blocks(model):
                se.fc2.weight.zero_()
                se.fc2.bias.fill_(40.0)  # sigmoid(40) == 1 in float32
            out = model(x)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6, msg=position)


@pytest.mark.parametrize("position", POSITIONS)
def test_positions_channels_and_shapes(position):
    model = add_se(small_resnet(), position=position)
    b = model.layer2[0]  # first block of a stage: in 256 channels, width 128, out 512
    expected = {"standard": 512, "post": 512, "identity": 512, "pre": 256, "3x3": 128}[position]
    assert isinstance(b, SEBottleneck) and b.se.channels == expected
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 5)


def test_positions_are_where_they_say():
    """Hook each SE block's input: it must be the tensor the position's name promises."""
    torch.manual_seed(0)
    for position in POSITIONS:
        model = add_se(small_resnet().eval(), position=position)
        randomize_bn(model)
        block = model.layer2[0]  # first block of a stage: with a downsample on the identity
        x = torch.randn(2, 256, 8, 8)
        got = []
        h = block.se.squeeze.register_forward_pre_hook(lambda m, a: got.append(a[0].clone()))
        with torch.no_grad():
            block(x.clone())
            h.remove()
            b2 = block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))
            b3 = block.bn3(block.conv3(b2))
            identity = block.downsample(x)
        expected = {
            "pre": x, "3x3": b2, "standard": b3, "identity": identity,
            "post": torch.relu(b3 + identity),
        }[position]
        torch.testing.assert_close(got[0], expected, rtol=1e-5, atol=1e-6, msg=position)


def test_stages_selection_and_vgg():
    with torch.device("meta"):
        model = add_se(torchvision.models.resnet50(), stages=[4, 3])
    assert sorted(count_se_params(model)) == [3, 4]
    assert type(model.layer1[0]).__name__ == "Bottleneck"
    vgg = add_se(torchvision.models.vgg11(), stages=(2, 5))
    assert sorted(count_se_params(vgg)) == [2, 5]
    assert vgg(torch.randn(1, 3, 32, 32)).shape == (1, 1000)
    with torch.device("meta"):
        vgg = add_se(torchvision.models.vgg16_bn())
    counted = count_se_params(vgg)
    channels = [64, 128, 256, 512, 512]
    assert counted == {s + 1: 2 * c * (c // 16) + c for s, c in enumerate(channels)}
    assert isinstance(vgg.features[6][0], SEBlock)  # conv indices unchanged, pool wrapped


def test_add_se_errors_name_the_problem():
    with pytest.raises(TypeError, match="ResNet.*VGG.*got model of type Sequential"):
        add_se(nn.Sequential(nn.Conv2d(3, 8, 3)))
    with pytest.raises(TypeError, match="model of type SEBlock"):
        add_se(SEBlock(8))
    with pytest.raises(ValueError, match="position must be one of .* got 'after'"):
        add_se(torchvision.models.resnet18(), position="after")
    with pytest.raises(TypeError, match="position must be a str"):
        add_se(torchvision.models.resnet18(), position=3)
    with pytest.raises(ValueError, match="stage 5 does not exist.*\\[1, 2, 3, 4\\]"):
        add_se(torchvision.models.resnet18(), stages=(4, 5))
    with torch.device("meta"):
        vgg = torchvision.models.vgg11()
    with pytest.raises(ValueError, match="stage 0 does not exist"):
        add_se(vgg, stages=[0])
    with pytest.raises(TypeError, match="sequence of stage numbers"):
        add_se(torchvision.models.resnet18(), stages=4)
    with pytest.raises(ValueError, match="stages is empty"):
        add_se(torchvision.models.resnet18(), stages=[])
    with pytest.raises(TypeError, match="stages must contain ints"):
        add_se(torchvision.models.resnet18(), stages=["layer4"])
    with pytest.raises(ValueError, match="reduction must be a positive int, got 0"):
        add_se(torchvision.models.resnet18(), reduction=0)
    with pytest.raises(ValueError, match="BasicBlock"):
        add_se(torchvision.models.resnet18(), position="3x3")
    with pytest.raises(ValueError, match="VGG has none"):
        add_se(vgg, position="pre")
    with pytest.raises(TypeError, match="fused must be a bool"):
        add_se(torchvision.models.resnet18(), fused="yes")
    model = add_se(torchvision.models.resnet18())
    with pytest.raises(ValueError, match="already has SE blocks"):
        add_se(model)
    add_se(vgg)
    with pytest.raises(ValueError, match="already has SE blocks"):
        add_se(vgg)


def test_failed_add_se_leaves_model_untouched():
    model = torchvision.models.resnet18()
    with pytest.raises(ValueError):
        add_se(model, position="3x3")
    with pytest.raises(ValueError):
        add_se(model, min_hidden=0)
    assert not se_blocks(model)


def test_add_se_keeps_training_mode_and_dtype():
    model = torchvision.models.resnet18().eval().double()
    add_se(model)
    assert not model.layer3[1].training and not model.layer3[1].se.training
    assert model.layer3[1].se.fc1.weight.dtype == torch.float64


# ---------------------------------------------------------------- fused == unfused


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_fused_equals_unfused_forward_and_backward(block):
    torch.manual_seed(0)
    fused = add_se(small_resnet(block), fused=True)
    unfused = add_se(small_resnet(block), fused=False)
    unfused.load_state_dict(fused.state_dict())
    assert fused.layer1[0].fused and not unfused.layer1[0].fused
    x = torch.randn(3, 3, 40, 40)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    for m in (fused, unfused):
        m.train()
    out_a, out_b = fused(xa), unfused(xb)
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-6)
    w = torch.randn_like(out_a)
    (out_a * w).sum().backward()
    (out_b * w).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-6)
    grads_b = dict(unfused.named_parameters())
    for name, p in fused.named_parameters():
        torch.testing.assert_close(p.grad, grads_b[name].grad, rtol=1e-4, atol=1e-5, msg=name)


def test_fused_block_equals_explicit_formula():
    block = add_se(small_resnet().eval()).layer2[0]
    x = torch.randn(2, 256, 8, 8)
    with torch.no_grad():
        out = block(x)
        r = block.bn3(block.conv3(block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))))
        s = torch.sigmoid(block.se.fc2(torch.relu(block.se.fc1(r.mean(dim=(2, 3))))))
        expected = torch.relu(r * s[:, :, None, None] + block.downsample(x))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("position", POSITIONS)
def test_every_position_backpropagates(position):
    model = add_se(small_resnet(), position=position, fused=False)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None for _, _, se in se_blocks(model) for p in se.parameters())


# ---------------------------------------------------------------- timm parity (offline)

@pytest.fixture
def timm():
    return pytest.importorskip("timm")


@pytest.mark.parametrize("name", ["seresnet50", "legacy_seresnet50"])
def test_timm_parity(timm, name):
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False).eval()  # nothing is downloaded
    randomize_bn(ref)
    model = se_resnet50_from_timm(ref).eval()
    assert n_params(model) == n_params(ref) == 28_088_024
    # 97 is odd: the legacy stem's ceil-mode max pooling gives a different size than padding
    for x in (torch.randn(2, 3, 64, 64), torch.randn(1, 3, 97, 97)):
        with torch.no_grad():
            expected, out = ref(x), model(x)
        assert expected.abs().max() > 1e-2  # not a degenerate all-zero network
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    # SE matters in this network: changing one SE block changes the output by far more than 1e-5
    with torch.no_grad():
        model.layer3[2].se.fc2.bias.add_(1.0)
        assert (model(x) - expected).abs().max() > 1e-3


def test_timm_state_dict_mapping(timm):
    legacy = timm.create_model("legacy_seresnet50", pretrained=False)
    state, layout = timm_to_senet_state_dict(legacy.state_dict())
    assert layout == "legacy"
    assert "conv1.weight" in state and "fc.weight" in state and "layer1.0.se.fc1.bias" in state
    assert state["layer4.2.se.fc1.weight"].shape == (128, 2048)
    _, layout = timm_to_senet_state_dict(timm.create_model("seresnet50", pretrained=False))
    assert layout == "seresnet50"
    with pytest.raises(ValueError, match="not a timm seresnet50"):
        timm_to_senet_state_dict(torchvision.models.resnet50().state_dict())
    with pytest.raises(TypeError, match="timm model or its state dict"):
        timm_to_senet_state_dict([1, 2])


def test_legacy_layout_needs_the_v1_strides(timm):
    """The legacy model strides in conv1: loading it into torchvision's layout would not match."""
    torch.manual_seed(0)
    ref = timm.create_model("legacy_seresnet50", pretrained=False).eval()
    randomize_bn(ref)
    model = se_resnet50_from_timm(ref).eval()
    assert model.layer2[0].conv1.stride == (2, 2) and model.layer2[0].conv2.stride == (1, 1)
    naive = se_resnet50(bias1=True).eval()
    naive.load_state_dict(timm_to_senet_state_dict(ref)[0])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (naive(x) - ref(x)).abs().max() > 1e-4


def test_agrees_with_chapter3_formula():
    """Chapter 3's whole-network count and this module's per-stage count are one formula."""
    from senet_lib.anatomy import se_extra_params

    for arch, (blocks, channels) in RESNET_LAYOUTS.items():
        for r in (8, 16):
            stages = list(zip(channels, blocks))
            weights = sum(s.weights for s in analytic_se_params(blocks, channels, r))
            assert se_extra_params(stages, r) == weights
            assert se_extra_params(stages, r, bias1=True, bias2=True) == sum(
                s.total for s in analytic_se_params(blocks, channels, r, bias1=True)
            )
