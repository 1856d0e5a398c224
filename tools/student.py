"""Make the student edition of the book: every chapter with its solutions taken out.

    python tools/student.py book/ -o _build/student [--force]

For each chapter notebook ``book/NN_name.ipynb`` it writes ``_build/student/NN_name.ipynb`` with

- every gated solution removed: the ``{solution-start}`` markdown cell, the code cells after it
  (tagged ``solution``) and the ``{solution-end}`` cell, inclusive; also any other cell tagged
  ``solution`` and any single ``{solution}`` block;
- the cells of the "change it and explain" questions (``:class: explain``; the code cell tagged
  ``explain`` runs as given) kept, their model answers (gated solutions) removed;
- the exercise stubs (cells tagged ``exercise-stub``, which raise
  ``NotImplementedError("Exercise: ...")`` and then call their checker) left as they are, and so
  are the hints between an exercise and its stub (collapsed ``{admonition} Hint`` blocks, meant to
  be opened before trying) and the predict-then-run questions (``prediction = None`` cells);
- every output and execution count cleared;
- everything else unchanged, in the same order.

The teacher edition (the source folder) is only read. The command refuses to write into the
source folder or below it, and refuses a non-empty output folder unless ``--force`` is given.
It needs only the standard library (notebooks are JSON), so it works from the installed wheel.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["StudentEditionError", "ChapterReport", "student_notebook", "make_student_edition", "main"]

_DIRECTIVE = r"^\s*(?:`{3,}|:{3,})\s*\{%s\}"
SOLUTION_START = re.compile(_DIRECTIVE % "solution-start", re.MULTILINE)
SOLUTION_END = re.compile(_DIRECTIVE % "solution-end", re.MULTILINE)
SOLUTION_BLOCK = re.compile(_DIRECTIVE % "solution", re.MULTILINE)
EXERCISE = re.compile(_DIRECTIVE % "exercise", re.MULTILINE)
# A "change it and explain" question: an exercise with `:class: explain`, whose code cell (tagged
# `explain`) runs as given and whose model answer sits in a gated solution like any other.
EXPLAIN = re.compile(r"^\s*(?:`{3,}|:{3,})\s*\{exercise\}[^\n]*\n(?:[ \t]*:[a-z-]+:[^\n]*\n)*?"
                     r"[ \t]*:class:[^\n]*\bexplain\b", re.MULTILINE)
EXPLAIN_TAG = "explain"
STUB_RAISES = re.compile(r"raise\s+NotImplementedError\(\s*[rf]?[\"']Exercise: ")
STUB_TAG = "exercise-stub"
SOLUTION_TAG = "solution"


class StudentEditionError(ValueError):
    """A notebook or an argument that the student edition cannot be made from."""


@dataclass(frozen=True)
class ChapterReport:
    """What was done to one chapter."""

    name: str
    exercises: int
    stubs: int
    removed_cells: int


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def student_notebook(nb: dict[str, Any], name: str = "notebook") -> tuple[dict[str, Any], ChapterReport]:
    """Return the student version of the notebook ``nb`` (a parsed .ipynb) and a report.

    Raises :class:`StudentEditionError` when a ``{solution-start}`` has no ``{solution-end}``
    (or the reverse), or when an exercise has no stub cell.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise StudentEditionError(f"{name}: not a notebook (no list of cells)")
    kept: list[dict[str, Any]] = []
    removed = 0
    open_at: int | None = None
    for i, cell in enumerate(nb["cells"]):
        src = _source(cell) if cell.get("cell_type") == "markdown" else ""
        if SOLUTION_START.search(src):
            if open_at is not None:
                raise StudentEditionError(
                    f"{name}: cell {i} starts a solution while the one started in cell {open_at} "
                    "has no {solution-end}")
            open_at = i
        if open_at is not None:
            removed += 1
            if SOLUTION_END.search(src):
                open_at = None
            continue
        if SOLUTION_END.search(src):
            raise StudentEditionError(f"{name}: cell {i} ends a solution that was never started")
        if SOLUTION_TAG in _tags(cell) or SOLUTION_BLOCK.search(src):
            removed += 1
            continue
        kept.append(_cleared(cell))
    if open_at is not None:
        raise StudentEditionError(f"{name}: the solution started in cell {open_at} has no {{solution-end}}")

    markdown = [_source(c) for c in kept if c.get("cell_type") == "markdown"]
    explains = sum(len(EXPLAIN.findall(m)) for m in markdown)
    exercises = sum(len(EXERCISE.findall(m)) for m in markdown) - explains
    explain_cells = [c for c in kept if c.get("cell_type") == "code" and EXPLAIN_TAG in _tags(c)]
    if len(explain_cells) < explains:
        raise StudentEditionError(
            f"{name}: {explains} 'change it and explain' question(s) but only {len(explain_cells)} "
            f"code cell(s) tagged {EXPLAIN_TAG!r}: each needs the cell the learner changes and runs")
    stub_cells = [c for c in kept if c.get("cell_type") == "code" and STUB_TAG in _tags(c)]
    for c in stub_cells:
        if not STUB_RAISES.search(_source(c)):
            first_line = (_source(c).strip().splitlines() or [""])[0]
            raise StudentEditionError(
                f"{name}: the {STUB_TAG!r} cell starting {first_line!r} does not raise "
                "NotImplementedError(\"Exercise: ...\"): a stub must not contain the answer")
    stubs = len(stub_cells)
    if stubs < exercises:
        raise StudentEditionError(
            f"{name}: {exercises} exercise(s) but only {stubs} cell(s) tagged {STUB_TAG!r}: "
            "each exercise needs a stub that raises NotImplementedError(\"Exercise: ...\")")
    out = {k: v for k, v in nb.items() if k != "cells"}
    out["cells"] = kept
    return out, ChapterReport(name, exercises + explains, stubs, removed)


def _cleared(cell: dict[str, Any]) -> dict[str, Any]:
    cell = dict(cell)
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    return cell


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def make_student_edition(source: Path | str, output: Path | str, force: bool = False) -> list[ChapterReport]:
    """Write the student edition of every notebook in ``source`` into ``output``.

    Args:
        source: the folder with the chapters (``book/``); only read.
        output: the folder to write into; created if missing. Must not be ``source`` or lie
            inside it, and must be empty unless ``force`` is true (then files with the same
            names are replaced; nothing else in it is touched).
        force: allow writing into a non-empty ``output``.

    Returns:
        One :class:`ChapterReport` per chapter, in file-name order.
    """
    src = Path(source).expanduser().resolve()
    out = Path(output).expanduser().resolve()
    if not src.exists():
        raise StudentEditionError(f"source folder {source} does not exist")
    if not src.is_dir():
        raise StudentEditionError(f"source {source} is not a folder (expected the book's folder, e.g. book/)")
    notebooks = sorted(p for p in src.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise StudentEditionError(f"source folder {source} has no .ipynb chapters")
    if _inside(out, src):
        raise StudentEditionError(
            f"output {output} is inside the source folder {source}: that would overwrite or mix "
            "with the teacher edition; choose a folder outside it, e.g. _build/student")
    if out.exists() and not out.is_dir():
        raise StudentEditionError(f"output {output} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise StudentEditionError(
            f"output folder {output} is not empty; pass --force to replace the chapters in it "
            "(other files in it are left alone)")

    editions = []
    for path in notebooks:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StudentEditionError(f"{path.name} is not a readable notebook: {e}") from e
        editions.append((path.name, *student_notebook(nb, path.name)))

    out.mkdir(parents=True, exist_ok=True)
    for name, nb, _ in editions:
        text = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        (out / name).write_text(text, encoding="utf-8")
    return [report for _, _, report in editions]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python tools/student.py",
        description="Write the student edition of the book: solutions removed, exercise stubs kept, "
                    "outputs cleared. The source folder is never modified.")
    ap.add_argument("source", help="the folder with the chapter notebooks, e.g. book/")
    ap.add_argument("-o", "--output", required=True, help="the folder to write, e.g. _build/student")
    ap.add_argument("--force", action="store_true",
                    help="write into a non-empty output folder, replacing chapters of the same name")
    args = ap.parse_args(argv)
    try:
        reports = make_student_edition(args.source, args.output, force=args.force)
    except StudentEditionError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    for r in reports:
        sys.stdout.write(f"{r.name}: {r.exercises} exercise(s), {r.stubs} stub(s), "
                         f"{r.removed_cells} solution cell(s) removed\n")
    sys.stdout.write(f"student edition of {len(reports)} chapter(s) written to {args.output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
