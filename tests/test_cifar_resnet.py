"""senet_lib.cifar_resnet: depth, shapes, SE position and parameter counts."""

import pytest
import torch

from senet_lib import SEBlock
from senet_lib.cifar_resnet import cifar_resnet
from senet_lib.cost import count_parameters


@pytest.mark.parametrize("depth, n", [(8, 1), (20, 3), (32, 5)])
def test_depth_and_output(depth, n):
    m = cifar_resnet(depth, num_classes=7, width=4)
    assert len(m.layer1) == len(m.layer2) == len(m.layer3) == n
    convs = [x for x in m.modules() if isinstance(x, torch.nn.Conv2d) and x.kernel_size == (3, 3)]
    assert len(convs) + 1 == depth  # 3x3 convolutions plus the final linear layer
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_resnet20_parameters_match_he_et_al():
    # He et al. (2016) Table 6: ResNet-20 has 0.27M parameters
    assert round(count_parameters(cifar_resnet(20)) / 1e6, 2) == 0.27


def test_se_blocks_and_their_cost():
    plain, se = cifar_resnet(20), cifar_resnet(20, attn="se")
    blocks = se.se_blocks()
    assert len(blocks) == 9 and plain.se_blocks() == {}
    assert all(isinstance(b, SEBlock) for b in blocks.values())
    assert next(iter(blocks)) == "layer1.0.se"
    # each block adds 2 C^2 / r weights (at least one hidden unit) and C biases
    extra = sum(2 * b.channels * b.hidden + b.channels for b in blocks.values())
    assert count_parameters(se) - count_parameters(plain) == extra


def test_se_sits_after_bn2_before_the_addition():
    torch.manual_seed(0)
    m = cifar_resnet(8, attn="se", width=16).eval()
    block = m.layer2[0]
    seen = {}
    block.bn2.register_forward_hook(lambda mod, i, o: seen.__setitem__("bn2", o.clone()))
    block.se.register_forward_hook(lambda mod, i, o: seen.__setitem__("se_in", i[0].clone()))
    block.se.gate.register_forward_hook(lambda mod, i, o: seen.__setitem__("gates", o.clone()))
    x = torch.randn(2, 16, 32, 32)
    out = block(x)
    assert torch.equal(seen["bn2"], seen["se_in"])
    expected = torch.relu(seen["bn2"] * seen["gates"][:, :, None, None] + block.shortcut(x))
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("depth", [7, 21, 2, "20", True])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match="depth"):
        cifar_resnet(depth)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="channels"):
        cifar_resnet(8, width=4)(torch.randn(1, 1, 32, 32))


# --- the ablation knobs -------------------------------------------------------------------------

def _record(block, x):
    """Input of the block's SE module and the block's output."""
    seen = {}
    h = block.se.register_forward_pre_hook(lambda m, i: seen.__setitem__("se_in", i[0].clone()))
    out = block(x)
    h.remove()
    return seen["se_in"], out


def test_positions_put_se_where_the_paper_says():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    for position in ("pre", "post", "identity"):
        m = cifar_resnet(8, attn="se", width=16, position=position).eval()
        block = m.layer2[0]  # 16 -> 32 channels, stride 2, 1x1 shortcut
        se_in, out = _record(block, x)
        with torch.no_grad():
            if position == "pre":   # SE on the branch's input (16 channels), shortcut sees x
                assert torch.equal(se_in, x)
                branch = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(block.se(x))))))
                expected = torch.relu(branch + block.shortcut(x))
            elif position == "post":  # SE after the addition and ReLU
                branch = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
                expected = block.se(torch.relu(branch + block.shortcut(x)))
            else:  # identity: SE on the shortcut
                assert torch.allclose(se_in, block.shortcut(x))
                branch = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
                expected = torch.relu(branch + block.se(block.shortcut(x)))
        assert torch.allclose(out, expected, atol=1e-6), position
        assert block.se.channels == (16 if position == "pre" else 32)


def test_stages_pool_gate_and_no_squeeze_reach_the_blocks():
    from senet_lib.block import NoSqueezeSE

    m = cifar_resnet(14, attn="se", attn_options={"pool": "max", "gate": "tanh"}, stages=(2,))
    names = list(m.se_blocks())
    assert names == ["layer2.0.se", "layer2.1.se"]
    assert all(b.squeeze.pool == "max" and b.gate_name == "tanh" for b in m.se_blocks().values())
    ns = cifar_resnet(8, attn="no_squeeze")
    assert all(isinstance(b, NoSqueezeSE) for b in ns.se_blocks().values()) and len(ns.se_blocks()) == 3
    assert ns(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # r only changes the width of the bottlenecks: r = 2 at width 16 gives 8, 16, 32 hidden units
    assert [b.hidden for b in cifar_resnet(8, attn="se", attn_options={"reduction": 2}).se_blocks().values()] == [8, 16, 32]


@pytest.mark.parametrize("kwargs,match", [
    (dict(stages=(4,)), "stages"), (dict(stages=()), "stages"), (dict(stages="12"), "stages"),
    (dict(position="3x3"), "position"), (dict(attn_options={"pool": "median"}), "pool"),
    (dict(attn_options={"gate": "swish"}), "gate"), (dict(attn_options={"squeeze": False}), "squeeze"),
    (dict(attn="sknet"), "attn must be one of"),
])
def test_bad_knobs_fail_clearly(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cifar_resnet(8, **{"attn": "se", **kwargs})
