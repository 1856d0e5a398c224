"""ECA, CBAM and gather-excite (senet_lib.successors): parity with timm, shapes, bad input."""

import math

import pytest
import torch
from timm.layers.cbam import CbamModule
from timm.layers.create_conv2d import create_conv2d
from timm.layers.eca import EcaModule
from timm.layers.gather_excite import GatherExcite as TimmGatherExcite
from timm.layers.mlp import ConvMlp
from torch import nn

from senet_lib.block import ChannelScale, SEBlock
from senet_lib.cifar_resnet import cifar_resnet
from senet_lib.registry import ATTENTION, make_attention
from senet_lib.removal import ConstantGate
from senet_lib.successors import (
    CBAMBlock,
    ECABlock,
    GatherExcite,
    eca_kernel_size,
    elementwise_ops,
    from_timm_state_dict,
)


def _randomise(module: nn.Module, seed: int = 0) -> None:
    """Give every parameter and batch-norm statistic non-trivial values, so parity means something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def _same(ours: nn.Module, theirs: nn.Module, shape=(3, 32, 14, 14)) -> None:
    _randomise(theirs)
    from_timm_state_dict(ours, theirs.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        # float32: the two compute the same sums in different orders, and the order a CPU's
        # kernels choose differs between machines (1.2e-6 on outputs of a few units seen here):
        # a relative tolerance of a few float32 epsilons, on top of 1e-6 absolute
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)


# ---- the kernel-size rule of ECA ---------------------------------------------------------------

@pytest.mark.parametrize("channels, paper", [(16, 3), (32, 3), (64, 3), (128, 5), (256, 5), (512, 5),
                                              (1024, 5), (2048, 7), (4, 1), (2, 1)])
def test_eca_kernel_size_follows_the_papers_rule(channels, paper):
    assert eca_kernel_size(channels) == paper
    assert eca_kernel_size(channels, minimum=3) == max(paper, 3)


@pytest.mark.parametrize("channels", [4, 16, 64, 256, 2048])
def test_eca_kernel_size_with_timms_floor_is_timms(channels):
    assert eca_kernel_size(channels, minimum=3) == EcaModule(channels).conv.kernel_size[0]


# ---- parity with timm ------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [16, 32, 64, 256])
def test_eca_matches_timm(channels):
    _same(ECABlock(channels, minimum_kernel=3), EcaModule(channels), shape=(3, channels, 9, 11))


def test_eca_with_a_given_kernel_matches_timm():
    _same(ECABlock(64, kernel_size=7), EcaModule(kernel_size=7), shape=(2, 64, 5, 5))


@pytest.mark.parametrize("channels, reduction", [(32, 16), (64, 8), (48, 16)])
def test_cbam_matches_timm(channels, reduction):
    theirs = CbamModule(channels, rd_ratio=1 / reduction)
    assert theirs.channel.fc1.out_channels == max(1, channels // reduction)
    _same(CBAMBlock(channels, reduction), theirs, shape=(3, channels, 12, 10))


def test_cbam_in_training_mode_matches_timm_too():
    """Batch statistics in the spatial batch norm: the same in training mode."""
    ours, theirs = CBAMBlock(32), CbamModule(32)
    _randomise(theirs)
    from_timm_state_dict(ours, theirs.state_dict())
    x = torch.randn(4, 32, 8, 8)
    torch.testing.assert_close(ours.train()(x), theirs.train()(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("extent", [0, 2, 4, 8])
def test_parameter_free_gather_excite_matches_timm(extent):
    _same(GatherExcite(32, extent), TimmGatherExcite(32, extent=extent, use_mlp=False), shape=(2, 32, 16, 12))


def _timm_ge_with(channels: int, extent: int, *, learned: bool, mlp: bool, feat_size=None) -> TimmGatherExcite:
    """timm's GatherExcite with a learned gather and/or an MLP, built as its constructor intends.

    timm 1.0.31's constructor passes ``*dd`` (the keys of a dict) as positional arguments to
    ``create_conv2d`` and ``ConvMlp``, so ``extra_params=True`` or ``use_mlp=True`` raise a
    TypeError. We build the parameter-free module, then add timm's own layers as its
    constructor would (same names, same calls without the stray arguments); ``forward`` is timm's.
    """
    module = TimmGatherExcite(channels, extent=extent, use_mlp=False)
    if learned:
        module.gather = nn.Sequential()
        if extent == 0:
            module.gather.add_module("conv1", create_conv2d(channels, channels, kernel_size=feat_size, stride=1,
                                                            depthwise=True))
            module.gather.add_module("norm1", nn.BatchNorm2d(channels))
        else:
            steps = int(math.log2(extent))
            for i in range(steps):
                module.gather.add_module(f"conv{i + 1}", create_conv2d(channels, channels, kernel_size=3,
                                                                       stride=2, depthwise=True))
                module.gather.add_module(f"norm{i + 1}", nn.BatchNorm2d(channels))
                if i != steps - 1:
                    module.gather.add_module(f"act{i + 1}", nn.ReLU(inplace=True))
    if mlp:
        module.mlp = ConvMlp(channels, max(1, channels // 16), act_layer=nn.ReLU)
    return module


def test_timms_gather_excite_constructor_is_broken_for_the_learned_variants():
    """Why the next tests assemble timm's module by hand: if a timm release fixes this, this
    test fails and the helper above can be replaced by the constructor."""
    with pytest.raises(TypeError):
        TimmGatherExcite(32, extent=4, extra_params=True, use_mlp=False)
    with pytest.raises(TypeError):
        TimmGatherExcite(32, extent=0)  # use_mlp=True is its default


@pytest.mark.parametrize("extent", [2, 4, 8])
@pytest.mark.parametrize("mlp", [False, True])
def test_learned_gather_excite_matches_timm(extent, mlp):
    theirs = _timm_ge_with(32, extent, learned=True, mlp=mlp)
    _same(GatherExcite(32, extent, learned=True, mlp=mlp), theirs, shape=(2, 32, 16, 16))


def test_global_learned_gather_differs_from_timm_only_by_timms_padding():
    """The paper's global learned gather is one depthwise convolution as large as the map (a
    1 x 1 result). timm pads it to keep 7 x 7, so each position sees a window clipped by the
    border: not global. With timm's padding removed the two agree."""
    theirs = _timm_ge_with(32, 0, learned=True, mlp=True, feat_size=(7, 7))
    ours = GatherExcite(32, 0, learned=True, mlp=True, feature_size=(7, 7))
    x = torch.randn(2, 32, 7, 7)
    assert theirs.gather(x).shape[-2:] == (7, 7) and ours.gather_map(x).shape[-2:] == (1, 1)
    theirs.gather.conv1.padding = (0, 0)
    _same(ours, theirs, shape=(2, 32, 7, 7))


def test_parameter_free_gather_with_mlp_matches_timm():
    _same(GatherExcite(64, 4, mlp=True), _timm_ge_with(64, 4, learned=False, mlp=True), shape=(2, 64, 8, 8))


def test_loading_timm_weights_into_a_different_gather_is_refused():
    theirs = _timm_ge_with(32, 4, learned=True, mlp=False)
    with pytest.raises(ValueError, match="same extent"):
        from_timm_state_dict(GatherExcite(32, 8, learned=True), theirs.state_dict())
    with pytest.raises(TypeError, match="ECABlock, CBAMBlock or GatherExcite"):
        from_timm_state_dict(SEBlock(32), {})


# ---- what each block is --------------------------------------------------------------------------

def test_eca_is_its_equation():
    block = ECABlock(16, kernel_size=3)
    x = torch.randn(2, 16, 5, 5)
    w = block.conv.weight[0, 0]
    z = x.mean(dim=(2, 3))
    padded = torch.nn.functional.pad(z, (1, 1))
    s = torch.sigmoid(w[0] * padded[:, :-2] + w[1] * padded[:, 1:-1] + w[2] * padded[:, 2:])
    torch.testing.assert_close(block.gates(x), s)
    torch.testing.assert_close(block(x), x * s[:, :, None, None])
    assert sum(p.numel() for p in block.parameters()) == 3


def test_cbam_gates_are_channel_then_spatial():
    block = CBAMBlock(32).eval()
    x = torch.randn(2, 32, 6, 6)
    m_c, m_s = block.gates(x)
    assert m_c.shape == (2, 32) and m_s.shape == (2, 1, 6, 6)
    torch.testing.assert_close(block(x), x * m_c[:, :, None, None] * m_s)


def test_gather_excite_gates_are_constant_over_each_window():
    block = GatherExcite(8, extent=4)
    x = torch.randn(1, 8, 16, 16)
    g = block.gates(x)
    assert g.shape == x.shape
    assert torch.equal(g[..., :4, :4], g[..., :1, :1].expand(-1, -1, 4, 4))
    assert not torch.equal(g[..., 0, 0], g[..., 0, 4])  # neighbouring windows differ
    assert sum(p.numel() for p in block.parameters()) == 0
    glob = GatherExcite(8, extent=0)
    torch.testing.assert_close(glob(x), x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True)))


def test_make_attention_builds_every_kind_and_each_keeps_the_shape():
    from senet_lib.block import NoSqueezeSE

    x = torch.randn(2, 32, 8, 8)
    expected = {"none": nn.Identity, "se": SEBlock, "no_squeeze": NoSqueezeSE, "eca": ECABlock,
                "cbam": CBAMBlock, "ge": GatherExcite, "ge_learned": GatherExcite, "scale": ChannelScale,
                "constant": ConstantGate}
    assert set(expected) == set(ATTENTION)
    for kind, cls in expected.items():
        block = make_attention(kind, 32)
        assert type(block) is cls
        assert block(x).shape == x.shape
    assert make_attention("ge_learned", 32).learned and not make_attention("ge", 32).learned
    torch.testing.assert_close(make_attention("constant", 32)(x), 0.5 * x)


def test_channel_scale_is_the_same_for_every_image_and_learns():
    block = ChannelScale(4, init=0.25)
    x = torch.randn(3, 4, 2, 2)
    g = block.gates(x)
    torch.testing.assert_close(g, torch.full((3, 4), 0.25))
    block(x).sum().backward()
    assert block.logit.grad is not None and block.logit.grad.abs().sum() > 0


def test_elementwise_ops_count_the_passes_over_the_map():
    shape = (2, 16, 8, 8)
    n = math.prod(shape)
    assert elementwise_ops(SEBlock(16), shape) == 2 * n
    assert elementwise_ops(ECABlock(16), shape) == 2 * n
    assert elementwise_ops(CBAMBlock(16), shape) == 6 * n
    assert elementwise_ops(GatherExcite(16, 4), shape) == 3 * n
    assert elementwise_ops(GatherExcite(16, 4, learned=True), shape) == 2 * n
    assert elementwise_ops(ChannelScale(16), shape) == n
    with pytest.raises(TypeError, match="attention blocks"):
        elementwise_ops(nn.Identity(), shape)


# ---- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, match", [
    (lambda: ECABlock(0), "channels must be a positive int"),
    (lambda: ECABlock(16, kernel_size=4), "kernel_size must be odd"),
    (lambda: ECABlock(16, kernel_size=0), "kernel_size must be a positive int"),
    (lambda: eca_kernel_size(16, gamma=0), "gamma must be > 0"),
    (lambda: CBAMBlock(32, 0), "reduction must be a positive int"),
    (lambda: CBAMBlock(32, spatial_kernel=6), "kernel_size must be odd"),
    (lambda: GatherExcite(32, extent=3), "extent must be 0"),
    (lambda: GatherExcite(32, extent=-2), "extent must be 0"),
    (lambda: GatherExcite(32, extent=6, learned=True), "power of two"),
    (lambda: GatherExcite(32, extent=0, learned=True), "feature_size"),
    (lambda: GatherExcite(32, learned=1), "learned must be a bool"),
    (lambda: make_attention("sk", 32), "attn must be one of"),
    (lambda: ChannelScale(8, init=1.0), "init must be a gate value"),
])
def test_bad_arguments_are_refused_with_a_clear_message(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("block", [ECABlock(16), CBAMBlock(16), GatherExcite(16, 2), ChannelScale(16)])
def test_bad_input_is_refused_like_se(block):
    with pytest.raises(ValueError, match="built for channels=16"):
        block(torch.randn(1, 8, 4, 4))
    with pytest.raises(ValueError, match="4-D"):
        block(torch.randn(16, 4, 4))
    with pytest.raises(TypeError, match="floating-point"):
        block(torch.ones(1, 16, 4, 4, dtype=torch.long))


# ---- in the CIFAR ResNet -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(ATTENTION))
def test_cifar_resnet_takes_every_block(kind):
    model = cifar_resnet(8, attn=kind)
    assert type(model.layer2[0].se) is type(make_attention(kind, 32))
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    out.sum().backward()


def test_cifar_resnet_refuses_an_unknown_block_or_se_knobs_on_another_block():
    with pytest.raises(ValueError, match="attn must be one of"):
        cifar_resnet(8, attn="sknet")
    with pytest.raises(ValueError, match="'eca' takes kernel_size, minimum_kernel; got \\['pool'\\]"):
        cifar_resnet(8, attn="eca", attn_options={"pool": "max"})


# ---- retrofitting torchvision networks ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["eca", "cbam", "ge", "ge_learned"])
def test_add_attention_puts_the_block_in_every_unit_of_a_torchvision_resnet(kind):
    from torchvision.models import resnet18

    from senet_lib.networks import SEBasicBlock, add_attention

    torch.manual_seed(0)
    model = resnet18(weights=None, num_classes=7)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert add_attention(model, kind) is model
    units = [u for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for u in layer]
    assert all(isinstance(u, SEBasicBlock) and type(u.se) is type(make_attention(kind, 64)) for u in units)
    assert [u.se.channels for u in units] == [64, 64, 128, 128, 256, 256, 512, 512]
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())  # the network's own weights kept
    model.eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)


def test_add_attention_with_options_and_stages():
    from torchvision.models import resnet18

    from senet_lib.networks import add_attention

    model = add_attention(resnet18(weights=None), "eca", stages=[4], kernel_size=5)
    assert model.layer4[0].se.kernel_size == 5
    assert not hasattr(model.layer3[0], "se")


def test_add_attention_into_a_vgg():
    from torchvision.models import vgg11

    from senet_lib.networks import add_attention

    model = add_attention(vgg11(weights=None), "cbam", stages=[1, 2])
    assert isinstance(model.features[2].se, CBAMBlock)
    assert model.features[2].se.channels == 64


def test_add_attention_refuses_bad_input_and_leaves_the_model_untouched():
    from torchvision.models import resnet18

    from senet_lib.networks import add_attention

    model = resnet18(weights=None)
    with pytest.raises(ValueError, match="attn must be one of"):
        add_attention(model, "sknet")
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        add_attention(model, "eca", kernel_size=4)
    with pytest.raises(ValueError, match="position must be one of"):
        add_attention(model, "eca", position="middle")
    with pytest.raises(TypeError, match="torchvision ResNet"):
        add_attention(nn.Linear(3, 3), "eca")
    assert not any(hasattr(u, "se") for u in model.layer1)
    add_attention(model, "ge")
    with pytest.raises(ValueError, match="already has SE or attention blocks"):
        add_attention(model, "eca")
