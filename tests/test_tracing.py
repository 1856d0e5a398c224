"""The library's blocks and networks under PyTorch's tracing tools (issue 24).

* ``torch.fx.symbolic_trace``: every block and every network holding one traces, and the traced
  module computes what the eager one does; the input check is a leaf of the graph
  (``_checks.feature_map`` is wrapped with ``torch.fx.wrap``), so the traced module refuses bad
  input with eager's own errors.
* torchvision's ``create_feature_extractor`` / ``get_graph_node_names``: gates and block outputs by
  node name (``layer1.0.se.gate``), the same tensors a forward hook sees in eager mode.
* ``torch.export.export`` and ``torch.compile`` on every block kind (one compile test: it is slow
  on a CPU); ``torch.jit.script`` (deprecated, but cheap to support here) on every block and the
  networks, saved and loaded back. Scripted modules skip the Python input checks (TorchScript
  cannot compile them); the last test shows what a scripted SE block says instead.
"""

from __future__ import annotations

import io

import pytest
import torch
import torchvision
from torch import fx, nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from senet_lib.block import ChannelScale, NoSqueezeSE, SEBlock
from senet_lib.cifar_resnet import POSITIONS as CIFAR_POSITIONS
from senet_lib.cifar_resnet import cifar_resnet
from senet_lib.networks import POSITIONS as RESNET_POSITIONS
from senet_lib.networks import add_attention, add_se
from senet_lib.registry import ATTENTION, make_attention
from senet_lib.successors import CBAMBlock, ChannelAttention, ECABlock, GatherExcite, SpatialAttention

JIT_DEPRECATED = pytest.mark.filterwarnings("ignore:.*torch.jit.*deprecated:FutureWarning")

C, H, W = 16, 8, 8

#: Every block the library has, with its variants: (id, builder, the sub-modules whose output are
#: its gates). The parts of CBAM come last; they have no input check of their own.
BLOCKS = [
    ("se", lambda: SEBlock(C, 4), ["gate"]),
    ("se_max_tanh", lambda: SEBlock(C, 4, pool="max", gate="tanh"), ["gate"]),
    ("se_avgmax_hard_sigmoid", lambda: SEBlock(C, 4, pool="avgmax", gate="hard_sigmoid", bias1=True), ["gate"]),
    ("se_std_relu", lambda: SEBlock(C, 4, pool="std", gate="relu"), ["gate"]),
    ("no_squeeze", lambda: NoSqueezeSE(C, 4), ["gate"]),
    ("scale", lambda: ChannelScale(C, init=0.3), ["gate"]),
    ("constant", lambda: make_attention("constant", C, value=0.3), []),
    ("eca", lambda: ECABlock(C), ["gate"]),
    ("eca_k5", lambda: ECABlock(C, 5), ["gate"]),
    ("cbam", lambda: CBAMBlock(C, 4), ["channel.gate", "spatial.gate"]),
    ("cbam_bias_k3", lambda: CBAMBlock(C, 4, spatial_kernel=3, bias=True), ["channel.gate", "spatial.gate"]),
    ("ge", lambda: GatherExcite(C, 4), ["gate"]),
    ("ge_global", lambda: GatherExcite(C, 0), ["gate"]),
    ("ge_mlp", lambda: GatherExcite(C, 2, mlp=True, reduction=4), ["gate"]),
    ("ge_learned", lambda: GatherExcite(C, 4, learned=True), ["gate"]),
    ("ge_learned_global", lambda: GatherExcite(C, 0, learned=True, feature_size=(H, W)), ["gate"]),
    ("ge_learned_mlp", lambda: GatherExcite(C, 2, learned=True, mlp=True, reduction=4), ["gate"]),
    ("cbam_channel_part", lambda: ChannelAttention(C, 4), ["gate"]),
    ("cbam_spatial_part", lambda: SpatialAttention(), ["gate"]),
]
CHECKED = [b for b in BLOCKS if not b[0].endswith("_part")]
ids = [b[0] for b in BLOCKS]


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` in eval mode with every parameter and batch-norm statistic moved off its initial
    value (a constant gate or BN at its defaults would make a wrong graph look right)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval()


def x_for(channels: int = C, size: tuple[int, int] = (H, W), n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, channels, *size, generator=torch.Generator().manual_seed(seed))


def hooked(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """What forward hooks on the sub-modules ``names`` see in one eager forward pass."""
    seen: dict[str, torch.Tensor] = {}
    handles = [model.get_submodule(n).register_forward_hook(
        lambda _m, _i, out, n=n: seen.__setitem__(n, out.detach().clone())) for n in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def same(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


# ---- torch.fx on every block -------------------------------------------------------------------

@pytest.mark.parametrize("name,build,gates", BLOCKS, ids=ids)
def test_every_block_traces_with_fx_and_computes_what_eager_does(name, build, gates):
    block = randomised(build())
    traced = fx.symbolic_trace(block)
    assert isinstance(traced, fx.GraphModule)
    x = x_for()
    with torch.no_grad():
        same(traced(x), block(x))
        same(traced(2 * x + 1), block(2 * x + 1))  # not one input baked in as a constant


@pytest.mark.parametrize("name,build,gates", BLOCKS, ids=ids)
def test_feature_extractor_returns_the_gates_a_hook_sees(name, build, gates):
    block = randomised(build())
    train_names, eval_names = get_graph_node_names(block)
    assert set(gates) <= set(eval_names) and set(gates) <= set(train_names)
    last = eval_names[-1]  # the last node, the multiplication that makes the block's output
    assert last.endswith("mul")
    x = x_for()
    extractor = create_feature_extractor(block, return_nodes=gates + [last])
    with torch.no_grad():
        out = extractor(x)
        same(out[last], block(x))
    for g, seen in hooked(block, gates, x).items():
        same(out[g], seen)
    if hasattr(block, "gates") and gates:  # and the block's own gates(x) agrees with its graph
        with torch.no_grad():
            own = block.gates(x)
        own = own if isinstance(own, tuple) else (own,)
        for g, o in zip(gates, own, strict=True):
            same(out[g].expand_as(o), o)


# ---- the checks: the same clear errors in eager mode and in the traced module ---------------------

BAD_INPUTS = [
    ("wrong channels", lambda: torch.randn(2, 8, H, W), ValueError,
     "x has 8 channels (shape (2, 8, 8, 8)), but this block was built for channels=16"),
    ("3-D", lambda: torch.randn(C, H, W), ValueError, "x must be 4-D (N, C, H, W), got shape (16, 8, 8) (3-D)"),
    ("5-D", lambda: torch.randn(1, 2, C, H, W), ValueError, "x must be 4-D (N, C, H, W), got shape (1, 2, 16, 8, 8) (5-D)"),
    ("integer", lambda: torch.ones(2, C, H, W, dtype=torch.long), TypeError,
     "x must be a floating-point tensor (e.g. torch.float32), got dtype torch.int64"),
    ("empty map", lambda: torch.randn(2, C, 0, W), ValueError,
     "x must have a non-empty spatial size, got H x W = 0 x 8"),
    ("not a tensor", lambda: [[1.0, 2.0]], TypeError, "x must be a torch.Tensor of shape (N, C, H, W), got list"),
    ("a NumPy array", lambda: torch.randn(2, C, H, W).numpy(), TypeError,
     "x must be a torch.Tensor of shape (N, C, H, W), got ndarray"),
]


@pytest.mark.parametrize("name,build,gates", CHECKED, ids=[b[0] for b in CHECKED])
def test_eager_and_traced_blocks_refuse_bad_input_with_the_same_message(name, build, gates):
    block = randomised(build())
    traced = fx.symbolic_trace(block)
    for what, make_bad, error, message in BAD_INPUTS:
        for module in (block, traced):
            with pytest.raises(error) as info:
                module(make_bad())
            assert str(info.value) == message, (what, module.__class__.__name__)


def test_the_traced_graph_holds_one_check_node_per_block_and_no_python_branch():
    traced = fx.symbolic_trace(cifar_resnet(8, width=8, attn="se"))
    checks = [n for n in traced.graph.nodes if n.op == "call_function" and n.target.__name__ == "feature_map"]
    # the network's own input check, then one per SE block (3 units), each on its block's input
    assert [n.args[2] for n in checks] == [3, 8, 16, 32]
    assert "feature_map" in traced.code


# ---- torch.fx and feature extraction on networks ------------------------------------------------

@pytest.mark.parametrize("position", CIFAR_POSITIONS)
@pytest.mark.parametrize("kind", sorted(ATTENTION))
def test_cifar_resnet_with_every_block_and_position_traces(kind, position):
    torch.manual_seed(0)
    model = randomised(cifar_resnet(8, width=8, attn=kind, position=position))
    x = x_for(3, (32, 32), n=2)
    traced = fx.symbolic_trace(model)
    with torch.no_grad():
        same(traced(x), model(x))
    with pytest.raises(ValueError, match="x has 4 channels") as eager:
        model(x_for(4, (32, 32)))
    with pytest.raises(ValueError) as from_graph:
        traced(x_for(4, (32, 32)))
    assert str(from_graph.value) == str(eager.value)


@pytest.mark.parametrize("kind", ["se", "eca", "ge", "ge_learned", "no_squeeze", "scale"])
def test_cifar_resnet_gates_by_node_name(kind):
    torch.manual_seed(0)
    model = randomised(cifar_resnet(8, width=8, attn=kind))
    units = [f"layer{s}.0.se" for s in (1, 2, 3)]
    _, names = get_graph_node_names(model)
    assert all(f"{u}.gate" in names for u in units)
    x = x_for(3, (32, 32), n=2)
    extractor = create_feature_extractor(model, return_nodes={f"{u}.gate": u for u in units} | {"layer2.0.se": "out"})
    with torch.no_grad():
        out = extractor(x)
    seen = hooked(model, [f"{u}.gate" for u in units] + ["layer2.0.se"], x)
    for u in units:
        same(out[u], seen[f"{u}.gate"])
    same(out["out"], seen["layer2.0.se"])  # a module's name gives its output


def test_the_extractor_keeps_only_what_its_outputs_need():
    # the check nodes are not kept for their own sake: asking for layer1's gates computes no later layer
    model = randomised(cifar_resnet(8, width=8, attn="se"))
    extractor = create_feature_extractor(model, return_nodes=["layer1.0.se.gate"])
    targets = {str(n.target) for n in extractor.graph.nodes}
    assert any(t.startswith("layer1.0.se") for t in targets)
    assert not any(t.startswith(("layer2", "layer3", "fc")) for t in targets)


def small_resnet(bottleneck: bool) -> torchvision.models.ResNet:
    unit = torchvision.models.resnet.Bottleneck if bottleneck else torchvision.models.resnet.BasicBlock
    return torchvision.models.ResNet(unit, [1, 1, 1, 1], num_classes=5, width_per_group=64)


@pytest.mark.parametrize("position", RESNET_POSITIONS)
def test_add_se_resnet_at_every_position_traces_and_gives_its_gates(position):
    torch.manual_seed(0)
    model = randomised(add_se(small_resnet(bottleneck=position == "3x3"), position=position))
    x = x_for(3, (64, 64), n=2)
    traced = fx.symbolic_trace(model)
    with torch.no_grad():
        same(traced(x), model(x))
    nodes = [f"layer{s}.0.se.gate" for s in (1, 2, 3, 4)]
    train_names, eval_names = get_graph_node_names(model)
    assert set(nodes) <= set(eval_names) and set(nodes) <= set(train_names)
    extractor = create_feature_extractor(model, return_nodes=nodes)
    with torch.no_grad():
        out = extractor(x)
    for n, seen in hooked(model, nodes, x).items():
        assert seen.shape[0] == 2 and seen.dim() == 2
        same(out[n], seen)


@pytest.mark.parametrize("kind", sorted(set(ATTENTION) - {"none"}))
def test_add_attention_resnet_with_every_block_traces(kind):
    torch.manual_seed(0)
    model = randomised(add_attention(small_resnet(bottleneck=False), kind))
    x = x_for(3, (64, 64), n=2)
    traced = fx.symbolic_trace(model)
    with torch.no_grad():
        same(traced(x), model(x))
    extractor = create_feature_extractor(model, return_nodes=["layer3.0.se", "layer4.0.se"])
    with torch.no_grad():
        out = extractor(x)
    seen = hooked(model, ["layer3.0.se", "layer4.0.se"], x)
    same(out["layer3.0.se"], seen["layer3.0.se"])
    same(out["layer4.0.se"], seen["layer4.0.se"])


@pytest.mark.parametrize("kind", ["se", "cbam"])
def test_add_attention_vgg_traces_and_gives_its_gates(kind):
    torch.manual_seed(0)
    model = randomised(add_attention(torchvision.models.vgg11(num_classes=5), kind))
    x = x_for(3, (32, 32), n=2)
    traced = fx.symbolic_trace(model)
    with torch.no_grad():
        same(traced(x), model(x))
    gate = "features.2.se.gate" if kind == "se" else "features.2.se.spatial.gate"
    _, names = get_graph_node_names(model)
    assert gate in names
    extractor = create_feature_extractor(model, return_nodes=[gate])
    with torch.no_grad():
        same(extractor(x)[gate], hooked(model, [gate], x)[gate])


# ---- torch.export and torch.compile -------------------------------------------------------------

@pytest.mark.parametrize("name,build,gates", BLOCKS, ids=ids)
def test_every_block_exports(name, build, gates):
    block = randomised(build())
    x = x_for()
    with torch.no_grad():
        exported = torch.export.export(block, (x,))
        same(exported.module()(x), block(x))
        same(exported.module()(x + 1), block(x + 1))


def test_a_cifar_resnet_with_cbam_exports():
    model = randomised(cifar_resnet(8, width=8, attn="cbam"))
    x = x_for(3, (32, 32), n=2)
    with torch.no_grad():
        exported = torch.export.export(model, (x,))
        same(exported.module()(x), model(x))


def test_cbam_compiles_in_one_graph():
    # fullgraph=True: the Python checks of both CBAM stages cause no graph break
    block = randomised(CBAMBlock(C, 4))
    compiled = torch.compile(block, fullgraph=True)
    x = x_for()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), block(x), atol=1e-5, rtol=1e-5)


# ---- torch.jit.script (deprecated in PyTorch; supported because it is cheap here) ----------------

def script_and_reload(model: nn.Module) -> tuple[torch.jit.ScriptModule, torch.jit.ScriptModule]:
    scripted = torch.jit.script(model)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    return scripted, torch.jit.load(buffer)


@JIT_DEPRECATED
@pytest.mark.parametrize("name,build,gates", BLOCKS, ids=ids)
def test_every_block_scripts_saves_and_loads(name, build, gates):
    block = randomised(build())
    scripted, loaded = script_and_reload(block)
    x = x_for()
    with torch.no_grad():
        same(scripted(x), block(x))
        same(loaded(x), block(x))


@JIT_DEPRECATED
@pytest.mark.parametrize("build", [
    lambda: cifar_resnet(8, width=8, attn="se", position="pre"),
    lambda: cifar_resnet(8, width=8, attn="ge_learned"),
    lambda: add_se(small_resnet(bottleneck=True), position="3x3"),
    lambda: add_attention(small_resnet(bottleneck=False), "cbam", position="identity"),
], ids=["cifar_se_pre", "cifar_ge_learned", "resnet_se_3x3", "resnet_cbam_identity"])
def test_networks_script(build):
    torch.manual_seed(0)
    model = randomised(build())
    x = x_for(3, (32, 32), n=2)
    scripted, loaded = script_and_reload(model)
    with torch.no_grad():
        same(scripted(x), model(x))
        same(loaded(x), model(x))


@JIT_DEPRECATED
def test_a_scripted_block_has_no_input_check_of_its_own():
    # TorchScript cannot compile the checks, so a scripted SE block fails in its first layer, with
    # PyTorch's message about matrix shapes instead of the eager block's
    block = SEBlock(C, 4).eval()
    with pytest.raises(ValueError, match="built for channels=16"):
        block(torch.randn(2, 8, H, W))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        torch.jit.script(block)(torch.randn(2, 8, H, W))
