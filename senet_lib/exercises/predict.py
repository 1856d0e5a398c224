"""Predict, then run: compare a learner's written-down prediction with what the code computes.

A chapter asks a question, the learner writes an answer into a cell
(``prediction = None  # write your prediction here``), and the next cell computes the
truth with the chapter's own code and calls::

    check_prediction(prediction, truth, what="parameters of SEBlock(64, 16)")

The result is a :class:`~senet_lib.exercises.CheckResult`, shown in a notebook like the
exercise checkers' results:

- ``prediction is None`` (nothing written yet): *pending*, with the answer, so a reader
  who only wants to read on still learns it. Pending results never fail the strict CI mode
  (``SENET_STRICT_CHECKS=1``), so the book can be built with every prediction left empty.
- numbers: a pass when ``abs(prediction - truth) <= tolerance``; otherwise the message gives
  the answer, the prediction and how far off it was, and in which direction.
- strings: equal after stripping outer whitespace, ignoring case and runs of spaces.
- booleans: equal.
- a prediction of the wrong kind (a string for a number, ``1`` for ``True``, ...): not
  passed, with a message that says what to write instead.

As with the checkers, a prediction that is written but wrong raises
:class:`~senet_lib.exercises.ExerciseCheckError` when ``SENET_STRICT_CHECKS`` is set: a
committed notebook with a filled-in prediction that has stopped being right fails CI.
"""

from __future__ import annotations

import html
import math
import numbers
from typing import Any

from ._core import CheckResult, ExerciseCheckError, strict

__all__ = ["check_prediction", "PredictionResult"]


class PredictionResult(CheckResult):
    """A :class:`CheckResult` for a prediction; it shows "Right", "Not quite" or "No prediction yet"."""

    def __repr__(self) -> str:
        mark = "NO PREDICTION YET" if self.pending else ("RIGHT" if self.passed else "NOT QUITE")
        return f"[{mark}] {self.exercise}: {self.message}"

    def _repr_html_(self) -> str:
        if self.pending:
            colour, mark = "#4a5a75", "&#9998; No prediction yet"
        elif self.passed:
            colour, mark = "#1a7f37", "&#10004; Right"
        else:
            colour, mark = "#b35900", "&#10008; Not quite"
        return (
            f'<div class="senet-check senet-prediction" style="border-left:4px solid {colour};'
            f'padding:4px 8px;"><b style="color:{colour}">{mark}</b> &mdash; '
            f"<b>{html.escape(self.exercise)}</b>: {html.escape(self.message)}</div>"
        )


def _as_plain(value: Any) -> Any:
    """A one-element tensor or NumPy scalar as the Python number it holds; anything else unchanged."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (bool, int, float, str)):
        numel = getattr(value, "numel", None)
        size = numel() if callable(numel) else getattr(value, "size", None)
        if size == 1:
            return item()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fmt(value: float, unit: str = "") -> str:
    if isinstance(value, numbers.Integral):
        text = f"{int(value):,}"
    elif value == 0:
        text = "0"
    elif float(value).is_integer() and abs(value) < 1e15 or abs(value) >= 1e4:
        text = f"{value:,.0f}"
    else:
        text = f"{value:.4g}"
    if not unit:
        return text
    return f"{text}{'' if unit[0] in '%°' else ' '}{unit}"


def _kind(truth: Any) -> str:
    return "a number" if _is_number(truth) else "True or False" if isinstance(truth, bool) else "a string"


def _answer(truth: Any, unit: str) -> str:
    if _is_number(truth):
        return _fmt(truth, unit)
    return repr(truth)


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters (an array's repr can be long)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def check_prediction(prediction: Any, truth: Any, *, what: str, tolerance: float | None = None,
                     unit: str = "") -> CheckResult:
    """Compare a learner's ``prediction`` with the ``truth`` the chapter's code computed.

    Args:
        prediction: what the learner wrote down, or ``None`` if nothing yet (the result is then
            pending and shows the answer).
        truth: the answer, computed by the notebook: a number (int, float, a one-element tensor
            or NumPy scalar), a ``bool`` or a ``str``.
        what: what was predicted, in a few words ("hidden units of SEBlock(3, 16)"); the
            result's title.
        tolerance: for a numeric ``truth`` only: how far (absolute, in the truth's units) the
            prediction may be and still pass; ``None`` means exactly (up to float rounding).
        unit: printed after numbers ("parameters", "%"); for display only.

    Returns:
        A :class:`CheckResult` (truthy when the prediction is right; ``pending`` when
        ``prediction is None``).

    Raises:
        TypeError, ValueError: for bad arguments to this function itself (not for a wrong
            prediction): ``what`` empty or not a string, ``unit`` not a string, ``truth`` of an
            unsupported type or NaN, ``tolerance`` negative, not finite, not a number, or given
            for a ``truth`` that is not a number.
        ExerciseCheckError: when ``SENET_STRICT_CHECKS`` is set and a written prediction is wrong.
    """
    if not isinstance(what, str):
        raise TypeError(f"what must be a str describing the prediction, got {type(what).__name__}: {what!r}")
    if not what.strip():
        raise ValueError(f"what must describe what is predicted, got an empty string {what!r}")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a str (e.g. 'parameters' or '%'), got {type(unit).__name__}: {unit!r}")
    truth = _as_plain(truth)
    if not (_is_number(truth) or isinstance(truth, (bool, str))):
        raise TypeError(f"truth must be a number, a bool or a str, got {type(truth).__name__}: {truth!r}")
    if _is_number(truth) and math.isnan(truth):
        raise ValueError(f"truth is NaN ({truth!r}): the code that computes the answer went wrong")
    if tolerance is not None:
        if not _is_number(tolerance):
            raise TypeError(f"tolerance must be a number or None, got {type(tolerance).__name__}: {tolerance!r}")
        if not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
        if not _is_number(truth):
            raise TypeError(f"tolerance={tolerance!r} only applies to a numeric truth; truth is "
                            f"{type(truth).__name__} {truth!r}, which is compared exactly: drop tolerance")

    what = what.strip()
    if prediction is None:
        return PredictionResult(
            what, False, f"no prediction yet; the answer is {_answer(truth, unit)}. "
            "Write yours in the prediction cell and run both cells again.", pending=True)

    prediction = _as_plain(prediction)
    passed, message = _compare(prediction, truth, tolerance, unit)
    result = PredictionResult(what, passed, message)
    if not passed and strict():
        raise ExerciseCheckError(repr(result))
    return result


def _compare(prediction: Any, truth: Any, tolerance: float | None, unit: str) -> tuple[bool, str]:
    """(passed, message) for a prediction that is not None."""
    answer = _answer(truth, unit)
    if isinstance(truth, bool):
        if isinstance(prediction, bool):
            if prediction == truth:
                return True, f"you predicted {prediction}, and it is {truth}."
            return False, f"you predicted {prediction}, but it is {truth}."
        hint = " (without quotes)" if isinstance(prediction, str) else ""
        return False, (f"your prediction is {type(prediction).__name__} {_shown(prediction)}, but the answer is "
                       f"True or False: write prediction = True or prediction = False{hint}.")

    if isinstance(truth, str):
        if not isinstance(prediction, str):
            return False, (f"your prediction is {type(prediction).__name__} {_shown(prediction)}, but the answer "
                           f"is a string: write it in quotes, e.g. prediction = \"...\".")
        if _normalise(prediction) == _normalise(truth):
            return True, f"you predicted {prediction.strip()!r}: that is the answer."
        return False, f"you predicted {prediction.strip()!r}, but the answer is {truth!r}."

    # a number
    if isinstance(prediction, bool) or not _is_number(prediction):
        hint = " without quotes" if isinstance(prediction, str) else ""
        return False, (f"your prediction is {type(prediction).__name__} {_shown(prediction)}, but the answer "
                       f"is {_kind(truth)}: write it as a number{hint}, e.g. prediction = 42.")
    try:
        float(prediction)
    except OverflowError:  # an int too large for a float: as far off as a number can be
        prediction = math.inf if prediction > 0 else -math.inf
    if math.isnan(prediction):
        return False, f"your prediction is NaN: write a number; the answer is {answer}."
    off = prediction - truth
    allowed = 0.0 if tolerance is None else tolerance
    # float rounding (0.1 + 0.2) must not turn an exact answer into a wrong one
    slack = 1e-9 * max(1.0, abs(truth)) if math.isfinite(truth) else 0.0
    within = math.isfinite(off) and abs(off) <= allowed + slack
    tol_text = "" if not tolerance else (f"±{_fmt(tolerance)} percentage points" if unit.strip() == "%"
                                         else f"±{_fmt(tolerance, unit)}")
    ok_range = f" (within {tol_text})" if tolerance else ""
    if within:
        if off == 0 or abs(off) <= slack:
            return True, f"you predicted {_fmt(prediction, unit)}: exactly the answer{ok_range}."
        return True, f"you predicted {_fmt(prediction, unit)}, the answer is {answer}{ok_range}."
    direction = "too high" if off > 0 else "too low"
    by = ""
    if math.isfinite(off) and unit.strip() == "%":  # a difference of percentages is in points
        by = f" by {_fmt(abs(off))} percentage points"
    elif math.isfinite(off):
        share = abs(off) / abs(truth) if truth != 0 else None
        relative = "" if share is None else f" ({share:.0%} of the answer)" if share >= 0.1 \
            else f" ({share:.1%} of the answer)"
        by = f" by {_fmt(abs(off), unit)}{relative}"
    target = f"; within {tol_text} counts as right" if tolerance else ""
    return False, f"you predicted {_fmt(prediction, unit)}, the answer is {answer}: {direction}{by}{target}."
