"""The machinery every exercise checker shares.

A checker runs the learner's function on hidden cases and returns a
:class:`CheckResult`: a clear pass, or one specific hint. Write a checker as a
function decorated with :func:`checker`; inside, call the learner's code through
:func:`call` and raise :class:`Hint` with what to look at when a case fails::

    @checker("Squeeze")
    def check_squeeze(fn):
        x = torch.randn(2, 3, 4, 5)
        out = call(fn, x)
        expect_shape(out, (2, 3), "your squeeze's output")
        if torch.allclose(out, x.amax(dim=(2, 3))):
            raise Hint("you took the maximum: squeeze averages over H and W")
        ...
        return "matches the mean over (H, W) on 4 hidden inputs"

Set the environment variable ``SENET_STRICT_CHECKS=1`` (``make test`` does) and a
failed check raises :class:`ExerciseCheckError`, so that a solution that no
longer passes fails the build instead of showing a hint nobody reads. A stub that
still raises ``NotImplementedError`` is *pending*, not failed: the book shows each
exercise's stub with its check ("Not yet") before the hidden solution, so the
stub's check must not fail the build.
"""

from __future__ import annotations

import functools
import html
import os
from typing import Any, Callable, Sequence

import torch

__all__ = [
    "CheckResult", "ExerciseCheckError", "Hint", "checker", "call",
    "expect_tensor", "expect_shape", "expect_close", "strict",
]


class Hint(Exception):
    """Raised inside a checker: the learner's answer is wrong, and this is what to look at."""


class ExerciseCheckError(AssertionError):
    """A check failed while ``SENET_STRICT_CHECKS`` is set (in CI)."""


class _LearnerRaised(Exception):
    def __init__(self, exc: BaseException):
        super().__init__(str(exc))
        self.exc = exc


def strict() -> bool:
    """True when failed checks must raise (``SENET_STRICT_CHECKS`` set to 1, true or yes)."""
    return os.environ.get("SENET_STRICT_CHECKS", "").strip().lower() in {"1", "true", "yes"}


class CheckResult:
    """What a checker returns: truthy when passed; shows itself as a pass or a hint."""

    def __init__(self, exercise: str, passed: bool, message: str, pending: bool = False):
        self.exercise = exercise
        self.passed = passed
        self.message = message
        #: True when the learner's function is still the stub (raised NotImplementedError).
        self.pending = pending

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "PASSED" if self.passed else "NOT YET"
        return f"[{mark}] {self.exercise}: {self.message}"

    def _repr_html_(self) -> str:
        colour, mark = ("#1a7f37", "&#10004; Passed") if self.passed else ("#b35900", "&#10008; Not yet")
        return (
            f'<div class="senet-check" style="border-left:4px solid {colour};padding:4px 8px;">'
            f'<b style="color:{colour}">{mark}</b> &mdash; <b>{html.escape(self.exercise)}</b>: '
            f"{html.escape(self.message)}</div>"
        )


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``fn``; if it raises, the check fails naming the exception.

    The inputs are cloned so that a function that modifies its arguments in place
    cannot change the hidden cases the checker compares against.
    """
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # the learner's exception, reported as a hint
        raise _LearnerRaised(e) from e


def checker(exercise: str) -> Callable[[Callable[..., str]], Callable[..., CheckResult]]:
    """Turn ``body(fn, ...) -> success message`` into a checker returning :class:`CheckResult`."""

    def wrap(body: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> CheckResult:
            if not callable(fn):
                raise TypeError(
                    f"{body.__name__} expects your function as its argument, got "
                    f"{type(fn).__name__}: pass the function itself, not its result"
                )
            try:
                message = body(fn, *args, **kwargs)
                result = CheckResult(exercise, True, message or "all hidden cases pass")
            except Hint as h:
                result = CheckResult(exercise, False, str(h))
            except _LearnerRaised as e:
                exc = e.exc
                pending = isinstance(exc, NotImplementedError)
                result = CheckResult(
                    exercise, False, f"your function raised {type(exc).__name__}: {exc}", pending
                )
            if not result.passed and not result.pending and strict():
                raise ExerciseCheckError(repr(result))
            return result

        return check

    return wrap


def expect_tensor(out: Any, what: str) -> torch.Tensor:
    """``out`` must be a tensor; otherwise a hint naming ``what``."""
    if not isinstance(out, torch.Tensor):
        raise Hint(f"{what} should be a torch.Tensor, but it is a {type(out).__name__}")
    return out


def expect_shape(out: Any, shape: Sequence[int], what: str, hint: str = "") -> torch.Tensor:
    """``out`` must be a tensor of ``shape``; otherwise a hint naming both shapes."""
    out = expect_tensor(out, what)
    if tuple(out.shape) != tuple(shape):
        extra = f" {hint}" if hint else ""
        raise Hint(f"{what} has shape {tuple(out.shape)}, expected {tuple(shape)}.{extra}")
    return out


def expect_close(out: torch.Tensor, expected: torch.Tensor, what: str, atol: float = 1e-5,
                 hint: str = "") -> None:
    """``out`` must equal ``expected`` within ``atol``; otherwise a hint with the largest error."""
    err = (out.detach().double() - expected.detach().double()).abs().max().item()
    if not err <= atol:
        extra = f" {hint}" if hint else ""
        raise Hint(f"{what} differs from the expected values by up to {err:.3g}.{extra}")
