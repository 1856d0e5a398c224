"""The checker machinery and chapter 1's checkers: right answers pass, plausible wrong ones get their hint."""

from __future__ import annotations

import pytest
import torch

from senet_lib.exercises import (
    ExerciseCheckError,
    check_se_forward,
    check_se_param_count,
)


def good_forward(x, w1, w2, b2):
    s = torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1.T) @ w2.T + b2)
    return x * s[:, :, None, None]


def test_right_answers_pass():
    assert check_se_forward(good_forward).passed
    assert check_se_param_count(lambda c, r: 2 * max(1, c // r) * c + c).passed


@pytest.mark.parametrize("wrong,hint", [
    (lambda x, w1, w2, b2: x * torch.softmax(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2, 1)[:, :, None, None],
     "softmax"),
    (lambda x, w1, w2, b2: x * torch.sigmoid(torch.relu(x.amax((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None],
     "maximum"),
    (lambda x, w1, w2, b2: x * torch.sigmoid((x.mean((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None],
     "ReLU"),
    (lambda x, w1, w2, b2: torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2),
     "you returned the gates"),
    (lambda x, w1, w2, b2: torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None].expand_as(x),
     "multiply them with x"),
    (lambda x, w1, w2, b2: x * torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T)[:, :, None, None],
     "bias b2"),
    (lambda x, w1, w2, b2: x * torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2 + 1)[:, :, None, None],
     "differs"),
])
def test_wrong_forward_gets_its_hint(wrong, hint):
    result = check_se_forward(wrong)
    assert not result.passed and not result.pending
    assert hint in result.message


@pytest.mark.parametrize("wrong,hint", [
    (lambda c, r: 2 * (c // r) * c + c, "0 hidden units"),
    (lambda c, r: 2 * max(1, c // r) * c, "fc2's bias"),
    (lambda c, r: 2 * max(1, c // r) * c + c + max(1, c // r), "fc1 has no bias"),
    (lambda c, r: c * max(1, c // r) + c, "one weight matrix"),
    (lambda c, r: 2 * max(1, c // r) * c + c + 1, "you said"),
])
def test_wrong_param_count_gets_its_hint(wrong, hint):
    result = check_se_param_count(wrong)
    assert not result.passed
    assert hint in result.message


def stub(*args):
    raise NotImplementedError("Exercise: write it")


def test_stub_is_pending_and_does_not_raise_even_in_strict_mode(monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    result = check_se_forward(stub)
    assert not result.passed and result.pending
    assert "NotImplementedError" in result.message


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ExerciseCheckError, match="fc2's bias"):
        check_se_param_count(lambda c, r: 2 * max(1, c // r) * c)


def test_learner_exception_becomes_a_hint():
    result = check_se_forward(lambda *a: 1 / 0)
    assert not result.passed and not result.pending
    assert "ZeroDivisionError" in result.message


def test_passing_a_result_instead_of_a_function_is_a_clear_message():
    result = check_se_forward(torch.zeros(3))
    assert not result.passed and not result.pending
    assert "pass the function itself" in result.message


def test_result_renders_as_text_and_html():
    r = check_se_forward(good_forward)
    assert "PASSED" in repr(r) and "Passed" in r._repr_html_()
    r = check_se_param_count(lambda c, r: 0)
    assert "NOT YET" in repr(r) and "Not yet" in r._repr_html_()


def test_no_two_chapters_export_the_same_checker_name():
    """`from senet_lib.exercises import *` re-exports every chapter's checkers: a name used by two
    chapters would silently give one chapter the other's checker."""
    import importlib
    import pkgutil

    import senet_lib.exercises as ex

    owners: dict[str, str] = {}
    for info in pkgutil.iter_modules(ex.__path__):
        if info.name.startswith("ch"):
            for name in importlib.import_module(f"senet_lib.exercises.{info.name}").__all__:
                assert name not in owners, f"{name} is exported by both {owners[name]} and {info.name}"
                owners[name] = info.name
    assert len(owners) >= 20
