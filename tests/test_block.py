"""SEBlock: same math as the classic layer sequence, timm and torchvision; guarded inputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from senet_lib import SEBlock, hidden_width, scale, squeeze
from senet_lib.block import NoSqueezeSE, excite


def classic_sequence(block: SEBlock) -> nn.Sequential:
    """The classic write-up, with the weights of ``block`` copied in."""
    c, h = block.channels, block.hidden
    seq = nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, h, bias=False), nn.ReLU(),
        nn.Linear(h, c), nn.Sigmoid(), nn.Unflatten(1, (c, 1, 1)),
    ).to(block.fc1.weight.dtype)
    with torch.no_grad():
        seq[2].weight.copy_(block.fc1.weight)
        seq[4].weight.copy_(block.fc2.weight)
        seq[4].bias.copy_(block.fc2.bias)
    return seq


def reference(block: SEBlock, x: torch.Tensor) -> torch.Tensor:
    return x * classic_sequence(block)(x)


@pytest.mark.parametrize("shape,r", [((2, 32, 7, 5), 16), ((1, 64, 1, 1), 4), ((3, 3, 9, 9), 16)])
def test_equals_classic_sequence(shape, r):
    torch.manual_seed(0)
    block = SEBlock(shape[1], r)
    x = torch.randn(shape)
    torch.testing.assert_close(block(x), reference(block, x), atol=1e-6, rtol=1e-6)


def _copy_conv_se(block: SEBlock, conv1: nn.Conv2d, conv2: nn.Conv2d) -> None:
    with torch.no_grad():
        block.fc1.weight.copy_(conv1.weight.flatten(1))
        block.fc1.bias.copy_(conv1.bias)
        block.fc2.weight.copy_(conv2.weight.flatten(1))
        block.fc2.bias.copy_(conv2.bias)


def test_equals_timm_se_module():
    timm_layers = pytest.importorskip("timm.layers")
    torch.manual_seed(0)
    c = 64
    theirs = timm_layers.SEModule(c, rd_channels=c // 16)  # timm would round 64/16 up to 8
    ours = SEBlock(c, 16, bias1=True)  # timm keeps a bias in both 1x1 convs
    assert ours.hidden == theirs.fc1.out_channels
    _copy_conv_se(ours, theirs.fc1, theirs.fc2)
    x = torch.randn(4, c, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-6)


def test_equals_torchvision_squeeze_excitation():
    from torchvision.ops import SqueezeExcitation

    torch.manual_seed(0)
    c = 48
    theirs = SqueezeExcitation(c, c // 16)
    ours = SEBlock(c, 16, bias1=True)
    _copy_conv_se(ours, theirs.fc1, theirs.fc2)
    x = torch.randn(2, c, 5, 7)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-6)


def test_shape_dtype_and_gate_range():
    torch.manual_seed(0)
    block = SEBlock(32, 8)
    x = torch.randn(5, 32, 11, 3)
    y = block(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    g = block.gates(x)
    assert g.shape == (5, 32)
    assert bool((g > 0).all()) and bool((g < 1).all())


def test_all_ones_gates_are_the_identity():
    x = torch.randn(2, 8, 4, 4)
    assert torch.equal(scale(x, torch.ones(2, 8)), x)
    block = SEBlock(8, 2)
    with torch.no_grad():
        block.fc2.weight.zero_()
        block.fc2.bias.fill_(100.0)  # sigmoid(100) == 1.0 in float32
    assert torch.equal(block(x), x)


def test_zero_gates_suppress():
    x = torch.randn(2, 8, 4, 4)
    assert torch.equal(scale(x, torch.zeros(2, 8)), torch.zeros_like(x))


def test_gradcheck_float64():
    torch.manual_seed(0)
    block = SEBlock(12, 4, bias1=True).double()
    x = torch.randn(2, 12, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))
    assert torch.autograd.gradcheck(squeeze, (x,))
    s = torch.rand(2, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(scale, (x, s))


def test_gradients_match_the_classic_sequence():
    torch.manual_seed(0)
    block = SEBlock(16, 4).double()
    seq = classic_sequence(block)
    x = torch.randn(3, 16, 5, 5, dtype=torch.float64)
    g = torch.randn_like(x)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    block(x1).backward(g)
    (x2 * seq(x2)).backward(g)
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(block.fc1.weight.grad, seq[2].weight.grad)
    torch.testing.assert_close(block.fc2.weight.grad, seq[4].weight.grad)
    torch.testing.assert_close(block.fc2.bias.grad, seq[4].bias.grad)


def test_channels_last_gives_the_same_values_and_gradients():
    torch.manual_seed(0)
    block = SEBlock(32, 8)
    x = torch.randn(2, 32, 6, 6)
    xc = x.to(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(), xc.clone().requires_grad_()
    ya, yb = block(a), block(b)
    torch.testing.assert_close(ya, yb, atol=1e-6, rtol=1e-6)
    assert yb.is_contiguous(memory_format=torch.channels_last)
    g = torch.randn_like(x)
    ya.backward(g)
    yb.backward(g.to(memory_format=torch.channels_last))
    torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-6)


def test_non_contiguous_input():
    torch.manual_seed(0)
    block = SEBlock(8, 2)
    x = torch.randn(2, 8, 6, 10)[:, :, :, ::2]  # a strided view
    xr = x.detach().clone().requires_grad_()
    xv = x.detach().clone()[:, :, :, :]
    y = block(xr)
    torch.testing.assert_close(y, reference(block, xv))
    y.sum().backward()
    assert xr.grad.shape == x.shape


def test_forward_hook_on_gate_sees_the_gates():
    torch.manual_seed(0)
    block = SEBlock(16, 4)
    x = torch.randn(2, 16, 3, 3)
    seen = []
    h = block.gate.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    y = block(x)
    h.remove()
    assert len(seen) == 1 and seen[0].shape == (2, 16)
    torch.testing.assert_close(y, x * seen[0][:, :, None, None])


# --- hooks and precision ------------------------------------------------------------------


@pytest.mark.parametrize("sub", ["squeeze", "fc1", "relu", "fc2", "gate"])
@pytest.mark.parametrize("kind", ["forward", "pre"])
def test_hooks_on_sub_modules_fire_in_inference(sub, kind):
    block = SEBlock(16, 4)
    x = torch.randn(1, 16, 3, 3)
    seen = []
    module = getattr(block, sub)
    if kind == "forward":
        h = module.register_forward_hook(lambda m, i, o: seen.append(o))
    else:
        h = module.register_forward_pre_hook(lambda m, i: seen.append(i[0]))
    with torch.inference_mode():
        block(x)
        block.gates(x)
    h.remove()
    assert len(seen) == 2


def test_global_module_hooks_see_the_sub_modules_in_order():
    block = SEBlock(16, 4)
    seen = []
    h = nn.modules.module.register_module_forward_hook(lambda m, i, o: seen.append(type(m).__name__))
    try:
        with torch.inference_mode():
            block(torch.randn(1, 16, 3, 3))
    finally:
        h.remove()
    assert seen == ["Squeeze", "Linear", "ReLU", "Linear", "Sigmoid", "SEBlock"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_squeeze_does_not_overflow(dtype):
    # the sum of a 56 x 56 map of 40s is 125,440: beyond float16's largest number (65,504)
    block = SEBlock(8, 2).to(dtype)
    x = torch.full((1, 8, 56, 56), 40.0, dtype=dtype)
    with torch.inference_mode():
        gates = block.gates(x)
    assert torch.isfinite(gates).all() and gates.dtype == dtype
    torch.testing.assert_close(squeeze(x), torch.full((1, 8), 40.0, dtype=dtype))


def test_autocast_bfloat16():
    torch.manual_seed(0)
    block = SEBlock(16, 4)
    x = torch.randn(2, 16, 3, 3)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        gates = block.gates(x)
    assert gates.dtype == torch.bfloat16
    torch.testing.assert_close(gates.float(), block.gates(x).detach(), atol=1e-2, rtol=1e-2)


def test_no_private_torch_attributes_in_the_package():
    import pathlib

    import senet_lib

    root = pathlib.Path(senet_lib.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "_global_forward_hooks" not in text and "._forward_hooks" not in text, path


# --- the ablation knobs: pool, gate, no squeeze ---------------------------------------------

@pytest.mark.parametrize("pool,expected", [
    ("avg", lambda x: x.mean(dim=(2, 3))),
    ("max", lambda x: x.amax(dim=(2, 3))),
    ("avgmax", lambda x: (x.mean(dim=(2, 3)) + x.amax(dim=(2, 3))) / 2),
    ("std", lambda x: x.std(dim=(2, 3), correction=0)),
])
def test_pools(pool, expected):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 3)
    torch.testing.assert_close(squeeze(x, pool), expected(x))
    block = SEBlock(5, 2, pool=pool)
    torch.testing.assert_close(block.gates(x), block.excite(expected(x)))
    assert f"pool={pool!r}" in repr(block) or pool == "avg"


@pytest.mark.parametrize("gate,fn", [("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
                                     ("relu", torch.relu), ("hard_sigmoid", nn.functional.hardsigmoid)])
def test_gates_kinds(gate, fn):
    torch.manual_seed(0)
    block = SEBlock(8, 2, gate=gate)
    x = torch.randn(3, 8, 4, 4)
    z = x.mean(dim=(2, 3))
    expected = fn(block.fc2(torch.relu(block.fc1(z))))
    torch.testing.assert_close(block.gates(x), expected)
    torch.testing.assert_close(block(x), x * expected[:, :, None, None])
    assert block.gate_name == gate


def test_functional_equations_compose_to_the_block():
    torch.manual_seed(0)
    block = SEBlock(12, 4)
    x = torch.randn(2, 12, 5, 5)
    y = scale(x, excite(squeeze(x), block.fc1, block.fc2))
    torch.testing.assert_close(y, block(x))


def test_no_squeeze_block():
    torch.manual_seed(0)
    block = NoSqueezeSE(16, 4)
    x = torch.randn(2, 16, 5, 6)
    gates = torch.sigmoid(block.conv2(torch.relu(block.conv1(x))))  # (N, C, H, W): one per position
    torch.testing.assert_close(block(x), x * gates)
    assert block.hidden == 4 and gates.shape == x.shape
    # no global context: changing one pixel changes only that pixel's output
    x2 = x.clone()
    x2[:, :, 0, 0] += 5.0
    diff = (block(x2) - block(x)).abs().sum(dim=1)
    assert diff[:, 0, 0].min() > 0 and diff.flatten(1)[:, 1:].max() == 0
    with pytest.raises(ValueError, match="channels=16"):
        block(torch.randn(1, 8, 3, 3))


@pytest.mark.parametrize("kwargs,match", [(dict(pool="mean"), "pool must be one of"),
                                          (dict(gate="softmax"), "gate must be one of"),
                                          (dict(pool=None), "pool"), (dict(bias1=1), "bias1")])
def test_bad_knobs(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        SEBlock(16, 4, **kwargs)
    assert repr(next(iter(kwargs.values()))) in str(info.value)
    if "pool" in kwargs:
        with pytest.raises(ValueError, match="pool"):
            squeeze(torch.randn(1, 2, 3, 3), kwargs["pool"])


def test_torch_compile():
    torch.manual_seed(0)
    block = SEBlock(16, 4)
    compiled = torch.compile(block)
    x = torch.randn(2, 16, 5, 5, requires_grad=True)
    y = compiled(x)
    torch.testing.assert_close(y, block(x), atol=1e-5, rtol=1e-5)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_torch_export():
    torch.manual_seed(0)
    block = SEBlock(16, 4).eval()
    x = torch.randn(2, 16, 5, 5)
    exported = torch.export.export(block, (x,))
    torch.testing.assert_close(exported.module()(x), block(x))


def test_torch_export_for_inference_with_a_dynamic_batch():
    # exported under no_grad, the inference path is traced; one graph serves every batch size
    torch.manual_seed(0)
    block = SEBlock(16, 4).eval()
    with torch.no_grad():
        exported = torch.export.export(block, (torch.randn(3, 16, 5, 5),),
                                       dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
        for n in (1, 3, 5):
            x = torch.randn(n, 16, 5, 5)
            torch.testing.assert_close(exported.module()(x), block(x))


# --- hidden width -----------------------------------------------------------------------

def test_classic_demo_c3_r16_is_not_zero_width():
    block = SEBlock(3, 16)
    assert block.hidden == 1
    assert block.fc1.out_features == 1 and block.fc2.in_features == 1
    y = block(torch.rand(1, 3, 224, 224))
    assert y.shape == (1, 3, 224, 224)


def test_gates_depend_on_the_input_even_for_c_less_than_r():
    torch.manual_seed(0)
    block = SEBlock(3, 16)
    with torch.no_grad():
        block.fc1.weight.fill_(1.0)
        block.fc2.weight.fill_(1.0)
    a = block.gates(torch.full((1, 3, 4, 4), 0.1))
    b = block.gates(torch.full((1, 3, 4, 4), 0.9))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("c,r,expected", [(3, 16, 1), (64, 16, 4), (2048, 16, 128), (10, 3, 3), (16, 32, 1)])
def test_hidden_width(c, r, expected):
    assert hidden_width(c, r) == expected
    assert SEBlock(c, r).hidden == SEBlock(c, r).fc1.out_features == expected
    assert f"reduction={r} (hidden={expected})" in repr(SEBlock(c, r))


# --- bad input: a clear error naming argument, value and expectation ------------------------

BAD_CONSTRUCTOR = [
    (dict(channels=0), ValueError, "channels"),
    (dict(channels=-4), ValueError, "channels"),
    (dict(channels=2.5), TypeError, "channels"),
    (dict(channels="64"), TypeError, "channels"),
    (dict(channels=True), TypeError, "channels"),
    (dict(channels=64, reduction=0), ValueError, "reduction"),
    (dict(channels=64, reduction=-16), ValueError, "reduction"),
    (dict(channels=64, reduction=1.5), TypeError, "reduction"),
    (dict(channels=64, reduction=None), TypeError, "reduction"),
]


@pytest.mark.parametrize("kwargs,exc,name", BAD_CONSTRUCTOR)
def test_bad_constructor_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name) as info:
        SEBlock(**kwargs)
    value = next(v for k, v in kwargs.items() if k == name)
    assert repr(value) in str(info.value)  # the message shows the value it got


BAD_INPUT = [
    ([[1.0, 2.0]], TypeError, "torch.Tensor"),
    (torch.randn(8, 5, 5), ValueError, "4-D"),
    (torch.randn(2, 8, 5, 5, 1), ValueError, "4-D"),
    (torch.randn(8), ValueError, "4-D"),
    (torch.randn(2, 4, 5, 5), ValueError, "channels=8"),
    (torch.randn(2, 16, 5, 5), ValueError, "channels=8"),
    (torch.randint(0, 255, (2, 8, 5, 5), dtype=torch.uint8), TypeError, "floating-point"),
    (torch.ones(2, 8, 5, 5, dtype=torch.int64), TypeError, "floating-point"),
    (torch.ones(2, 8, 5, 5, dtype=torch.bool), TypeError, "floating-point"),
    (torch.randn(2, 8, 0, 5), ValueError, "non-empty"),
]


@pytest.mark.parametrize("x,exc,match", BAD_INPUT)
def test_bad_forward_input(x, exc, match):
    block = SEBlock(8, 2)
    with pytest.raises(exc, match=match):
        block(x)
    with pytest.raises(exc, match=match):
        block.gates(x)


# --- properties over shapes and reductions --------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3), c=st.integers(1, 40), h=st.integers(1, 6), w=st.integers(1, 6),
    r=st.integers(1, 32), seed=st.integers(0, 2**16),
)
def test_properties(n, c, h, w, r, seed):
    torch.manual_seed(seed)
    block = SEBlock(c, r)
    assert block.hidden == max(1, c // r)
    x = torch.randn(n, c, h, w)
    y = block(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, reference(block, x), atol=1e-5, rtol=1e-5)
    g = block.gates(x)
    assert bool(((g >= 0) & (g <= 1)).all())
    # |y| <= |x| everywhere: gates never amplify
    assert bool((y.abs() <= x.abs() + 1e-6).all())
    # squeeze is the per-channel mean
    torch.testing.assert_close(squeeze(x), x.mean(dim=(2, 3)))
