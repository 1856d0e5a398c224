"""The student edition: `python tools/student.py book/ -o OUT`.

Solutions out, stubs in, outputs cleared, the teacher edition untouched; a student notebook
runs up to its first stub and the checker then reports the exercise as pending ("Not yet").
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT_DIR = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("student", ROOT_DIR / "tools" / "student.py")
student = importlib.util.module_from_spec(_spec)
sys.modules["student"] = student
_spec.loader.exec_module(student)
StudentEditionError, main = student.StudentEditionError, student.main
make_student_edition, student_notebook = student.make_student_edition, student.student_notebook

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
STUB_RAISE = re.compile(r"raise\s+NotImplementedError\(\s*[rf]?[\"']Exercise: ")
EXERCISE_LABEL = re.compile(r"\{exercise\}[^\n]*\n(?:[^\n]*\n)*?\s*:label:\s*(\S+)")
SOLUTION_LABEL = re.compile(r"\{solution-start\}\s*(\S+)")


def _tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _expected_student_cells(nb) -> list:
    """The teacher's cells a student keeps, worked out independently of tools/student.py."""
    kept, inside = [], False
    for cell in nb.cells:
        md = cell.source if cell.cell_type == "markdown" else ""
        if "{solution-start}" in md:
            inside = True
        if inside:
            inside = "{solution-end}" not in md
            continue
        if "solution" in _tags(cell):
            continue
        kept.append(cell)
    return kept


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """Run the real command once; return (output folder, teacher digests before, after)."""
    out = tmp_path_factory.mktemp("student")
    before = _digest(BOOK)
    run = subprocess.run([sys.executable, str(ROOT_DIR / "tools" / "student.py"), str(BOOK), "-o", str(out), "--force"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"student edition of {len(NOTEBOOKS)} chapter(s)" in run.stdout, run.stdout
    return out, before, _digest(BOOK)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_stub_then_a_gated_solution(path):
    nb = nbformat.read(path, as_version=4)
    labels, solutions = [], SOLUTION_LABEL.findall(
        "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or "{exercise}" not in cell.source:
            continue
        found = EXERCISE_LABEL.findall(cell.source)
        assert found, f"{path.name} cell {i}: an exercise without a :label:"
        labels += found
        nxt = next((c for c in nb.cells[i + 1:] if c.cell_type == "code"), None)
        if re.search(r"^:class:.*\bexplain\b", cell.source, re.MULTILINE):   # a "change it and explain" question
            assert nxt is not None and "explain" in _tags(nxt) and not STUB_RAISE.search(nxt.source), \
                f"{path.name}: the first code cell after {found[0]} must be tagged explain and run as given"
            assert "# <- change this" in nxt.source, f"{path.name}: {found[0]}'s cell marks what to change"
            continue
        assert nxt is not None and "exercise-stub" in _tags(nxt), \
            f"{path.name}: the first code cell after exercise {found[0]} must be tagged exercise-stub"
        assert STUB_RAISE.search(nxt.source), \
            f"{path.name}: the stub of {found[0]} must raise NotImplementedError(\"Exercise: ...\")"
        assert re.search(r"^check_\w+\(", nxt.source, re.MULTILINE), \
            f"{path.name}: the stub of {found[0]} must end with its check_...() call"
    assert sorted(labels) == sorted(solutions), \
        f"{path.name}: exercises {labels} vs gated solutions {solutions} (one solution per exercise)"


def test_the_teacher_edition_is_unchanged(edition):
    _, before, after = edition
    assert before and before == after


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_has_stubs_and_no_solutions(edition, path):
    out, _, _ = edition
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(out / path.name, as_version=4)
    nbformat.validate(student)
    assert student.metadata == teacher.metadata

    expected = _expected_student_cells(teacher)
    assert [(c.cell_type, c.source, _tags(c)) for c in student.cells] == \
           [(c.cell_type, c.source, _tags(c)) for c in expected], "student cells differ from the teacher's minus solutions"
    text = json.dumps(student)
    for gone in ["{solution-start}", "{solution-end}", '"solution"']:
        assert gone not in text, f"{path.name}: student edition still contains {gone}"
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None

    n_exercises = sum(c.source.count("{exercise}") for c in teacher.cells if c.cell_type == "markdown")
    n_explain = sum(len(re.findall(r"^:class:.*\bexplain\b", c.source, re.MULTILINE))
                    for c in teacher.cells if c.cell_type == "markdown")
    stubs = [c for c in student.cells if "exercise-stub" in _tags(c)]
    assert len(stubs) == n_exercises - n_explain
    assert len([c for c in student.cells if "explain" in _tags(c)]) == n_explain
    assert "**Model answer.**" not in text
    assert all(STUB_RAISE.search(c.source) for c in stubs)
    if n_exercises:
        assert len(student.cells) < len(teacher.cells), "solutions were not removed"


def _toc_files(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["file"]] if isinstance(node.get("file"), str) else []) + \
            [f for v in node.values() if isinstance(v, (dict, list)) for f in _toc_files(v)]
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    return []


def _first_toc_chapter() -> Path:
    files = _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    chapters = [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]
    assert chapters, "_toc.yml lists no notebook chapter"
    return chapters[0]


def test_student_notebook_runs_to_its_first_stub_which_is_pending(edition, tmp_path, monkeypatch):
    """Execute a student chapter up to and including its first stub: the check says 'Not yet'."""
    from nbclient import NotebookClient

    chapter = _first_toc_chapter()
    out, _, _ = edition
    nb = nbformat.read(out / chapter.name, as_version=4)
    first = next((i for i, c in enumerate(nb.cells) if "exercise-stub" in _tags(c)), None)
    if first is None:
        pytest.skip(f"{chapter.name} has no exercise")
    nb.cells = nb.cells[: first + 1] + [nbformat.v4.new_code_cell(
        "result = _\n"
        "assert type(result).__name__ == 'CheckResult', type(result)\n"
        "assert result.pending and not result.passed, result\n"
        "print('PENDING OK', result)"
    )]
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")  # a pending stub must not fail even in CI mode
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    stub_out = json.dumps(nb.cells[first].outputs)
    assert "NOT YET" in stub_out and "NotImplementedError: Exercise: " in stub_out, stub_out
    assert "PENDING OK" in json.dumps(nb.cells[-1].outputs)


# --- the command's handling of bad arguments (on a scratch copy of the book, never the real one)

@pytest.fixture
def scratch_book(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    for p in NOTEBOOKS[:1]:
        shutil.copy2(p, book / p.name)
    return book


def test_missing_source_folder_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_source_without_notebooks_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 2
    assert "no .ipynb" in capsys.readouterr().err


@pytest.mark.parametrize("where", [".", "student", "sub/dir"])
def test_output_inside_the_book_is_refused_even_with_force(scratch_book, capsys, where):
    before = _digest(scratch_book)
    assert main([str(scratch_book), "-o", str(scratch_book / where), "--force"]) == 2
    assert "inside the source folder" in capsys.readouterr().err
    assert _digest(scratch_book) == before
    assert sorted(p.name for p in scratch_book.iterdir()) == sorted(before)


def test_non_empty_output_needs_force_and_keeps_other_files(scratch_book, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    name = NOTEBOOKS[0].name
    (out / name).write_text("the reader's own work")
    (out / "notes.txt").write_text("keep me")
    assert main([str(scratch_book), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err
    assert (out / name).read_text() == "the reader's own work"

    assert main([str(scratch_book), "-o", str(out), "--force"]) == 0
    assert nbformat.read(out / name, as_version=4).cells
    assert (out / "notes.txt").read_text() == "keep me"


def test_output_that_is_a_file_is_refused(scratch_book, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("x")
    with pytest.raises(StudentEditionError, match="not a folder"):
        make_student_edition(scratch_book, target, force=True)
    assert target.read_text() == "x"


def _nb(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    return json.loads(nbformat.writes(nb))


def test_unterminated_or_unopened_solutions_are_errors():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    def start():
        return md("```{solution-start} ex-a\n:class: dropdown\n```")
    end = md("```{solution-end}\n```")
    with pytest.raises(StudentEditionError, match="no {solution-end}"):
        student_notebook(_nb(start(), code("x = 1")), "t.ipynb")
    with pytest.raises(StudentEditionError, match="never started"):
        student_notebook(_nb(code("x = 1"), end), "t.ipynb")
    with pytest.raises(StudentEditionError, match="starts a solution while"):
        student_notebook(_nb(start(), start(), end), "t.ipynb")


def test_an_exercise_without_stub_is_an_error_and_solutions_go():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    task = md("```{exercise} A\n:label: ex-a\n\nDo it.\n```")
    start = md("```{solution-start} ex-a\n:class: dropdown\n```")
    sol = code("answer = 42", metadata={"tags": ["solution"]})
    end = md("```{solution-end}\n```")
    with pytest.raises(StudentEditionError, match="only 0 cell"):
        student_notebook(_nb(task, start, sol, end), "t.ipynb")

    stub = code('def f():\n    raise NotImplementedError("Exercise: f")\n\ncheck_f(f)',
                metadata={"tags": ["exercise-stub"]})
    stub["outputs"] = [nbformat.v4.new_output("stream", text="old output")]
    stub["execution_count"] = 3
    out, report = student_notebook(_nb(task, stub, start, sol, end, md("after")), "t.ipynb")
    assert ["".join(c["source"]) for c in out["cells"]] == [task.source, stub.source, "after"]
    assert out["cells"][1]["outputs"] == [] and out["cells"][1]["execution_count"] is None
    assert (report.exercises, report.stubs, report.removed_cells) == (1, 1, 3)


def test_a_stub_that_does_not_raise_is_refused():
    """A stub holding the answer would hand the solution to every student."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    task = md("```{exercise} A\n:label: ex-a\n\nDo it.\n```")
    leaky = code("def f():\n    return 42\n\ncheck_f(f)", metadata={"tags": ["exercise-stub"]})
    with pytest.raises(StudentEditionError, match="does not raise"):
        student_notebook(_nb(task, leaky), "t.ipynb")


# --- hints: opened before trying, so they stay in the student edition

HINT = re.compile(r"^```\{admonition\} Hint\n:class: dropdown\n", re.MULTILINE)


def test_a_hint_between_exercise_and_stub_is_kept_and_a_hint_inside_a_solution_goes():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    task = md("```{exercise} A\n:label: ex-a\n\nDo it.\n```")
    hint = md("```{admonition} Hint\n:class: dropdown\nLook at the shapes.\n```")
    stub = code('def f():\n    raise NotImplementedError("Exercise: f")\n\ncheck_f(f)',
                metadata={"tags": ["exercise-stub"]})
    start = md("```{solution-start} ex-a\n:class: dropdown\n```")
    inner_hint = md("```{admonition} Hint\n:class: dropdown\nThe answer is 42.\n```")
    sol = code("answer = 42", metadata={"tags": ["solution"]})
    end = md("```{solution-end}\n```")
    out, report = student_notebook(_nb(task, hint, stub, start, inner_hint, sol, end), "t.ipynb")
    assert ["".join(c["source"]) for c in out["cells"]] == [task.source, hint.source, stub.source]
    assert report.removed_cells == 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_hint_of_the_book_reaches_the_student_edition(edition, path):
    out, _, _ = edition
    def hints(nb):
        return [c.source for c in nb.cells if c.cell_type == "markdown" and HINT.search(c.source)]
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(out / path.name, as_version=4)
    assert hints(student) == hints(teacher)


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if re.match(r"0[1-5]_", p.name)], ids=lambda p: p.name)
def test_chapters_1_to_5_have_a_hint_between_an_exercise_and_its_stub(path):
    nb = nbformat.read(path, as_version=4)
    placed = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and HINT.search(cell.source):
            before = next(c for c in reversed(nb.cells[:i]) if not HINT.search(c.source))
            after = nb.cells[i + 1]
            assert "{exercise}" in before.source and "exercise-stub" in _tags(after), \
                f"{path.name} cell {i}: a hint belongs right after its exercise and before the stub"
            placed += 1
    assert placed >= 1, f"{path.name} has no hint for its exercises"


def test_a_change_it_question_keeps_its_cell_and_loses_its_model_answer():
    task = "```{exercise} Change it: one unit\n:label: ex-one\n:class: explain\n\nSet r.\n```"
    cell = lambda kind, src, tags=(): nbformat.v4.new_code_cell(src, metadata={"tags": list(tags)}) \
        if kind == "code" else nbformat.v4.new_markdown_cell(src)
    nb = nbformat.v4.new_notebook(cells=[
        cell("md", task), cell("code", "r = 32  # <- change this", ["explain"]),
        cell("md", "*Your explanation:* (write it here)"),
        cell("md", "```{solution-start} ex-one\n:class: dropdown\n```"),
        cell("md", "**Model answer.** One unit: the gates move together."),
        cell("code", "print(r)", ["solution"]),
        cell("md", "```{solution-end}\n```")])
    out, report = student_notebook(json.loads(nbformat.writes(nb)))
    sources = ["".join(c["source"]) for c in out["cells"]]
    assert sources == [task, "r = 32  # <- change this", "*Your explanation:* (write it here)"]
    assert report.exercises == 1 and report.stubs == 0 and report.removed_cells == 4
    nb.cells[1].metadata["tags"] = []   # without the cell to change, it is refused
    with pytest.raises(StudentEditionError, match="tagged 'explain'"):
        student_notebook(json.loads(nbformat.writes(nb)))
