"""The machinery every exercise checker shares.

A checker runs the learner's function on hidden cases and returns a
:class:`CheckResult`: a clear pass, or one specific hint. Write a checker as a
function decorated with :func:`checker`; inside, call the learner's code through
:func:`call` and raise :class:`Hint` with what to look at when a case fails::

    @checker("Squeeze")
    def check_squeeze(fn):
        x = torch.randn(2, 3, 4, 5)
        out = expect_shape(call(fn, x), (2, 3), "your squeeze's output")
        if close(out, x.amax(dim=(2, 3))):
            raise Hint("you took the maximum: squeeze averages over H and W")
        expect_close(out, x.mean(dim=(2, 3)), "your squeeze's output")
        return "matches the mean over (H, W) on 1 hidden input"

A checker judges as a teacher would:

- **Numbers** (:func:`as_number`, :func:`as_count`): a Python ``int``/``float``, a NumPy
  scalar (``np.int64``, ``np.float32``, ...) or a one-element tensor or array is a number; a
  ``bool``, a ``str``, ``None``, a list, NaN or infinity is not, and gets a hint that says
  what was returned and what was expected. A count may be a whole float (``12.0``), not
  ``12.5``. Numbers are compared with :func:`same_number`, at float32 tolerances.
- **Tensors** (:func:`as_tensor`, :func:`expect_shape`, :func:`close`, :func:`expect_close`):
  whatever dtype (float64, float16, bfloat16, an integer type) and device the learner
  returned, the values are compared in float32 with tolerances suited to float32 arithmetic
  (``|yours - expected| <= RTOL * |expected| + ATOL * max(1, max |expected|)``). A NumPy array
  counts as a tensor. NaN, infinities, a half-precision result that is right only to half
  precision, whole numbers where the answer has fractions and a wrong shape each get their
  own hint. Where an exercise keeps the input's dtype (a block's output replaces its input in
  the network), :func:`expect_dtype` names the dtype returned and the one expected.
- **Nothing the learner returns or raises makes the checker raise**: the learner's exception
  becomes a hint naming it (common PyTorch errors, such as shapes that do not broadcast, are
  explained); a value the checker cannot judge becomes a hint that says so instead of a
  traceback; a non-callable passed in gets a hint to pass the function itself.

Set the environment variable ``SENET_STRICT_CHECKS=1`` (``make test`` does) and a
failed check raises :class:`ExerciseCheckError`, so that a solution that no
longer passes fails the build instead of showing a hint nobody reads. A stub that
still raises ``NotImplementedError`` is *pending*, not failed: the book shows each
exercise's stub with its check ("Not yet") before the hidden solution, so the
stub's check must not fail the build.
"""

from __future__ import annotations

import copy
import functools
import html
import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CheckResult", "ExerciseCheckError", "Hint", "checker", "call", "describe",
    "as_number", "as_count", "same_number", "as_tensor", "expect_tensor", "expect_shape",
    "expect_dtype", "close", "expect_close", "strict", "RTOL", "ATOL", "COULD_NOT_JUDGE",
]

#: Relative tolerance for values computed in float32 (its machine epsilon is 1.2e-7; a sum of
#: thousands of terms or a few transcendental functions stays well inside 1e-4).
RTOL = 1e-4
#: Absolute tolerance, in units of the largest expected magnitude (at least 1).
ATOL = 1e-5
#: Half-precision dtypes: a result in one of them is right only to its precision.
_LOW_PRECISION = {torch.float16: 4e-3, torch.bfloat16: 3e-2}
#: The start of the message when checking the learner's answer raised inside the checker: the
#: answer is refused with this message instead of a traceback (tests assert it never appears).
COULD_NOT_JUDGE = "the checker could not judge your answer"


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


# --------------------------------------------------------------------------------------------
# Calling the learner's code
# --------------------------------------------------------------------------------------------

def _private_copy(a: Any) -> Any:
    """A copy of a hidden input that the learner's function may modify freely."""
    if isinstance(a, torch.Tensor):
        return a.clone()
    if isinstance(a, (list, tuple, dict)):
        try:
            return copy.deepcopy(a)
        except Exception:  # an uncopyable element: hand over the original
            return a
    return a


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``fn``; if it raises, the check fails naming the exception.

    The inputs are copied (tensors cloned, lists, tuples and dicts deep-copied) so that a
    function that modifies its arguments in place cannot change the hidden cases the
    checker compares against; modules are passed as they are (a checker may need to see
    what the learner did to them).
    """
    args = tuple(_private_copy(a) for a in args)
    kwargs = {k: _private_copy(v) for k, v in kwargs.items()}
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # the learner's exception, reported as a hint
        raise _LearnerRaised(e) from e


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(exc: BaseException) -> str:
    """A teacher's gloss on a common PyTorch error the learner's code raised ("" if none)."""
    text = str(exc)
    if "must match the size of tensor" in text or "shape mismatch" in text:
        return (" Two tensors you combined have shapes that do not broadcast: PyTorch lines shapes up "
                "from the right (an (N, C) tensor meets the (H, W) of an (N, C, H, W) one). Print "
                "the shapes, and add axes where needed, e.g. s[:, :, None, None].")
    if "mat1 and mat2 shapes cannot be multiplied" in text:
        return (" A matrix product's inner sizes differ: (N, C) @ (C, K) needs the weight in that "
                "order; a PyTorch weight is stored (out, in), so multiply by its transpose, w.T.")
    if "expected scalar type" in text or ("dtype" in text and "match" in text) or \
            ("Double" in text and "Float" in text):
        return (" Two dtypes were mixed (float64 and float32?): a tensor made from NumPy or with "
                "dtype=torch.float64 does not mix with float32 weights; keep float32 (.float()).")
    if isinstance(exc, TypeError) and "positional argument" in text:
        return " Check your function's parameters: the checker calls it with the exercise's arguments."
    return ""


def _learner_message(exc: BaseException) -> str:
    return f"your function raised {type(exc).__name__}: {_short(exc)}{_explain(exc)}"


def checker(exercise: str) -> Callable[[Callable[..., str]], Callable[..., CheckResult]]:
    """Turn ``body(fn, ...) -> success message`` into a checker returning :class:`CheckResult`.

    Whatever ``fn`` is, returns or raises, the checker returns a result: passed, pending
    (``fn`` raised ``NotImplementedError``: still the stub) or failed with a hint. A failed
    result raises :class:`ExerciseCheckError` instead when :func:`strict` is on.
    """

    def wrap(body: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(fn: Any, *args: Any, **kwargs: Any) -> CheckResult:
            if not callable(fn):
                result = CheckResult(
                    exercise, False,
                    f"{body.__name__} expects your function as its argument, got {describe(fn)}: "
                    "pass the function itself (its name, without calling it), not its result")
            else:
                try:
                    message = body(fn, *args, **kwargs)
                    result = CheckResult(exercise, True, message or "all hidden cases pass")
                except Hint as h:
                    result = CheckResult(exercise, False, str(h))
                except _LearnerRaised as e:
                    exc = e.exc
                    pending = isinstance(exc, NotImplementedError)
                    result = CheckResult(exercise, False, _learner_message(exc), pending)
                except Exception as e:
                    result = CheckResult(
                        exercise, False,
                        f"{COULD_NOT_JUDGE} ({type(e).__name__}: {_short(e, 200)}). Look at what your "
                        "function returns: its type, shape and dtype should be what the exercise asks.")
            if not result.passed and not result.pending and strict():
                raise ExerciseCheckError(repr(result))
            return result

        return check

    return wrap


# --------------------------------------------------------------------------------------------
# What the learner returned
# --------------------------------------------------------------------------------------------

def describe(value: Any) -> str:
    """A short description of ``value`` for a message: its type and, where useful, shape or value."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return f"a bool ({bool(value)})"
    if isinstance(value, str):
        return f"a str ({_short(repr(value), 40)})"
    if isinstance(value, (list, tuple, dict, set)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, numbers.Number):
        return f"{type(value).__name__} {value!r}"
    if callable(value):
        return f"a {type(value).__name__} (a function or class, not a value)"
    return f"a {type(value).__name__}"


def _none_hint(what: str) -> Hint:
    return Hint(f"{what} is None: your function returned nothing. Did you forget the return "
                "statement (or return the result of an in-place method such as list.sort)?")


def as_number(value: Any, what: str) -> float | int:
    """``value`` as a Python ``int`` or ``float``, or a hint saying what it is instead.

    A Python number, a NumPy scalar and a one-element tensor or array are numbers; ``None``,
    a bool, a str, a list, a larger tensor, a complex number, NaN and infinity are not.
    """
    if value is None:
        raise _none_hint(what)
    if isinstance(value, (bool, np.bool_)):
        raise Hint(f"{what} is a bool ({bool(value)}), not a number: return the number itself "
                   "(an int or a float), not a comparison.")
    if isinstance(value, str):
        raise Hint(f"{what} is a str ({_short(repr(value), 40)}), not a number: return the number "
                   "itself (an int or a float), not text; no quotes, no f-string.")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            raise Hint(f"{what} is {describe(value)}: expected one number. Reduce it to a single "
                       "value (and .item() makes it a Python number).")
        if (value.dtype == torch.bool) if isinstance(value, torch.Tensor) else value.dtype.kind == "b":
            raise Hint(f"{what} is a bool tensor, not a number: return the number itself.")
        if isinstance(value, torch.Tensor) and value.is_meta:
            raise Hint(f"{what} is a tensor on the meta device, which has no values.")
        if (value.is_complex() if isinstance(value, torch.Tensor) else np.iscomplexobj(value)):
            raise Hint(f"{what} is complex ({value.dtype}): expected a real number.")
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple, dict, set)):
        raise Hint(f"{what} is {describe(value)}, not a number: return one number.")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Hint(f"{what} is {describe(value)}: expected a number (an int or a float).")
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    if math.isnan(value):
        raise Hint(f"{what} is NaN (not a number): look for 0 / 0, the square root of a negative "
                   "number, or a mean over an empty selection.")
    if math.isinf(value):
        raise Hint(f"{what} is {value}: look for a division by zero.")
    return value


def as_count(value: Any, what: str) -> int:
    """``value`` as an ``int``: a number (see :func:`as_number`) that is whole (``12.0`` is fine)."""
    v = as_number(value, what)
    if isinstance(v, float):
        if not v.is_integer():
            raise Hint(f"{what} is {v!r}, not a whole number: a count has no fraction. Did you "
                       "divide with / where the exercise rounds down (//)?")
        v = int(v)
    return v


def same_number(got: float, expected: float, rel: float = 1e-5, abs_: float = 1e-9) -> bool:
    """``got`` equals ``expected`` up to float32 rounding (relative ``rel``, absolute ``abs_``)."""
    try:
        return math.isclose(float(got), float(expected), rel_tol=rel, abs_tol=abs_)
    except (TypeError, ValueError, OverflowError):
        return False


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` as a CPU tensor without gradient (a NumPy array is fine), or a hint.

    The dtype is kept (see :func:`expect_dtype`); complex, meta and non-numeric values are refused.
    """
    if value is None:
        raise _none_hint(what)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise Hint(f"{what} is {describe(value)}: expected numbers (a float tensor).")
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        extra = ""
        if isinstance(value, (list, tuple)):
            extra = (" Build it with tensor operations (or torch.stack a list of tensors) "
                     "instead of a Python list.")
        elif isinstance(value, numbers.Number):
            extra = " One number is not enough here: the answer has one value per entry."
        raise Hint(f"{what} should be a torch.Tensor, but it is {describe(value)}.{extra}")
    if value.is_meta:
        raise Hint(f"{what} is a tensor on the meta device, which has shapes but no values: "
                   "compute it from the inputs you are given.")
    if value.is_complex():
        raise Hint(f"{what} has the complex dtype {value.dtype}: expected real numbers.")
    if value.layout != torch.strided:
        value = value.to_dense()
    return value.detach().cpu()


def expect_tensor(out: Any, what: str) -> torch.Tensor:
    """``out`` must be a tensor (see :func:`as_tensor`); otherwise a hint naming ``what``."""
    return as_tensor(out, what)


def expect_shape(out: Any, shape: Sequence[int], what: str, hint: str = "") -> torch.Tensor:
    """``out`` must be a tensor of ``shape``; otherwise a hint naming both shapes."""
    out = as_tensor(out, what)
    shape = tuple(int(s) for s in shape)
    if tuple(out.shape) != shape:
        extra = f" {hint}" if hint else ""
        same = ""
        if out.numel() == math.prod(shape) and out.numel() > 1:
            same = " It has the right number of values: reshape (or squeeze/flatten) it."
        raise Hint(f"{what} has shape {tuple(out.shape)}, expected {shape}.{same}{extra}")
    return out


def expect_dtype(out: torch.Tensor, dtype: torch.dtype, what: str, source: str = "the input") -> None:
    """``out`` must have ``dtype`` (the exercise keeps ``source``'s dtype); otherwise a hint naming both."""
    if out.dtype != dtype:
        raise Hint(f"{what} has dtype {out.dtype}, but {source} is {dtype}: the result must keep "
                   f"{source}'s dtype (the next layer expects it). A tensor built with NumPy, "
                   "torch.tensor(..., dtype=...) or .double() changes it.")


def _float32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().to(torch.float32)


def _bound(expected: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
    e = expected.double()
    scale = max(1.0, float(e.abs().max())) if e.numel() else 1.0
    return rtol * e.abs() + atol * scale


def close(out: Any, expected: torch.Tensor, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True when ``out`` is a tensor (or array) of ``expected``'s shape whose float32 values
    match within the tolerances; never raises (a NaN or a wrong shape is simply not close)."""
    try:
        t = as_tensor(out, "it")
    except Hint:
        return False
    if tuple(t.shape) != tuple(expected.shape):
        return False
    t = _float32(t).double()
    e = _float32(expected).double()
    if not torch.isfinite(t).all():
        return bool(torch.equal(t.isnan(), e.isnan()) and torch.equal(t[~t.isnan()], e[~e.isnan()]))
    return bool(((t - e).abs() <= _bound(e, rtol, atol)).all())


def expect_close(out: Any, expected: torch.Tensor, what: str, atol: float = ATOL,
                 hint: str = "", rtol: float = RTOL) -> torch.Tensor:
    """``out`` must equal ``expected`` within float32 tolerances; otherwise the hint that fits:
    a wrong shape, NaN or infinite values, a half-precision or integer dtype, or the largest
    difference and where it is (followed by ``hint``). Returns ``out`` as a tensor."""
    expected = expected.detach().cpu()
    out = expect_shape(out, expected.shape, what, hint)
    extra = f" {hint}" if hint else ""
    t, e = _float32(out).double(), _float32(expected).double()
    bad = ~torch.isfinite(t) & torch.isfinite(e)
    if bad.any():
        kind = "NaN" if t.isnan().any() else "infinite values"
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise Hint(f"{what} contains {kind} ({int(bad.sum())} of {t.numel()} values, the first at index "
                   f"{first}): look for 0 / 0, a division by zero, the square root or log of a "
                   f"non-positive number.{extra}")
    if close(out, expected, rtol, atol):
        return out
    if out.dtype in _LOW_PRECISION and close(out, expected, _LOW_PRECISION[out.dtype], atol):
        raise Hint(f"{what} is {out.dtype}: it matches only to that type's precision (about 3 "
                   f"significant digits or fewer). Compute and return float32.")
    if not (out.dtype.is_floating_point or out.dtype.is_complex) and not torch.equal(e, e.round()):
        raise Hint(f"{what} has the integer dtype {out.dtype}, so it holds whole numbers, but the "
                   f"answer has fractions: keep a floating dtype (float32).{extra}")
    diff = (t - e).abs()
    i = int(diff.argmax())
    where = tuple(int(v) for v in np.unravel_index(i, tuple(e.shape))) if e.dim() else ()
    raise Hint(f"{what} differs from the expected values by up to {float(diff.flatten()[i]):.3g} "
               f"(at index {where}: yours {float(t.flatten()[i]):.5g}, expected "
               f"{float(e.flatten()[i]):.5g}).{extra}")
