"""Checkers for chapter 5, SE inside networks."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Callable

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock

from ..block import SEBlock, hidden_width
from ..cost import count_se_params, stage_of
from ..networks import add_se
from ._core import Hint, call, checker, expect_close, expect_shape

__all__ = ["check_se_params_by_stage", "check_se_basic_block", "check_se_flops"]


def _as_number(got: Any, what: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Hint(f"{what} should be a number, but it is a {type(got).__name__}")
    return got


def _meta_se_resnets() -> list[tuple[str, nn.Module]]:
    """The hidden SE-ResNets, on the meta device: structure and parameter shapes, no memory."""
    with torch.device("meta"):
        return [
            ("SE-ResNet-34", add_se(torchvision.models.resnet34())),
            ("ResNet-50 with SE in stages 2 and 4", add_se(torchvision.models.resnet50(), stages=(2, 4))),
            ("SE-ResNet-18, r = 8, SE-PRE", add_se(torchvision.models.resnet18(), 8, position="pre")),
            ("SE-ResNet-101, r = 32, biases in both FCs",
             add_se(torchvision.models.resnet101(), 32, bias1=True)),
        ]


@checker("SE parameters per stage")
def check_se_params_by_stage(fn: Callable[[nn.Module], dict]) -> str:
    """``fn(model)`` must return ``{stage: number of SE parameters in that stage}`` for a
    torchvision ResNet modified by ``add_se``; stage ``k`` is ``model.layer{k}``, and stages
    without SE blocks may be left out (or given 0)."""
    models = _meta_se_resnets()
    for what, model in models:
        expected = count_se_params(model)
        got = call(fn, model)
        if not isinstance(got, Mapping):
            raise Hint(f"return a dict {{stage: count}}, not a {type(got).__name__}")
        if any(isinstance(k, str) for k in got):
            raise Hint(f"use the stage numbers 1 to 4 as keys (the k of layer{{k}}), not {list(got)}")
        got = {k: _as_number(v, f"your count for stage {k}") for k, v in got.items() if v != 0}
        if got == expected:
            continue
        stage_params = {k: sum(p.numel() for p in getattr(model, f"layer{k}").parameters())
                        for k in expected}
        if got == stage_params:
            raise Hint(f"{what}: you counted every parameter of the stage; count only the "
                       "parameters of its SEBlock modules.")
        weights = {}
        for name, se in model.named_modules():
            if isinstance(se, SEBlock):
                stage = stage_of(name, model)
                weights[stage] = weights.get(stage, 0) + se.fc1.weight.numel() + se.fc2.weight.numel()
        if got == weights:
            raise Hint(f"{what}: you counted the weights only; the biases of the FC layers are "
                       "parameters too.")
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
    the addition of the identity (or ``block.downsample(x)``) and the final ReLU."""
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
            out = call(fn, block, se, x)
            out_shape = (2, planes, (size - 1) // stride + 1, (size - 1) // stride + 1)
            out = expect_shape(out, out_shape, "your output")
            wrong = {
                "post": (se(torch.relu(conv + identity)),
                         "you applied SE after the addition (SE-POST); the standard position is on "
                         "the residual branch, before the addition."),
                "identity": (torch.relu(conv + se(identity)),
                             "you rescaled the identity branch; SE belongs on the residual branch."),
                "no relu": (se(conv) + identity,
                            "the final ReLU after the addition is missing."),
                "no se": (torch.relu(conv + identity),
                          "your output is the plain BasicBlock's: the SE block is not applied."),
                "before bn2": (torch.relu(block.bn2(se(block.conv2(block.relu(block.bn1(block.conv1(x))))))
                                          + identity),
                               "you applied SE between conv2 and bn2; it comes after bn2."),
            }
            for reference, hint in wrong.values():
                if torch.allclose(out, reference, atol=1e-5):
                    raise Hint(hint)
            expect_close(out, expected, "your output", atol=1e-4,
                         hint="Order: conv1, bn1, relu, conv2, bn2, SE, + identity "
                              "(downsampled if the block has a downsample), relu.")
    return "matches the SE-BasicBlock on 3 hidden blocks, with and without downsampling."


@checker("Operations of one SE block")
def check_se_flops(fn: Callable[[int, int, int, int], dict]) -> str:
    """``fn(channels, height, width, reduction)`` must return a dict with the operations of
    one SE block on one ``(C, H, W)`` feature map: ``"pool"`` (one addition per element),
    ``"fc"`` (one per multiply-add of both FC layers, biases left out) and ``"scale"`` (one
    multiplication per element)."""
    for c, h, w, r in [(256, 56, 56, 16), (2048, 7, 7, 16), (64, 32, 32, 8), (96, 5, 9, 4), (8, 4, 4, 16)]:
        hid = hidden_width(c, r)
        expected = {"pool": c * h * w, "fc": 2 * c * hid, "scale": c * h * w}
        got = call(fn, c, h, w, r)
        case = f"for C={c}, H={h}, W={w}, r={r}"
        if not isinstance(got, dict):
            raise Hint(f"return a dict with keys 'pool', 'fc' and 'scale', not a {type(got).__name__}")
        missing = sorted(set(expected) - set(got))
        if missing:
            raise Hint(f"your dict has no key(s) {missing}; it needs 'pool', 'fc' and 'scale'")
        values = {k: _as_number(got[k], f"your {k!r}") for k in expected}
        if values["pool"] != expected["pool"]:
            if values["pool"] == c:
                raise Hint(f"{case}: pooling reads every element of the map, C*H*W, not one per channel.")
            raise Hint(f"{case}: 'pool' is {values['pool']}, expected C*H*W = {expected['pool']}.")
        if values["scale"] != expected["scale"]:
            if values["scale"] == c:
                raise Hint(f"{case}: the scale multiplies every element by its gate, C*H*W products.")
            raise Hint(f"{case}: 'scale' is {values['scale']}, expected C*H*W = {expected['scale']}.")
        fc = values["fc"]
        if fc != expected["fc"]:
            if fc == 2 * expected["fc"]:
                raise Hint(f"{case}: you counted a multiply-add as two operations (FLOPs); here it "
                           "counts as one, like torchinfo's mult-adds.")
            if fc == c * hid:
                raise Hint(f"{case}: you counted one FC layer; there are two, C -> C/r and C/r -> C.")
            if fc == 2 * c * c:
                raise Hint(f"{case}: the hidden layer has C // r units, not C.")
            if fc in (expected["fc"] + hid + c, expected["fc"] + c):
                raise Hint(f"{case}: leave the biases out of 'fc'; count only the multiply-adds.")
            if c // r == 0 and fc == 0:
                raise Hint(f"{case}: C // r is 0, but the block keeps one hidden unit (max(1, C // r)).")
            raise Hint(f"{case}: 'fc' is {fc}, expected {expected['fc']}.")
    return "right for 5 hidden (C, H, W, r), from early to late stages."
