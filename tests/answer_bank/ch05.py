"""Chapter 5's answers: SE parameters per stage, SE inside a BasicBlock, the operations of one block."""

from __future__ import annotations

import re

import numpy as np
import torch

from senet_lib import SEBlock

from . import correct, malformed, raises, wrong


def by_stage(model):
    counts = {}
    for name, module in model.named_modules():
        if isinstance(module, SEBlock):
            stage = int(name.split(".")[0].removeprefix("layer"))
            counts[stage] = counts.get(stage, 0) + sum(p.numel() for p in module.parameters())
    return counts


def by_stage_parameters(model):
    """Walk the stages and their parameters whose names contain 'se.'; NumPy totals, zeros kept."""
    out = {}
    for k in range(1, 5):
        layer = getattr(model, f"layer{k}")
        out[k] = np.sum([p.numel() for n, p in layer.named_parameters() if re.search(r"(^|\.)se\.", n)])
    return out


def by_stage_tensors(model):
    return {k: torch.tensor(v) for k, v in by_stage(model).items()}


def by_stage_zero_based(model):
    return {k - 1: v for k, v in by_stage(model).items()}


def by_stage_twice(model):
    counts = {}
    for name, module in model.named_modules():
        if ".se" in name:                             # the SE block, then its fc1 and fc2 again
            stage = int(name.split(".")[0].removeprefix("layer"))
            counts[stage] = counts.get(stage, 0) + sum(p.numel() for p in module.parameters())
    return counts


def by_stage_weights(model):
    counts = {}
    for name, module in model.named_modules():
        if isinstance(module, SEBlock):
            stage = int(name.split(".")[0].removeprefix("layer"))
            counts[stage] = counts.get(stage, 0) + module.fc1.weight.numel() + module.fc2.weight.numel()
    return counts


def by_stage_whole(model):
    return {k: sum(p.numel() for p in getattr(model, f"layer{k}").parameters()) for k in range(1, 5)}


def by_stage_first_block(model):
    counts = {}
    for k in range(1, 5):
        for m in getattr(model, f"layer{k}")[0].modules():
            if isinstance(m, SEBlock):
                counts[k] = sum(p.numel() for p in m.parameters())
    return counts


def basic(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(se(out) + identity)


def basic_functional(block, se, x):
    out = torch.relu(block.bn1(block.conv1(x)))
    out = block.bn2(block.conv2(out))
    gates = se.gates(out)
    shortcut = block.downsample(x) if block.downsample is not None else x
    return torch.relu(out * gates[:, :, None, None] + shortcut)


def basic_hooked(block, se, x):
    """Run the block itself with a forward hook on bn2 that applies SE (the hook replaces bn2's output)."""
    handle = block.bn2.register_forward_hook(lambda module, inputs, output: se(output))
    try:
        return block(x)
    finally:
        handle.remove()


def basic_post(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return se(block.relu(out + identity))


def basic_identity(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(out + se(identity))


def basic_no_relu(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    return se(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))) + identity


def basic_before_bn2(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = se(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(block.bn2(out) + identity)


def basic_no_downsample(block, se, x):
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(se(out) + x)


def basic_always_downsample(block, se, x):
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    return block.relu(se(out) + block.downsample(x))


def basic_pre(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(se(x))))))
    return block.relu(out + identity)


def basic_relu_before_se(block, se, x):
    identity = x if block.downsample is None else block.downsample(x)
    out = block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))
    return block.relu(se(out) + identity)


def ops(c, h, w, r):
    hidden = max(1, c // r)
    return {"pool": c * h * w, "fc": 2 * c * hidden, "scale": c * h * w}


BANK = {
    "check_se_params_by_stage": [
        correct("SEBlock modules by name (the solution)", by_stage),
        correct("parameter names per stage, NumPy sums, zeros kept", by_stage_parameters),
        correct("0-d tensors as counts", by_stage_tensors),
        wrong("stages from 0", by_stage_zero_based, "start at 0"),
        wrong("SE and its fc layers counted", by_stage_twice, "twice"),
        wrong("weights only", by_stage_weights, "weights only"),
        wrong("whole stages", by_stage_whole, "every parameter of the stage"),
        wrong("one block per stage", by_stage_first_block, "one SE block per stage"),
        wrong("the total", lambda m: {1: sum(by_stage(m).values())}, "returned the total"),
        wrong("names as keys", lambda m: {f"layer{k}": v for k, v in by_stage(m).items()}, "stage numbers"),
        malformed("None", lambda m: None, "forget the return"),
        malformed("str", lambda m: str(by_stage(m)), "return a dict"),
        malformed("list", lambda m: list(by_stage(m).values()), "return a dict"),
        malformed("NaN", lambda m: {k: float("nan") for k in by_stage(m)}, "NaN"),
        malformed("dtype", lambda m: {k: v + 0.5 for k, v in by_stage(m).items()}, "whole number"),
        malformed("shape", lambda m: {k: torch.tensor([v, 0]) for k, v in by_stage(m).items()}, "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_se_basic_block": [
        correct("the block's layers in order (the solution)", basic),
        correct("se.gates and the scale written out", basic_functional),
        correct("a forward hook on bn2 that applies SE", basic_hooked),
        correct("float64 inside, cast back", lambda block, se, x: basic(block.double(), se.double(), x.double()).float()),
        wrong("SE after the addition", basic_post, "SE-POST"),
        wrong("SE on the identity", basic_identity, "identity branch"),
        wrong("no final ReLU", basic_no_relu, "final ReLU"),
        wrong("SE before bn2", basic_before_bn2, "between conv2 and bn2"),
        wrong("the downsample ignored", basic_no_downsample, "block.downsample(x)"),
        wrong("the downsample always called", basic_always_downsample, "block.downsample is None"),
        wrong("SE on the input", basic_pre, "SE-PRE"),
        wrong("ReLU before SE", basic_relu_before_se, "ReLU between bn2 and SE"),
        wrong("no SE", lambda block, se, x: block(x), "plain BasicBlock"),
        wrong("no shortcut", lambda block, se, x: torch.relu(se(block.bn2(block.conv2(block.relu(block.bn1(
            block.conv1(x)))))) ), "shortcut is missing"),
        malformed("None", lambda block, se, x: None, "forget the return"),
        malformed("str", lambda block, se, x: "relu(se(out) + identity)", "should be a torch.Tensor"),
        malformed("list", lambda block, se, x: basic(block, se, x).tolist(), "Python list"),
        malformed("NaN", lambda block, se, x: basic(block, se, x) * float("nan"), "NaN"),
        malformed("dtype", lambda block, se, x: basic(block.double(), se.double(), x.double()), "torch.float64"),
        malformed("shape", lambda block, se, x: basic(block, se, x)[0], "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_se_flops": [
        correct("a dict of ints (the solution)", ops),
        correct("NumPy values", lambda c, h, w, r: {k: np.int64(v) for k, v in ops(c, h, w, r).items()}),
        correct("whole floats and a 0-d tensor, extra keys", lambda c, h, w, r: {
            "pool": float(c * h * w), "fc": torch.tensor(2 * c * max(1, c // r)), "scale": c * h * w * 1.0,
            "total": sum(ops(c, h, w, r).values())}),
        wrong("pool counted per channel", lambda c, h, w, r: {**ops(c, h, w, r), "pool": c}, "not one per channel"),
        wrong("pool as H*W - 1 additions", lambda c, h, w, r: {**ops(c, h, w, r), "pool": c * (h * w - 1)},
              "one addition per element"),
        wrong("scale per channel", lambda c, h, w, r: {**ops(c, h, w, r), "scale": c}, "C*H*W products"),
        wrong("FLOPs, 2 per multiply-add", lambda c, h, w, r: {**ops(c, h, w, r), "fc": 4 * c * max(1, c // r)},
              "multiply-add as two"),
        wrong("one FC layer", lambda c, h, w, r: {**ops(c, h, w, r), "fc": c * max(1, c // r)}, "one FC layer"),
        wrong("biases counted", lambda c, h, w, r: {**ops(c, h, w, r), "fc": 2 * c * max(1, c // r) + c},
              "leave the biases out"),
        wrong("FC at every position", lambda c, h, w, r: {**ops(c, h, w, r), "fc": 2 * c * max(1, c // r) * h * w},
              "pooled (C,) vector once"),
        wrong("C // r = 0", lambda c, h, w, r: {**ops(c, h, w, r), "fc": 2 * c * (c // r)}, "keeps one hidden unit"),
        wrong("C / r", lambda c, h, w, r: {**ops(c, h, w, r), "fc": 2 * c * c / r}, "C / r"),
        wrong("ceil", lambda c, h, w, r: {**ops(c, h, w, r), "fc": 2 * c * max(1, -(-c // r))}, "rounded C / r up"),
        malformed("None", lambda c, h, w, r: None, "forget the return"),
        malformed("str", lambda c, h, w, r: {k: str(v) for k, v in ops(c, h, w, r).items()}, "not text"),
        malformed("list", lambda c, h, w, r: list(ops(c, h, w, r).values()), "return a dict"),
        malformed("NaN", lambda c, h, w, r: {**ops(c, h, w, r), "fc": float("nan")}, "NaN"),
        malformed("dtype", lambda c, h, w, r: {**ops(c, h, w, r), "pool": True}, "bool"),
        malformed("shape", lambda c, h, w, r: {**ops(c, h, w, r), "scale": torch.ones(c, h, w)}, "one number"),
        malformed("raises", raises, "ValueError"),
        malformed("list", lambda c, h, w, r: {"pool": c * h * w, "fc": 2 * c}, "no key(s) ['scale']"),
    ],
}
