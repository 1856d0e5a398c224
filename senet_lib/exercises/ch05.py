"""Checkers for chapter 5, SE inside networks."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock

from ..block import SEBlock, hidden_width
from ..cost import count_se_params, stage_of
from ..networks import add_se
from ._core import (
    Hint,
    _LearnerRaised,
    as_count,
    as_number,
    call,
    checker,
    close,
    describe,
    expect_close,
    expect_dtype,
    expect_shape,
    same_number,
)

__all__ = ["check_se_params_by_stage", "check_se_basic_block", "check_se_flops"]


def _build_se_resnets() -> list[tuple[str, nn.Module]]:
    """The hidden SE-ResNets, on the meta device: structure and parameter shapes, no memory."""
    with torch.device("meta"):
        return [
            ("SE-ResNet-34", add_se(torchvision.models.resnet34())),
            ("ResNet-50 with SE in stages 2 and 4", add_se(torchvision.models.resnet50(), stages=(2, 4))),
            ("SE-ResNet-18, r = 8, SE-PRE", add_se(torchvision.models.resnet18(), 8, position="pre")),
            ("SE-ResNet-50, r = 32, biases in both FCs", add_se(torchvision.models.resnet50(), 32, bias1=True)),
        ]


def _fingerprint(model: nn.Module) -> tuple:
    return tuple((name, type(m).__name__, tuple((n, tuple(p.shape)) for n, p in m.named_parameters(recurse=False)))
                 for name, m in model.named_modules())


_MODELS: list[tuple[str, nn.Module, tuple]] = []


def _meta_se_resnets() -> list[tuple[str, nn.Module, tuple]]:
    """The hidden models, built once; a model the learner's function changed is rebuilt."""
    if not _MODELS or any(_fingerprint(m) != f for _, m, f in _MODELS):
        _MODELS[:] = [(what, m, _fingerprint(m)) for what, m in _build_se_resnets()]
    return list(_MODELS)


def _counts(got: Any, what: str) -> dict[int, int]:
    """The learner's ``{stage: count}`` with numbers as ints and zero counts left out, or a hint."""
    if isinstance(got, (list, tuple)):
        raise Hint(f"you returned {describe(got)}: return a dict {{stage: count}} keyed by the stage "
                   "numbers 1 to 4, e.g. {1: 1234, 2: ...}.")
    if not isinstance(got, Mapping):
        if got is None:
            raise Hint("your function returned None: did you forget the return statement? Return a "
                       "dict {stage: count}.")
        raise Hint(f"return a dict {{stage: count}}, not {describe(got)}.")
    if any(isinstance(k, str) for k in got):
        raise Hint(f"use the stage numbers 1 to 4 as keys (the k of layer{{k}}), not {list(got)}")
    out = {}
    for k, v in got.items():
        n = as_count(v, f"{what}, your count for stage {k!r},")
        if n:
            out[k] = n
    return out


@checker("SE parameters per stage")
def check_se_params_by_stage(fn: Callable[[nn.Module], dict]) -> str:
    """``fn(model)`` must return ``{stage: number of SE parameters in that stage}`` for a
    torchvision ResNet modified by ``add_se``; stage ``k`` is ``model.layer{k}``, and stages
    without SE blocks may be left out (or given 0). Counts may be ints, NumPy integers or
    one-element tensors. Hidden models: SE in every stage or only in some, SE-PRE, biases in
    both FC layers."""
    models = _meta_se_resnets()
    for what, model, _ in models:
        expected = count_se_params(model)
        got = _counts(call(fn, model), what)
        if got == expected:
            continue
        if {k + 1: v for k, v in got.items() if isinstance(k, numbers.Integral)} == expected:
            raise Hint(f"{what}: your stage numbers start at 0; stage k is model.layer{{k}}, so the "
                       "keys run from 1 to 4 (enumerate(..., start=1), or read k from the name).")
        if got == {k: 2 * v for k, v in expected.items()}:
            raise Hint(f"{what}: you counted every SE parameter twice: named_modules() lists the SE "
                       "block and also its fc1 and fc2; count the SEBlock modules only.")
        stage_params = {k: sum(p.numel() for p in getattr(model, f"layer{k}").parameters())
                        for k in (1, 2, 3, 4)}
        if got == stage_params or got == {k: stage_params[k] for k in expected}:
            raise Hint(f"{what}: you counted every parameter of the stage; count only the "
                       "parameters of its SEBlock modules.")
        weights: dict[int, int] = {}
        first: dict[int, int] = {}
        for name, se in model.named_modules():
            if isinstance(se, SEBlock):
                stage = stage_of(name, model)
                weights[stage] = weights.get(stage, 0) + se.fc1.weight.numel() + se.fc2.weight.numel()
                first.setdefault(stage, sum(p.numel() for p in se.parameters()))
        if got == weights:
            raise Hint(f"{what}: you counted the weights only; the biases of the FC layers are "
                       "parameters too.")
        if got == first:
            raise Hint(f"{what}: you counted one SE block per stage; every residual block of a stage "
                       "has its own SE block.")
        if len(got) == 1 and sum(got.values()) == sum(expected.values()):
            raise Hint(f"{what}: you returned the total; split it by stage (layer1 ... layer4).")
        raise Hint(f"{what}: you said {got}, but its SE blocks hold {expected}.")
    return f"right for {len(models)} hidden SE-ResNets (positions, stages and biases vary)."


def _random_basic_block(inplanes: int, planes: int, stride: int, g: torch.Generator) -> BasicBlock:
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                   nn.BatchNorm2d(planes))
    block = BasicBlock(inplanes, planes, stride, downsample)
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / (m.weight[0].numel() ** 0.5))
            if isinstance(m, nn.BatchNorm2d):
                assert m.running_mean is not None and m.running_var is not None  # track_running_stats
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return block.eval()


def _random_se(channels: int, g: torch.Generator) -> SEBlock:
    se = SEBlock(channels, 4)
    with torch.no_grad():
        for p in se.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return se.eval()


@checker("SE inside a BasicBlock")
def check_se_basic_block(fn: Callable[[BasicBlock, SEBlock, torch.Tensor], torch.Tensor]) -> str:
    """``fn(block, se, x)`` must compute a torchvision ``BasicBlock``'s forward pass with the
    SE block ``se`` in the standard position: on the residual branch after ``bn2``, before
    the addition of the identity (or ``block.downsample(x)``) and the final ReLU; shape
    ``(N, planes, H', W')`` and the dtype of ``x``. Hidden blocks: identity shortcuts and a
    stride-2 block with a downsample."""
    g = torch.Generator().manual_seed(5)
    # the block without downsample first: a misplaced SE still gives the right shape there
    for inplanes, planes, stride, size in [(16, 16, 1, 6), (8, 16, 2, 7), (32, 32, 1, 5)]:
        block = _random_basic_block(inplanes, planes, stride, g)
        se = _random_se(planes, g)
        x = torch.randn(2, inplanes, size, size, generator=g)
        with torch.no_grad():
            identity = x if block.downsample is None else block.downsample(x)
            conv = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
            expected = torch.relu(se(conv) + identity)
            try:
                out = call(fn, block, se, x)
            except _LearnerRaised as e:
                text = str(e.exc)
                if block.downsample is not None and "must match the size of tensor" in text:
                    raise Hint(f"for a block with stride {stride} and {inplanes} -> {planes} channels your "
                               f"function failed ({text}): the identity x no longer fits the branch; add "
                               "block.downsample(x) instead when block.downsample is not None.") from None
                if block.downsample is None and "'NoneType' object is not callable" in text:
                    raise Hint("block.downsample is None when the shortcut is the identity: add x itself "
                               "then (x if block.downsample is None else block.downsample(x)).") from None
                raise
            out_shape = (2, planes, (size - 1) // stride + 1, (size - 1) // stride + 1)
            out = expect_shape(out, out_shape, "your output")
            if close(out, expected):
                expect_dtype(out, x.dtype, "your output", "x")
                continue
            branch_in = block.relu(block.bn1(block.conv1(x)))
            wrong = [
                (se(torch.relu(conv + identity)),
                 "you applied SE after the addition (SE-POST); the standard position is on "
                 "the residual branch, before the addition."),
                (torch.relu(conv + se(identity)),
                 "you rescaled the identity branch; SE belongs on the residual branch."),
                (se(conv) + identity,
                 "the final ReLU after the addition is missing."),
                (torch.relu(conv + identity),
                 "your output is the plain BasicBlock's: the SE block is not applied."),
                (torch.relu(block.bn2(se(block.conv2(branch_in))) + identity),
                 "you applied SE between conv2 and bn2; it comes after bn2."),
                (torch.relu(se(torch.relu(conv)) + identity),
                 "you put a ReLU between bn2 and SE: the branch goes bn2 -> SE -> + identity -> ReLU."),
                (torch.relu(se(conv) + se(identity)),
                 "you rescaled both the branch and the identity: SE goes on the residual branch only."),
                (torch.relu(se(conv)),
                 "the shortcut is missing: add the identity (or block.downsample(x)) before the final ReLU."),
            ]
            if inplanes == planes:
                pre = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(se(x))))))
                wrong.append((torch.relu(pre + identity),
                              "you applied SE to the block's input (SE-PRE); the standard position is after bn2."))
            for reference, hint in wrong:
                if close(out, reference):
                    raise Hint(hint)
            expect_close(out, expected, "your output",
                         hint="Order: conv1, bn1, relu, conv2, bn2, SE, + identity "
                              "(downsampled if the block has a downsample), relu.")
    return "matches the SE-BasicBlock on 3 hidden blocks, with and without downsampling."


@checker("Operations of one SE block")
def check_se_flops(fn: Callable[[int, int, int, int], dict]) -> str:
    """``fn(channels, height, width, reduction)`` must return a dict with the operations of
    one SE block on one ``(C, H, W)`` feature map: ``"pool"`` (one addition per element),
    ``"fc"`` (one per multiply-add of both FC layers, biases left out) and ``"scale"`` (one
    multiplication per element). Hidden cases: stage-like maps, ``r`` not dividing ``C``,
    ``C < r``."""
    for c, h, w, r in [(256, 56, 56, 16), (2048, 7, 7, 16), (64, 32, 32, 8), (96, 5, 9, 4), (8, 4, 4, 16),
                       (100, 3, 3, 16)]:
        hid = hidden_width(c, r)
        expected = {"pool": c * h * w, "fc": 2 * c * hid, "scale": c * h * w}
        got = call(fn, c, h, w, r)
        case = f"for C={c}, H={h}, W={w}, r={r}"
        if got is None:
            raise Hint("your function returned None: did you forget the return statement? Return a "
                       "dict with keys 'pool', 'fc' and 'scale'.")
        if not isinstance(got, Mapping):
            raise Hint(f"return a dict with keys 'pool', 'fc' and 'scale', not {describe(got)}")
        missing = sorted(set(expected) - set(got))
        if missing:
            raise Hint(f"your dict has no key(s) {missing}; it needs 'pool', 'fc' and 'scale' "
                       f"(yours: {sorted(map(str, got))})")
        values = {k: as_number(got[k], f"your {k!r}") for k in expected}
        if values["pool"] != expected["pool"]:
            if values["pool"] == c:
                raise Hint(f"{case}: pooling reads every element of the map, C*H*W, not one per channel.")
            if values["pool"] == c * (h * w - 1):
                raise Hint(f"{case}: the exercise counts one addition per element, C*H*W (not H*W - 1 "
                           "per channel).")
            raise Hint(f"{case}: 'pool' is {values['pool']}, expected C*H*W = {expected['pool']}.")
        if values["scale"] != expected["scale"]:
            if values["scale"] == c:
                raise Hint(f"{case}: the scale multiplies every element by its gate, C*H*W products.")
            raise Hint(f"{case}: 'scale' is {values['scale']}, expected C*H*W = {expected['scale']}.")
        fc = values["fc"]
        if fc != expected["fc"]:
            if c % r and any(same_number(fc, 2 * c * v) for v in (c / r, max(1.0, c / r))):
                raise Hint(f"{case}: you used C / r = {c / r:g} hidden units; a layer has a whole number "
                           f"of units, max(1, C // r) = {hid}.")
            fc = as_count(fc, "your 'fc'")
            if fc == 2 * expected["fc"]:
                raise Hint(f"{case}: you counted a multiply-add as two operations (FLOPs); here it "
                           "counts as one, like torchinfo's mult-adds.")
            if fc == c * hid:
                raise Hint(f"{case}: you counted one FC layer; there are two, C -> C/r and C/r -> C.")
            if fc == 2 * c * c:
                raise Hint(f"{case}: the hidden layer has C // r units, not C.")
            if fc in (expected["fc"] + hid + c, expected["fc"] + c):
                raise Hint(f"{case}: leave the biases out of 'fc'; count only the multiply-adds.")
            if fc == expected["fc"] * h * w:
                raise Hint(f"{case}: the FC layers see the pooled (C,) vector once per map, not every "
                           "one of the H*W positions.")
            if c // r == 0 and fc == 0:
                raise Hint(f"{case}: C // r is 0, but the block keeps one hidden unit (max(1, C // r)).")
            if c % r and fc == 2 * c * -(-c // r):
                raise Hint(f"{case}: you rounded C / r up; the hidden width rounds down, max(1, C // r).")
            raise Hint(f"{case}: 'fc' is {fc}, expected {expected['fc']}.")
    return "right for 6 hidden (C, H, W, r), from early to late stages, including C < r."
