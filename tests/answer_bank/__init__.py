"""The learners' answer bank: for every checker, answers written the way learners write them.

Each chapter module ``chNN`` defines ``BANK = {checker name: [Answer, ...]}``:

- ``correct(label, fn)``: a right answer in some style (loops, einsum, NumPy, a 1x1 convolution,
  float64 inside ...); it must pass.
- ``wrong(label, fn, words)``: a plausible mistake; it must fail (not pending) with a hint that
  contains ``words``, the name of the mistake.
- ``malformed(kind, fn, words)``: a return a checker must survive (``kind`` one of
  :data:`MALFORMED_KINDS`: None, a str, a list, NaN, a wrong dtype, a wrong shape, raising); it
  must fail with a message containing ``words``, never a traceback.

``tests/test_answer_bank.py`` runs them all (one test id per answer) and ``summary()`` counts them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The malformed returns every checker's bank covers.
MALFORMED_KINDS = ("None", "str", "list", "NaN", "dtype", "shape", "raises")
CHAPTERS = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch"))


@dataclass(frozen=True)
class Answer:
    kind: str          # "correct", "wrong" or "malformed"
    label: str         # a few words: the style, the mistake, or the malformed kind
    fn: Callable[..., Any]
    words: str = ""    # what the hint must contain (wrong and malformed answers)


def correct(label: str, fn: Callable[..., Any]) -> Answer:
    return Answer("correct", label, fn)


def wrong(label: str, fn: Callable[..., Any], words: str) -> Answer:
    return Answer("wrong", label, fn, words)


def malformed(kind: str, fn: Callable[..., Any], words: str) -> Answer:
    assert kind in MALFORMED_KINDS, kind
    return Answer("malformed", kind, fn, words)


def raises(*_args: Any, **_kwargs: Any) -> Any:
    """A learner's function that fails half-way."""
    raise ValueError("something went wrong in the learner's code")


def bank() -> dict[str, list[Answer]]:
    """Every chapter's answers, by checker name."""
    out: dict[str, list[Answer]] = {}
    for chapter in CHAPTERS:
        for name, answers in importlib.import_module(f"answer_bank.{chapter}").BANK.items():
            assert name not in out, f"{name} is in two chapters' banks"
            out[name] = answers
    return out


def summary() -> dict[str, dict[str, int]]:
    """Counts per checker: {name: {"correct": n, "wrong": n, "malformed": n}}."""
    return {name: {kind: sum(a.kind == kind for a in answers) for kind in ("correct", "wrong", "malformed")}
            for name, answers in bank().items()}
