"""Book hygiene beyond the notebooks themselves: `_toc.yml` and the pages under book/ agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from book_toc import toc_entries

ROOT = Path(__file__).resolve().parents[1]
PAGE_SUFFIXES = (".ipynb", ".md")


TOC = toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text()))


def _stem(entry: str) -> str:
    return re.sub(r"\.(md|ipynb)$", "", entry)


def test_toc_walker_finds_nested_entries():
    toc = {"root": "book/index", "parts": [{"caption": "A", "chapters": [
        {"file": "book/a", "sections": [{"file": "book/a1"}]}, {"file": "book/b.md"}]}]}
    assert toc_entries(toc) == ["book/index", "book/a", "book/a1", "book/b.md"]


def test_every_toc_entry_exists_once():
    assert TOC, "_toc.yml lists no page"
    stems = [_stem(e) for e in TOC]
    assert len(stems) == len(set(stems)), f"pages listed twice in _toc.yml: {stems}"
    missing = [e for e in stems if not any((ROOT / f"{e}{s}").exists() for s in PAGE_SUFFIXES)]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"
    ambiguous = [e for e in stems if all((ROOT / f"{e}{s}").exists() for s in PAGE_SUFFIXES)]
    assert not ambiguous, f"both .md and .ipynb exist for: {ambiguous}"


def test_every_page_under_book_is_reachable_from_the_toc():
    pages = sorted(p.relative_to(ROOT).with_suffix("").as_posix()
                   for p in (ROOT / "book").rglob("*")
                   if p.suffix in PAGE_SUFFIXES and ".ipynb_checkpoints" not in p.parts)
    listed = {_stem(e) for e in TOC}
    orphans = [p for p in pages if p not in listed]
    assert not orphans, f"pages under book/ that _toc.yml does not list (readers never see them): {orphans}"


def test_chapters_come_in_numbered_reading_order():
    numbers = [int(m.group(1)) for e in TOC if (m := re.match(r"book/(\d+)_", e))]
    assert numbers == sorted(numbers), f"chapters out of order in _toc.yml: {numbers}"


# --- book/instructors.md stays in step with the chapters

INSTRUCTORS = ROOT / "book" / "instructors.md"
ROW = re.compile(r"^\|\s*\{doc\}`(\d\d_\w+)`\s*\|\s*(\d+)\s*\|\s*(?:(\d+) h)?\s*(?:(\d+) min)?\s*\|\s*$", re.MULTILINE)


def _chapter_stats(stem: str) -> tuple[int, float]:
    """(number of exercises, estimated minutes) by the formula instructors.md states."""
    import json

    nb = json.loads((ROOT / "book" / f"{stem}.ipynb").read_text())
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = sum(1 for c in nb["cells"] if c["cell_type"] == "code")
    exercises = md.count("{exercise}")
    return exercises, len(re.findall(r"\w+", md)) / 100 + code + 12 * exercises


def test_instructors_page_and_answer_key_are_last_in_the_toc():
    assert TOC[-2:] == ["book/instructors", "book/answer_key"], \
        "book/instructors, then the answer key (made by make learner), belong at the end of _toc.yml"


def test_instructors_page_covers_every_chapter_with_its_exercises_and_time():
    text = INSTRUCTORS.read_text()
    chapters = [e.split("/", 1)[1] for e in TOC if re.match(r"book/\d\d_", e)]
    rows = {m.group(1): m for m in ROW.finditer(text)}
    assert sorted(rows) == sorted(chapters), \
        f"instructors.md's table lists {sorted(rows)}, _toc.yml has chapters {chapters}: update the table"
    for stem in chapters:
        exercises, minutes = _chapter_stats(stem)
        row = rows[stem]
        stated = 60 * int(row.group(3) or 0) + int(row.group(4) or 0)
        assert int(row.group(2)) == exercises, f"{stem}: the table says {row.group(2)} exercises, the chapter has {exercises}"
        assert abs(stated - minutes) <= 15, f"{stem}: the table says {stated} min, the formula gives {minutes:.0f}"
        assert f"**{{doc}}`{stem}`.** Learners will be able to" in text, f"instructors.md has no objectives for {stem}"


def test_exercise_and_figure_labels_are_unique_across_the_book():
    """Sphinx labels are global: two chapters with the same `:label:` break the strict build."""
    import json

    seen: dict[str, str] = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for label in re.findall(r"^:label:\s*(\S+)", "".join(cell["source"]), re.MULTILINE):
                assert label not in seen, f"label {label!r} is in both {seen[label]} and {path.name}"
                seen[label] = path.name
    assert len(seen) >= 20
