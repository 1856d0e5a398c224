"""Chapter 3 checkers: the right answer passes, plausible wrong answers get their hint."""

from __future__ import annotations

import pytest
import torch
from checking import fails_with as _fails_with
from torch import nn

from senet_lib.exercises import check_excitation, check_fc_as_conv, check_se_overhead
from senet_lib.networks import linear_as_conv1x1


def _excite(z, w1, w2, b2):
    return torch.sigmoid(torch.relu(z @ w1.T) @ w2.T + b2)


def test_excitation_passes():
    assert check_excitation(_excite).passed
    assert check_excitation(lambda z, w1, w2, b2: torch.sigmoid(
        nn.functional.linear(nn.functional.relu(nn.functional.linear(z, w1)), w2, b2))).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda z, w1, w2, b2: torch.softmax(torch.relu(z @ w1.T) @ w2.T + b2, dim=1), "softmax"),
    (lambda z, w1, w2, b2: torch.tanh(torch.relu(z @ w1.T) @ w2.T + b2), "tanh"),
    (lambda z, w1, w2, b2: torch.relu(torch.relu(z @ w1.T) @ w2.T + b2), "ReLU as the gate"),
    (lambda z, w1, w2, b2: torch.relu(z @ w1.T) @ w2.T + b2, "raw logits"),
    (lambda z, w1, w2, b2: torch.sigmoid((z @ w1.T) @ w2.T + b2), "ReLU between"),
    (lambda z, w1, w2, b2: torch.sigmoid(torch.relu(z @ w1.T) @ w2.T), "bias b2"),
    (lambda z, w1, w2, b2: torch.relu(torch.sigmoid(z @ w1.T) @ w2.T + b2), "swapped"),
    (lambda z, w1, w2, b2: torch.sigmoid(torch.relu(z @ w1) @ w2 + b2), "raised RuntimeError"),
])
def test_excitation_rejects(wrong, text):
    _fails_with(check_excitation(wrong), text)


def _overhead(stages, r):
    return sum(n * 2 * c * max(1, c // r) for n, c in stages)


def test_overhead_passes():
    assert check_se_overhead(_overhead).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda stages, r: sum(n * c * max(1, c // r) for n, c in stages), "two weight matrices"),
    (lambda stages, r: sum(2 * c * max(1, c // r) for _, c in stages), "one SE block per stage"),
    (lambda stages, r: sum(2 * n * c * c / r for n, c in stages), "C / r"),
    (lambda stages, r: sum(n * (2 * c * max(1, c // r) + c) for n, c in stages), "biases"),
    (lambda stages, r: sum(2 * n * c * (c // r) for n, c in stages), "at least one hidden unit"),
    (lambda stages, r: sum(n * 2 * c * max(1, c // r) for c, n in stages), "(N_s, C_s)"),
])
def test_overhead_rejects(wrong, text):
    _fails_with(check_se_overhead(wrong), text)


def test_fc_as_conv_passes():
    assert check_fc_as_conv(linear_as_conv1x1).passed


def _transposed(linear):
    conv = nn.Conv2d(linear.in_features, linear.out_features, 1, bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.T[:, :, None, None])
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def _bias_not_copied(linear):
    conv = nn.Conv2d(linear.in_features, linear.out_features, 1)
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
    return conv


def _kernel3(linear):
    return nn.Conv2d(linear.in_features, linear.out_features, 3, padding=1)


@pytest.mark.parametrize("wrong,text", [
    (_transposed, "no transpose"),
    (_bias_not_copied, "bias is not"),
    (_kernel3, "1x1"),
    (lambda linear: linear, "returned a Linear"),
])
def test_fc_as_conv_rejects(wrong, text):
    _fails_with(check_fc_as_conv(wrong), text)


def test_fc_as_conv_leaves_global_rng_alone():
    torch.manual_seed(123)
    a = torch.rand(3)
    torch.manual_seed(123)
    check_fc_as_conv(linear_as_conv1x1)
    assert torch.equal(torch.rand(3), a)
