"""The learners' answer bank (tests/answer_bank/): every checker judges answers as a teacher would.

For every checker: each correct answer (at least two styles) passes; each plausible wrong answer
(at least three) fails with the hint that names its mistake; each malformed return (None, a str,
a list, NaN, a wrong dtype, a wrong shape, an exception) gets a message, and no answer makes the
checker raise or fall back on "could not judge". Also: the notebooks' own solutions pass and their
stubs are pending (in strict mode, without raising). One test id per answer:
``test_answer[check_scale-wrong-added the gates]``; ``python tests/test_answer_bank.py`` prints
the counts per checker.
"""

from __future__ import annotations

import ast
import json
import pathlib

import numpy as np
import pytest
import torch
from answer_bank import MALFORMED_KINDS, bank, summary

import senet_lib.exercises as ex
from senet_lib.exercises._core import COULD_NOT_JUDGE

BANK = bank()
CASES = [(name, a) for name, answers in BANK.items() for a in answers]
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _checkers() -> list[str]:
    return sorted(n for n in dir(ex) if n.startswith("check_") and n != "check_prediction")


@pytest.mark.parametrize("name,answer", CASES, ids=[f"{n}-{a.kind}-{a.label}" for n, a in CASES])
def test_answer(name, answer):
    result = getattr(ex, name)(answer.fn)
    assert COULD_NOT_JUDGE not in result.message, result.message
    if answer.kind == "correct":
        assert result.passed, result.message
    else:
        assert not result.passed and not result.pending, result.message
        assert answer.words in result.message, result.message


@pytest.mark.parametrize("name", _checkers())
def test_every_checker_has_its_bank(name):
    counts = summary().get(name)
    assert counts is not None, f"{name} has no answers in tests/answer_bank"
    assert counts["correct"] >= 2 and counts["wrong"] >= 3, counts
    kinds = {a.label for a in BANK[name] if a.kind == "malformed"}
    assert kinds >= set(MALFORMED_KINDS), f"{name}: no malformed answer of kind {set(MALFORMED_KINDS) - kinds}"


@pytest.mark.parametrize("name", _checkers())
def test_stub_is_pending_and_a_wrong_answer_raises_in_strict_mode(name, monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")

    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise: write it")

    result = getattr(ex, name)(stub)
    assert result.pending and not result.passed and "NotImplementedError" in result.message
    first_wrong = next(a for a in BANK[name] if a.kind == "wrong")
    with pytest.raises(ex.ExerciseCheckError, match=first_wrong.words.replace("(", r"\(").replace(")", r"\)")):
        getattr(ex, name)(first_wrong.fn)
    with pytest.raises(ex.ExerciseCheckError, match="pass the function itself"):
        getattr(ex, name)(None)


# --- the machinery every checker inherits -----------------------------------------------------------

def test_a_value_the_checker_did_not_foresee_is_refused_with_a_message_not_a_traceback(monkeypatch):
    from senet_lib.exercises._core import call, checker

    @checker("A checker with a gap")
    def check_gap(fn):
        return f"{1 / len(call(fn))}"          # fails on an empty answer: the checker's own gap

    assert check_gap(lambda: [1]).passed
    result = check_gap(list)
    assert not result.passed and not result.pending and COULD_NOT_JUDGE in result.message
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ex.ExerciseCheckError, match=COULD_NOT_JUDGE):
        check_gap(list)


@pytest.mark.parametrize("value,expected", [
    (3, 3), (2.5, 2.5), (np.int64(3), 3), (np.float32(0.5), 0.5), (torch.tensor(2.0), 2.0),
    (torch.tensor([4]), 4), (np.array(1.5), 1.5),
])
def test_numbers_a_teacher_accepts(value, expected):
    from senet_lib.exercises._core import as_number

    assert as_number(value, "it") == expected


@pytest.mark.parametrize("value,words", [
    (True, "bool"), (np.bool_(False), "bool"), ("3", "str"), (None, "None"), ([3], "list"),
    (float("nan"), "NaN"), (float("inf"), "inf"), (torch.ones(2), "one number"), (1j, "complex"),
    (torch.tensor(True), "bool"),
])
def test_values_that_are_not_numbers_get_a_hint_naming_them(value, words):
    from senet_lib.exercises._core import Hint, as_number

    with pytest.raises(Hint, match=words):
        as_number(value, "it")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64])
def test_tensors_are_compared_in_float32_whatever_their_dtype(dtype):
    from senet_lib.exercises._core import Hint, close, expect_close

    expected = torch.tensor([[1.0, 2.0], [3.0, -2.0]])
    assert close(expected.to(dtype), expected)            # these values are exact in every dtype
    noisy = (expected * (1 + 3e-3)).to(dtype)               # right to half precision only
    if dtype in (torch.float16, torch.bfloat16):
        with pytest.raises(Hint, match=str(dtype)):
            expect_close(noisy, expected, "it")
    assert not close(expected.to(dtype), expected + 0.1)
    assert not close(expected[0], expected) and not close("x", expected) and not close(None, expected)


# --- predictions (check_prediction compares a value, not a function) -------------------------------

from answer_bank.predictions import PREDICTIONS


@pytest.mark.parametrize("kind,label,prediction,truth,options,words", PREDICTIONS,
                         ids=[f"check_prediction-{k}-{label}" for k, label, *_ in PREDICTIONS])
def test_prediction(kind, label, prediction, truth, options, words, monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    if kind in ("correct", "pending"):
        result = ex.check_prediction(prediction, truth, **options)
        assert result.passed is (kind == "correct") and result.pending is (kind == "pending"), result.message
        assert words in result.message, result.message
    else:  # a written prediction that is wrong fails, and raises in strict mode: the message is the point
        with pytest.raises(ex.ExerciseCheckError) as raised:
            ex.check_prediction(prediction, truth, **options)
        assert words in str(raised.value), str(raised.value)
        monkeypatch.delenv("SENET_STRICT_CHECKS")
        result = ex.check_prediction(prediction, truth, **options)
        assert not result.passed and not result.pending and words in result.message, result.message


def test_predictions_have_their_bank():
    kinds = [k for k, *_ in PREDICTIONS]
    assert kinds.count("correct") >= 2 and kinds.count("wrong") >= 3 and "pending" in kinds
    labels = {label for k, label, *_ in PREDICTIONS if k in ("malformed", "pending")}
    assert labels >= set(MALFORMED_KINDS) - {"raises"}, set(MALFORMED_KINDS) - labels


# --- the notebooks' own solutions and stubs ---------------------------------------------------------

def _code_cells(path: pathlib.Path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            src = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
            yield cell.get("metadata", {}).get("tags", []), ast.parse(src)


def _exercise_cells(tag: str) -> list[tuple[str, str, ast.Module, ast.Module]]:
    """(notebook, checker, imports of the notebook, the cell) for each cell tagged ``tag`` that calls a checker."""
    found = []
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        cells = list(_code_cells(path))
        imports = ast.Module([n for _, tree in cells for n in tree.body
                              if isinstance(n, (ast.Import, ast.ImportFrom))], [])
        for tags, tree in cells:
            if tag not in tags:
                continue
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in _checkers() and node.args and isinstance(node.args[0], ast.Name)):
                    found.append((path.stem, node.func.id, node.args[0].id, imports, tree))
    return found


def _run(imports: ast.Module, tree: ast.Module, checker: str, fn_name: str):
    """Define the cell's functions (after the notebook's imports) and run its check on them."""
    ns: dict = {}
    for node in imports.body:  # one by one: a chapter's import that fails is the notebook tests' business
        try:
            exec(compile(ast.Module([node], []), "<imports>", "exec"), ns)  # noqa: S102 - the book's own code
        except ImportError:
            pass
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(defs, []), "<cell>", "exec"), ns)  # noqa: S102
    return getattr(ex, checker)(ns[fn_name])


SOLUTIONS = _exercise_cells("solution")
STUBS = _exercise_cells("exercise-stub")


def test_every_checker_is_used_by_a_solution_and_a_stub():
    assert {c for _, c, *_ in SOLUTIONS} == set(_checkers()) == {c for _, c, *_ in STUBS}


@pytest.mark.parametrize("nb,checker,fn,imports,tree", SOLUTIONS, ids=[f"{n}-{c}" for n, c, *_ in SOLUTIONS])
def test_notebook_solution_passes(nb, checker, fn, imports, tree, monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    result = _run(imports, tree, checker, fn)
    assert result.passed, result.message


@pytest.mark.parametrize("nb,checker,fn,imports,tree", STUBS, ids=[f"{n}-{c}" for n, c, *_ in STUBS])
def test_notebook_stub_is_pending(nb, checker, fn, imports, tree, monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    result = _run(imports, tree, checker, fn)
    assert result.pending and not result.passed, result.message


if __name__ == "__main__":  # the counts for a report: python tests/test_answer_bank.py
    counts = summary()
    counts["check_prediction"] = {k: sum(p[0] == k for p in PREDICTIONS) for k in ("correct", "wrong")}
    counts["check_prediction"]["malformed"] = sum(p[0] in ("malformed", "pending") for p in PREDICTIONS)
    width = max(map(len, counts))
    print(f"{'checker':<{width}}  correct  wrong  malformed")
    for name, c in sorted(counts.items()):
        print(f"{name:<{width}}  {c['correct']:>7}  {c['wrong']:>5}  {c['malformed']:>9}")
    print(f"{len(counts)} checkers, " + ", ".join(f"{sum(c[k] for c in counts.values())} {k}"
                                                 for k in ("correct", "wrong", "malformed")))
