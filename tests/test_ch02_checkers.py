"""Chapter 2 checkers: the right answer passes, plausible wrong answers get their hint."""

from __future__ import annotations

import pytest
import torch
from checking import fails_with as _fails_with

from senet_lib.exercises import check_receptive_field, check_squeeze, check_std_pool
from senet_lib.spatial import receptive_field


def test_squeeze_passes():
    assert check_squeeze(lambda x: x.mean(dim=(2, 3))).passed
    assert check_squeeze(lambda x: torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda x: x.amax(dim=(2, 3)), "maximum"),
    (lambda x: x.sum(dim=(2, 3)), "divide by the number of positions"),
    (lambda x: x.mean(dim=(1, 2)), "wrong axes"),
    (lambda x: x.mean(dim=(2, 3), keepdim=True), "(N, C, 1, 1)"),
    (lambda x: x.mean(dim=(2, 3)).mean(dim=0, keepdim=True).expand(x.shape[0], -1), "batch"),
    (lambda x: x.mean(), "whole tensor"),
])
def test_squeeze_rejects(wrong, text):
    _fails_with(check_squeeze(wrong), text)


def test_stub_is_pending_not_failed(monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")

    def stub(x):
        raise NotImplementedError("Exercise")

    result = check_squeeze(stub)
    assert result.pending and not result.passed


def test_strict_mode_raises(monkeypatch):
    from senet_lib.exercises import ExerciseCheckError

    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ExerciseCheckError, match="maximum"):
        check_squeeze(lambda x: x.amax(dim=(2, 3)))


def test_std_pool_passes():
    assert check_std_pool(lambda x: x.std(dim=(2, 3), unbiased=False)).passed
    assert check_std_pool(lambda x: ((x - x.mean(dim=(2, 3), keepdim=True)) ** 2)
                          .mean(dim=(2, 3)).sqrt()).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda x: x.var(dim=(2, 3), correction=0), "variance"),
    (lambda x: x.std(dim=(2, 3)), "sample standard deviation"),
    (lambda x: x.mean(dim=(2, 3)), "mean of each channel"),
    (lambda x: x.std(dim=(1, 3), correction=0), "wrong axes"),
])
def test_std_pool_rejects(wrong, text):
    _fails_with(check_std_pool(wrong), text)


def _rf(layers):
    return receptive_field(layers)[-1]


def test_receptive_field_passes():
    assert check_receptive_field(_rf).passed


def _rf_jump_too_early(layers):
    rf, jump = 1, 1
    for k, s in layers:
        jump *= s
        rf += (k - 1) * jump
    return rf


@pytest.mark.parametrize("wrong,text", [
    (lambda layers: 1 + sum(k - 1 for k, _ in layers), "ignored the strides"),
    (lambda layers: sum(k for k, _ in layers), "sum of the kernel sizes"),
    (_rf_jump_too_early, "its own stride"),
    (lambda layers: receptive_field(layers), "return one int"),
    (lambda layers: 2 * len(layers) + 3, "but the receptive field is"),
])
def test_receptive_field_rejects(wrong, text):
    _fails_with(check_receptive_field(wrong), text)


def test_checker_refuses_non_callable_with_a_message():
    _fails_with(check_squeeze(torch.zeros(2, 3)), "pass the function itself")
