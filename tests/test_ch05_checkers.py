"""Chapter 5 checkers: the right answer passes, plausible wrong answers get their hint."""

from __future__ import annotations

import re

import pytest
from checking import fails_with as _fails_with

from senet_lib import SEBlock
from senet_lib.block import hidden_width
from senet_lib.cost import analytic_se_flops
from senet_lib.exercises import check_se_basic_block, check_se_flops, check_se_params_by_stage
from senet_lib.networks import se_resnet50

# ------------------------------------------------------------------ SE parameters per stage


def _by_stage(model, *, weights_only=False, whole_stage=False, key=int):
    counts = {}
    for name, m in model.named_modules():
        stage = re.match(r"layer(\d)\.\d+$", name)
        if stage is None:
            continue
        k = key(stage.group(1))
        if whole_stage:
            params = list(m.parameters())
        elif hasattr(m, "se"):
            params = [p for n, p in m.se.named_parameters() if not weights_only or n.endswith("weight")]
        else:
            continue
        counts[k] = counts.get(k, 0) + sum(p.numel() for p in params)
    return counts


def test_params_by_stage_passes():
    assert check_se_params_by_stage(_by_stage).passed

    def by_isinstance(model):  # a second correct answer, walking SEBlock modules
        out = {}
        for name, m in model.named_modules():
            if isinstance(m, SEBlock):
                k = int(name.split(".")[0].removeprefix("layer"))
                out[k] = out.get(k, 0) + sum(p.numel() for p in m.parameters())
        return {k: out.get(k, 0) for k in (1, 2, 3, 4)}  # zeros for stages without SE are fine

    assert check_se_params_by_stage(by_isinstance).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda m: _by_stage(m, weights_only=True), "weights only"),
    (lambda m: _by_stage(m, whole_stage=True), "every parameter of the stage"),
    (lambda m: _by_stage(m, key=lambda s: f"layer{s}"), "stage numbers"),
    (lambda m: {1: sum(_by_stage(m).values())}, "returned the total"),
    (lambda m: sum(_by_stage(m).values()), "return a dict"),
])
def test_params_by_stage_hints(wrong, text):
    _fails_with(check_se_params_by_stage(wrong), text)


def test_params_by_stage_stub_is_pending():
    def stub(model):
        raise NotImplementedError("Exercise")

    result = check_se_params_by_stage(stub)
    assert not result.passed and result.pending


# ------------------------------------------------------------------ SE inside a BasicBlock


def _se_basic(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.relu(block.bn1(block.conv1(x)))
    out = block.bn2(block.conv2(out))
    return block.relu(se(out) + identity)


def test_basic_block_passes():
    assert check_se_basic_block(_se_basic).passed

    def with_library(block, se, x):  # the library's SEBasicBlock computes the same
        from senet_lib.networks import SEBasicBlock

        return SEBasicBlock(block, se, "standard")(x)

    assert check_se_basic_block(with_library).passed


def _post(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return se(block.relu(out + identity))


def _on_identity(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(out + se(identity))


def _no_final_relu(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    return se(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))) + identity


def _plain(block, se, x):
    return block(x)


def _before_bn2(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(se(block.conv2(block.relu(block.bn1(block.conv1(x))))))
    return block.relu(out + identity)


def _no_downsample(block, se, x):
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(se(out) + x)


@pytest.mark.parametrize("wrong,text", [
    (_post, "after the addition"),
    (_on_identity, "identity branch"),
    (_no_final_relu, "final ReLU"),
    (_plain, "plain BasicBlock"),
    (_before_bn2, "between conv2 and bn2"),
    (_no_downsample, "block.downsample(x)"),
])
def test_basic_block_hints(wrong, text):
    _fails_with(check_se_basic_block(wrong), text)


# ------------------------------------------------------------------ operations of one SE block


def _flops(c, h, w, r):
    return {"pool": c * h * w, "fc": 2 * c * hidden_width(c, r), "scale": c * h * w}


def test_flops_passes():
    assert check_se_flops(_flops).passed


def test_flops_reference_matches_library():
    """What the checker wants per block, summed over SE-ResNet-50, is analytic_se_flops."""
    per_stage = analytic_se_flops(se_resnet50(), (1, 3, 224, 224))
    shapes = {1: (3, 256, 56), 2: (4, 512, 28), 3: (6, 1024, 14), 4: (3, 2048, 7)}
    for stage, (n, c, s) in shapes.items():
        one = _flops(c, s, s, 16)
        assert per_stage[stage] == {k: n * v for k, v in one.items()}


@pytest.mark.parametrize("wrong,text", [
    (lambda c, h, w, r: {**_flops(c, h, w, r), "fc": 4 * c * hidden_width(c, r)}, "two operations (FLOPs)"),
    (lambda c, h, w, r: {**_flops(c, h, w, r), "fc": c * hidden_width(c, r)}, "one FC layer"),
    (lambda c, h, w, r: {**_flops(c, h, w, r), "fc": 2 * c * c}, "not C."),
    (lambda c, h, w, r: {**_flops(c, h, w, r), "fc": 2 * c * (c // r)}, "keeps one hidden unit"),
    (lambda c, h, w, r: {**_flops(c, h, w, r), "fc": 2 * c * hidden_width(c, r) + c}, "biases"),
    (lambda c, h, w, r: {**_flops(c, h, w, r), "pool": c}, "reads every element"),
    (lambda c, h, w, r: {**_flops(c, h, w, r), "scale": c}, "every element by its gate"),
    (lambda c, h, w, r: {"pool": c * h * w, "fc": 2 * c * hidden_width(c, r)}, "'scale'"),
    (lambda c, h, w, r: sum(_flops(c, h, w, r).values()), "return a dict"),
])
def test_flops_hints(wrong, text):
    _fails_with(check_se_flops(wrong), text)


def test_strict_mode_raises(monkeypatch):
    from senet_lib.exercises import ExerciseCheckError

    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ExerciseCheckError):
        check_se_flops(lambda c, h, w, r: {"pool": 0, "fc": 0, "scale": 0})
    # a stub is pending, not failed, even in strict mode
    assert check_se_flops(lambda c, h, w, r: (_ for _ in ()).throw(NotImplementedError())).pending
