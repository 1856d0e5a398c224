"""check_prediction: right predictions pass, wrong ones do not (and say how they are off),
an empty prediction is pending with the answer, and bad arguments are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from senet_lib.exercises import CheckResult, ExerciseCheckError, check_prediction

# --- no prediction yet

def test_no_prediction_is_pending_and_shows_the_answer():
    result = check_prediction(None, 2112, what="parameters of SEBlock(64, 16)", unit="parameters")
    assert isinstance(result, CheckResult)
    assert result.pending and not result.passed and not result
    assert "no prediction yet" in result.message and "2,112 parameters" in result.message
    assert "No prediction yet" in result._repr_html_()
    assert "parameters of SEBlock(64, 16)" in result._repr_html_()


@pytest.mark.parametrize("truth", [3, 0.25, True, "unchanged"])
def test_no_prediction_does_not_fail_strict_mode(monkeypatch, truth):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    result = check_prediction(None, truth, what="anything")
    assert result.pending and not result.passed


# --- numbers

def test_exact_number_passes():
    result = check_prediction(2112, 2112, what="parameters")
    assert result.passed and not result.pending
    assert "Right" in result._repr_html_()


def test_float_rounding_does_not_make_an_exact_answer_wrong():
    assert check_prediction(0.1 + 0.2, 0.3, what="sum").passed


@pytest.mark.parametrize("prediction", [2111, 2113, 2112.5, 0, -2112, 21120])
def test_wrong_number_does_not_pass_without_tolerance(prediction):
    result = check_prediction(prediction, 2112, what="parameters")
    assert not result.passed and not result.pending
    assert "Not quite" in result._repr_html_()


def test_wrong_number_reports_answer_prediction_distance_and_direction():
    low = check_prediction(2000, 2112, what="parameters", unit="parameters")
    assert not low.passed
    assert "2,112 parameters" in low.message and "2,000 parameters" in low.message
    assert "too low by 112 parameters" in low.message
    high = check_prediction(0.5, 0.1, what="fraction", tolerance=0.05)
    assert not high.passed
    assert "too high by 0.4" in high.message and "±0.05" in high.message


@pytest.mark.parametrize("prediction,passed", [
    (0.10, True), (0.14, True), (0.06, True),      # inside the tolerance
    (0.15, True),                                  # on its edge
    (0.1501, False), (0.049, False), (1.0, False), (-0.1, False),
])
def test_tolerance_is_an_absolute_window_around_the_truth(prediction, passed):
    assert check_prediction(prediction, 0.10, what="fraction", tolerance=0.05).passed is passed


def test_percentages_are_off_by_points():
    result = check_prediction(12, 10, what="extra parameters", tolerance=1, unit="%")
    assert not result.passed and "2 percentage points" in result.message


@pytest.mark.parametrize("prediction", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_prediction_does_not_pass(prediction):
    assert not check_prediction(prediction, 5.0, what="value", tolerance=100).passed


def test_tensor_and_numpy_values_count_as_numbers():
    assert check_prediction(3, torch.tensor(3), what="units").passed
    assert check_prediction(np.float32(0.5), torch.tensor([0.5]), what="gate", tolerance=1e-6).passed
    assert not check_prediction(4, np.int64(3), what="units").passed


# --- strings and booleans

@pytest.mark.parametrize("prediction", ["unchanged", "  Unchanged ", "UNCHANGED\n"])
def test_strings_compare_ignoring_case_and_outer_spaces(prediction):
    assert check_prediction(prediction, "unchanged", what="descriptor").passed


@pytest.mark.parametrize("prediction", ["changed", "unchange", "un changed", ""])
def test_wrong_string_does_not_pass(prediction):
    result = check_prediction(prediction, "unchanged", what="descriptor")
    assert not result.passed and "'unchanged'" in result.message


def test_booleans_compare_exactly():
    assert check_prediction(True, True, what="same gates").passed
    assert check_prediction(False, False, what="same gates").passed
    result = check_prediction(False, True, what="same gates")
    assert not result.passed and "it is True" in result.message


# --- predictions of the wrong kind

@pytest.mark.parametrize("prediction,truth,words", [
    ("2112", 2112, "without quotes"),      # a number in quotes
    (True, 1, "as a number"),              # bool is not a number here
    ([2112], 2112, "as a number"),
    (1, True, "True or False"),            # 1 is not True here
    ("True", True, "without quotes"),
    (3, "unchanged", "in quotes"),
    (None.__class__, 3, "as a number"),    # something odd
])
def test_wrong_kind_of_prediction_gets_a_clear_message(prediction, truth, words):
    result = check_prediction(prediction, truth, what="value")
    assert not result.passed and not result.pending
    assert words in result.message
    assert "your prediction is" in result.message


# --- strict mode: a written, wrong prediction fails like a failed checker

def test_wrong_prediction_raises_in_strict_mode(monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    assert check_prediction(64, 64, what="width").passed
    with pytest.raises(ExerciseCheckError, match="too high"):
        check_prediction(65, 64, what="width")
    with pytest.raises(ExerciseCheckError, match="without quotes"):
        check_prediction("64", 64, what="width")


# --- bad arguments to the helper itself

@pytest.mark.parametrize("kwargs,error,words", [
    (dict(tolerance=-0.1), ValueError, "tolerance"),
    (dict(tolerance=float("nan")), ValueError, "tolerance"),
    (dict(tolerance=float("inf")), ValueError, "tolerance"),
    (dict(tolerance="0.1"), TypeError, "tolerance"),
    (dict(tolerance=True), TypeError, "tolerance"),
    (dict(what=""), ValueError, "what"),
    (dict(what="  "), ValueError, "what"),
    (dict(what=3), TypeError, "what"),
    (dict(unit=None), TypeError, "unit"),
])
def test_bad_arguments_are_refused_naming_them(kwargs, error, words):
    args = dict(what="value") | kwargs
    with pytest.raises(error, match=words):
        check_prediction(1.0, 1.0, **args)


@pytest.mark.parametrize("truth", ["unchanged", True])
def test_tolerance_with_a_non_numeric_truth_is_refused(truth):
    with pytest.raises(TypeError, match=r"tolerance=0\.5"):
        check_prediction(None, truth, what="value", tolerance=0.5)


@pytest.mark.parametrize("truth,error", [
    ([1, 2], TypeError), (None, TypeError), (torch.ones(3), TypeError), (float("nan"), ValueError),
])
def test_unsupported_truth_is_refused(truth, error):
    with pytest.raises(error, match="truth"):
        check_prediction(1, truth, what="value")


def test_what_must_be_given_by_name():
    with pytest.raises(TypeError):
        check_prediction(1, 1, "value")  # positional `what`: the keyword-only signature is the point
