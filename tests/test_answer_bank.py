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

import pytest

import senet_lib.exercises as ex
from answer_bank import MALFORMED_KINDS, bank, summary
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


# --- predictions (check_prediction compares a value, not a function) -------------------------------

from answer_bank.predictions import PREDICTIONS  # noqa: E402


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
