"""Chapter 4 checkers: the right answer passes, plausible wrong answers get their hint."""

from __future__ import annotations

import pytest
import torch
from checking import fails_with as _fails_with

from senet_lib import scale, squeeze
from senet_lib.exercises import check_input_dependence, check_scale, check_se_compose
from senet_lib.tiny_task import input_dependence


def test_scale_passes():
    assert check_scale(lambda x, s: x * s[:, :, None, None]).passed
    assert check_scale(scale).passed
    assert check_scale(lambda x, s: x * s.view(*s.shape, 1, 1)).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda x, s: x * s, "broadcast against W instead of C"),
    (lambda x, s: x * s[:, None, None, :], "broadcast against W instead of C"),
    (lambda x, s: s[:, :, None, None].expand_as(x), "returned the gates"),
    (lambda x, s: x + s[:, :, None, None], "added the gates"),
    (lambda x, s: x / s[:, :, None, None], "divided"),
    (lambda x, s: x * (1 - s[:, :, None, None]), "1 - s"),
    (lambda x, s: x * s.mean(dim=0)[None, :, None, None], "averaged the gates over the batch"),
    (lambda x, s: x * s[:, :, None, None].sum(dim=1, keepdim=True), "differs from the expected"),
])
def test_scale_rejects(wrong, text):
    _fails_with(check_scale(wrong), text)


def test_input_dependence_passes():
    assert check_input_dependence(input_dependence).passed
    assert check_input_dependence(lambda g: g.std(dim=0, unbiased=False).mean()).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda g: g.std(dim=1, correction=0).mean().item(), "across channels"),
    (lambda g: g.std(dim=0).mean().item(), "sample standard deviation"),
    (lambda g: g.var(dim=0, correction=0).mean().item(), "variances"),
    (lambda g: g.std(correction=0).item(), "one standard deviation over all"),
    (lambda g: g.mean().item(), "mean gate"),
    (lambda g: g.std(dim=0, correction=0), "average the per-channel"),
])
def test_input_dependence_rejects(wrong, text):
    _fails_with(check_input_dependence(wrong), text)


def _compose(x, block):
    s = block.gate(block.fc2(block.relu(block.fc1(block.squeeze(x)))))
    return scale(x, s)


def test_compose_passes():
    assert check_se_compose(_compose).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda x, b: b.gate(b.fc2(b.relu(b.fc1(squeeze(x))))), "(N, C) gates"),
    (lambda x, b: x * b.gate(b.fc2(b.relu(b.fc1(x.amax(dim=(2, 3))))))[:, :, None, None], "maximum"),
    (lambda x, b: x * torch.softmax(b.fc2(b.relu(b.fc1(squeeze(x)))), dim=1)[:, :, None, None],
     "softmax"),
    (lambda x, b: x * b.gate(b.fc2(b.fc1(squeeze(x))))[:, :, None, None], "relu"),
    (lambda x, b: x + _compose(x, b), "residual"),
    (lambda x, b: b(x), "raised RuntimeError"),
    (lambda x, b: x * b.gates(x)[:, :, None, None], "raised RuntimeError"),
])
def test_compose_rejects(wrong, text):
    _fails_with(check_se_compose(wrong), text)
