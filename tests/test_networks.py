"""Tests for senet_lib.networks: add_se at every position, in ResNets and VGGs; timm parity.
(What SE costs in these networks is tested in test_cost.py.)"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from senet_lib import SEBlock
from senet_lib.cost import count_parameters, count_se_params
from senet_lib.networks import (
    POSITIONS,
    SEBasicBlock,
    SEBottleneck,
    add_se,
    linear_as_conv1x1,
    se_resnet50,
    se_resnet50_from_timm,
    timm_to_senet_state_dict,
)


def se_modules(model: nn.Module) -> list[SEBlock]:
    return [m for m in model.modules() if isinstance(m, SEBlock)]


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
            for se in se_modules(model):
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
        h = block.se.squeeze.register_forward_pre_hook(lambda m, a, got=got: got.append(a[0].clone()))
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
    with pytest.raises(ValueError, match="pool must be one of .* got 'median'"):
        add_se(torchvision.models.resnet18(), pool="median")
    with pytest.raises(ValueError, match="gate must be one of .* got 'softmax'"):
        add_se(torchvision.models.resnet18(), gate="softmax")
    with pytest.raises(TypeError, match="bias1 must be a bool"):
        add_se(torchvision.models.resnet18(), bias1=1)
    model = add_se(torchvision.models.resnet18())
    with pytest.raises(ValueError, match="already has SE or attention blocks"):
        add_se(model)
    add_se(vgg)
    with pytest.raises(ValueError, match="already has SE or attention blocks"):
        add_se(vgg)


def test_failed_add_se_leaves_model_untouched():
    model = torchvision.models.resnet18()
    with pytest.raises(ValueError):
        add_se(model, position="3x3")
    with pytest.raises(ValueError):
        add_se(model, gate="softmax")
    assert not se_modules(model)


def test_add_se_keeps_training_mode_and_dtype():
    model = torchvision.models.resnet18().eval().double()
    add_se(model)
    assert not model.layer3[1].training and not model.layer3[1].se.training
    assert model.layer3[1].se.fc1.weight.dtype == torch.float64


@pytest.mark.parametrize("pool,gate", [("avg", "sigmoid"), ("max", "hard_sigmoid")])
def test_add_se_passes_pool_and_gate_to_every_block(pool, gate):
    model = add_se(small_resnet(), pool=pool, gate=gate, bias1=True)
    ses = se_modules(model)
    assert len(ses) == 5 and all(se.squeeze.pool == pool and se.gate_name == gate for se in ses)
    assert all(se.fc1.bias is not None for se in ses)
    vgg = add_se(torchvision.models.vgg11(), stages=(5,), pool=pool, gate=gate)
    assert [(se.squeeze.pool, se.gate_name) for se in se_modules(vgg)] == [(pool, gate)]


# ---------------------------------------------------------------- what a unit computes


def test_standard_unit_equals_explicit_formula():
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
    model = add_se(small_resnet(), position=position)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None for se in se_modules(model) for p in se.parameters())


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
    assert count_parameters(model) == count_parameters(ref) == 28_088_024
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


@pytest.mark.parametrize("bias", [True, False])
def test_linear_as_conv1x1(bias):
    lin = nn.Linear(12, 5, bias=bias).double()
    conv = linear_as_conv1x1(lin)
    assert conv.kernel_size == (1, 1) and conv.weight.dtype == torch.float64
    z = torch.randn(4, 12, dtype=torch.float64)
    torch.testing.assert_close(conv(z[:, :, None, None])[:, :, 0, 0], lin(z))
    # on a whole map it applies the same linear map at every position
    x = torch.randn(2, 12, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(conv(x).permute(0, 2, 3, 1), lin(x.permute(0, 2, 3, 1)))
    with torch.no_grad():  # its own parameters: changing the copy leaves the layer alone
        conv.weight.zero_()
    assert lin.weight.abs().sum() > 0
    with pytest.raises(TypeError, match="linear must be a torch.nn.Linear, got Conv2d"):
        linear_as_conv1x1(conv)
