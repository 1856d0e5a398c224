"""Make the learner's edition of the book: what the Colab buttons open.

    python tools/learner.py                 # write learner/ (the committed edition)
    python tools/learner.py --check         # exit 1 if learner/ differs from what the sources give

For every chapter notebook of ``_toc.yml`` it writes ``learner/<path>.ipynb`` (e.g.
``learner/book/01_se_block.ipynb``), the path the book's Colab launch buttons point at
(``repository.path_to_book: learner`` in ``_config.yml``), and ``learner/README.md``:

- **solutions out of sight**: every gated solution (``{solution-start}`` ... ``{solution-end}``,
  the model answers of the "Change it" questions included) is removed, as ``tools/student.py``
  removes it; exercise stubs stay (their checkers show "pending"), outputs are cleared;
- **Markdown that Colab renders** (CommonMark, HTML and ``$`` math; no MyST):
  exercises become headed blocks numbered per chapter as the HTML book numbers them
  ("Exercise 6.2: ..."), hints fold in HTML ``<details>``, other admonitions ("Predict first")
  become block quotes, glossary terms link to the online glossary, ``{doc}`` and ``{ref}`` to
  the online pages, citations become short numbered references ``[1]`` with a list of links
  where the chapter had its ``{footbibliography}``, and ``(label)=`` targets become HTML anchors;
- a note under the title says what this edition is and links the chapter online.

Any MyST directive or role the converter does not know is an error, so new syntax cannot slip
into the learner's edition unconverted. The teacher's edition (``book/``, solutions in place) is
what the HTML book renders; it is only read. The online book's address is ``html.baseurl`` in
``_config.yml``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from student import StudentEditionError, student_notebook

__all__ = ["LearnerEditionError", "Book", "convert_markdown", "learner_notebook",
           "learner_edition", "write_learner_edition", "main"]

ROOT = Path(__file__).resolve().parents[1]
FOLDER = "learner"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[a-zA-Z0-9_-]+)\}[ \t]*(?P<arg>.*?)[ \t]*$")
_OPTION = re.compile(r"^[ \t]*:(?P<key>[a-zA-Z0-9_-]+):[ \t]*(?P<value>.*?)[ \t]*$")
_ROLE = re.compile(r"\{(?P<name>[a-zA-Z0-9_:-]+)\}`(?P<content>[^`]+)`")
_TARGET = re.compile(r"^\((?P<label>[A-Za-z0-9_.:-]+)\)=[ \t]*$", re.MULTILINE)
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_HEADING = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t]*$", re.MULTILINE)

ADMONITIONS = ("note", "tip", "hint", "important", "warning", "caution", "attention", "seealso")


class LearnerEditionError(ValueError):
    """A notebook, a role or a directive the learner's edition cannot be made from."""


@dataclass
class Chapter:
    """One page of the book as the generator sees it."""

    path: str                  # "book/01_se_block" (no suffix), as in _toc.yml
    title: str                 # the page's first heading, without any number
    number: int | None         # the chapter number the HTML book shows, None if unnumbered
    notebook: bool
    exercises: dict[str, int] = field(default_factory=dict)  # label -> number within the chapter


@dataclass
class Book:
    """What the converter needs to know about the whole book: pages, numbers, glossary, sources."""

    root: Path
    baseurl: str
    chapters: dict[str, Chapter]
    glossary: dict[str, str]   # term (as written) -> anchor id on the glossary page
    glossary_page: str
    bibliography: dict[str, dict[str, str]]

    @classmethod
    def load(cls, root: Path | str = ROOT) -> Book:
        root = Path(root)
        config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
        baseurl = str((config.get("html") or {}).get("baseurl") or "").strip()
        if not baseurl.startswith("https://"):
            raise LearnerEditionError("_config.yml needs html.baseurl (the online book's https:// "
                                      f"address) for the learner's edition's links, got {baseurl!r}")
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
        chapters: dict[str, Chapter] = {}
        number = 0
        pages = [(toc["root"], False)]
        for part in toc.get("parts", []):
            pages += [(c["file"], bool(part.get("numbered"))) for c in part.get("chapters", [])]
        for page, numbered in pages:
            nb = root / f"{page}.ipynb"
            md = root / f"{page}.md"
            if nb.exists():
                cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
                text = "\n\n".join(_source(c) for c in cells if c.get("cell_type") == "markdown")
            elif md.exists():
                text = md.read_text(encoding="utf-8")
            else:
                raise LearnerEditionError(f"_toc.yml lists {page!r}, but neither {page}.ipynb nor {page}.md exists")
            heading = _HEADING.search(text)
            if heading is None:
                raise LearnerEditionError(f"{page}: no '# Title' heading")
            if numbered:
                number += 1
            labels = re.findall(r"^[ \t]*(?:`{3,}|:{3,})\{exercise\}.*\n(?:[ \t]*:(?!label:)[a-z-]+:.*\n)*"
                                r"[ \t]*:label:[ \t]*(\S+)", text, re.MULTILINE)
            chapters[page] = Chapter(page, heading.group("title"), number if numbered else None,
                                     nb.exists(), {label: i for i, label in enumerate(labels, 1)})
        glossary_page = next((p for p in chapters if p.endswith("glossary")), "")
        glossary = {}
        if glossary_page:
            text = (root / f"{glossary_page}.md").read_text(encoding="utf-8")
            block = re.search(r"^(`{3,}|:{3,})\{glossary\}[^\n]*\n(.*?)^\1[ \t]*$", text, re.MULTILINE | re.DOTALL)
            if block:
                for term in re.findall(r"^(\S[^\n]*)$", block.group(2), re.MULTILINE):
                    if not term.startswith(":"):
                        glossary[term.strip()] = "term-" + re.sub(r"[^\w]+", "-", term.strip()).strip("-")
        return cls(root, baseurl.rstrip("/") + "/", chapters, glossary, glossary_page,
                   _bibliography(root, config))

    def page_url(self, page: str, anchor: str = "") -> str:
        return f"{self.baseurl}{page}.html" + (f"#{anchor}" if anchor else "")

    def display_title(self, page: str) -> str:
        ch = self.chapters[page]
        return f"{ch.number}. {ch.title}" if ch.number is not None else ch.title

    def resolve_page(self, target: str, here: str) -> str:
        """The toc path of a ``{doc}`` target written in page ``here``."""
        target = target.removesuffix(".ipynb").removesuffix(".md")
        if target.startswith("/"):
            candidate = target.lstrip("/")
        else:
            candidate = str(Path(here).parent / target) if "/" in here else target
        candidate = str(Path(candidate))
        if candidate not in self.chapters:
            raise LearnerEditionError(f"{here}: {{doc}} target {target!r} is not a page of the book")
        return candidate

    def exercise(self, label: str) -> tuple[str, str]:
        """``(page, "Exercise N.k")`` for an exercise label anywhere in the book."""
        for page, ch in self.chapters.items():
            if label in ch.exercises:
                k = ch.exercises[label]
                return page, f"Exercise {ch.number}.{k}" if ch.number is not None else f"Exercise {k}"
        raise LearnerEditionError(f"{{ref}} or {{numref}} to {label!r}: no exercise has that label")


def _bibliography(root: Path, config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Every entry of the book's .bib files: short author list, year, title, venue and a link."""
    from pybtex.database import parse_file

    out: dict[str, dict[str, str]] = {}
    for bib in config.get("bibtex_bibfiles", []):
        data = parse_file(str(root / bib))
        for key, entry in data.entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            last = [" ".join(p.last_names) for p in people]
            authors = (last[0] + " et al." if len(last) > 3 else ", ".join(last[:-1]) + " and " + last[-1]
                       if len(last) > 1 else (last[0] if last else ""))
            f = entry.fields
            venue = f.get("journal") or f.get("booktitle") or f.get("publisher") or f.get("howpublished") or ""
            link = f.get("url") or (f"https://doi.org/{f['doi']}" if f.get("doi") else "")
            if not link and f.get("eprint"):
                link = f"https://arxiv.org/abs/{f['eprint']}"
            clean = lambda s: re.sub(r"[{}]", "", s).replace("\\&", "&").replace("--", "–")
            out[key] = {"authors": clean(authors), "year": f.get("year", ""), "title": clean(f.get("title", "")),
                        "venue": clean(venue), "link": link}
    return out


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


# ----------------------------------------------------------------------------------------------
# Markdown: MyST -> CommonMark
# ----------------------------------------------------------------------------------------------


@dataclass
class _PageState:
    page: str
    citations: list[str] = field(default_factory=list)   # keys in order of first citation
    exercise_count: int = 0


def _split_directives(text: str) -> Iterable[tuple[str, Any]]:
    """Yield ``("text", str)`` and ``("directive", (name, arg, options, body))`` pieces."""
    lines = text.split("\n")
    i, plain = 0, []
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            plain.append(lines[i])
            i += 1
            continue
        if plain:
            yield "text", "\n".join(plain)
            plain = []
        fence = m.group("fence")
        close = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
        options: dict[str, str] = {}
        j = i + 1
        while j < len(lines) and _OPTION.match(lines[j]):
            o = _OPTION.match(lines[j])
            options[o.group("key")] = o.group("value")
            j += 1
        body, depth = [], 0
        while j < len(lines):
            inner = _FENCE.match(lines[j])
            if inner and inner.group("fence")[0] == fence[0] and len(inner.group("fence")) == len(fence):
                depth += 1
            elif close.match(lines[j]):
                if depth == 0:
                    break
                depth -= 1
            body.append(lines[j])
            j += 1
        else:
            raise LearnerEditionError(f"the {{{m.group('name')}}} directive opened by {lines[i]!r} is never closed")
        yield "directive", (m.group("name"), m.group("arg"), options, "\n".join(body).strip("\n"))
        i = j + 1
    if plain:
        yield "text", "\n".join(plain)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.split("\n"))


def _roles(text: str, book: Book, state: _PageState) -> str:
    """Replace every MyST role outside code spans and math by CommonMark."""
    out, i = [], 0
    while i < len(text):
        role = _ROLE.match(text, i)
        if role:                                   # {name}`content`
            out.append(_role(role.group("name"), role.group("content"), book, state))
            i = role.end()
            continue
        if text[i] == "`":                         # an inline code span: copied as it is
            run = re.match(r"`+", text[i:]).group(0)
            end = text.find(run, i + len(run))
            while end != -1 and text[end + len(run):end + len(run) + 1] == "`":
                end = text.find(run, end + len(run) + 1)
            if end == -1:
                out.append(run)
                i += len(run)
            else:
                out.append(text[i:end + len(run)])
                i = end + len(run)
            continue
        if text[i] == "$":                         # math: copied as it is
            delim = "$$" if text.startswith("$$", i) else "$"
            end = text.find(delim, i + len(delim))
            if end != -1:
                out.append(text[i:end + len(delim)])
                i = end + len(delim)
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _role(name: str, content: str, book: Book, state: _PageState) -> str:
    explicit = _EXPLICIT.match(content)
    text, target = (explicit.group("text"), explicit.group("target")) if explicit else (content, content)
    if name == "term":
        anchor = book.glossary.get(target) or next(
            (a for t, a in book.glossary.items() if t.lower() == target.lower()), None)
        if anchor is None:
            raise LearnerEditionError(f"{state.page}: {{term}} {target!r} is not in the glossary")
        return f"[{text}]({book.page_url(book.glossary_page, anchor)})"
    if name in ("footcite", "footcite:p", "footcite:t", "cite", "cite:p", "cite:t"):
        numbers = []
        for key in [k.strip() for k in content.split(",")]:
            if key not in book.bibliography:
                raise LearnerEditionError(f"{state.page}: citation key {key!r} is not in the .bib files")
            if key not in state.citations:
                state.citations.append(key)
            number = str(state.citations.index(key) + 1)
            # textual citations ({footcite:t}) name the authors, as the HTML book does
            numbers.append(f"{book.bibliography[key]['authors']} [{number}]" if name.endswith(":t") else number)
        return ", ".join(numbers) if name.endswith(":t") else "[" + ", ".join(numbers) + "]"
    if name == "doc":
        page = book.resolve_page(target, state.page)
        label = text if explicit else book.display_title(page)
        return f"[{label}]({book.page_url(page)})"
    if name in ("ref", "numref"):
        page, number = book.exercise(target)
        label = text if explicit else number
        return f"[{label}]({book.page_url(page, target)})"
    raise LearnerEditionError(f"{state.page}: the role {{{name}}} has no learner's-edition form")


def _references(book: Book, state: _PageState) -> str:
    if not state.citations:
        return ""
    lines = ["**References**", ""]
    for i, key in enumerate(state.citations, 1):
        e = book.bibliography[key]
        venue = f" *{e['venue']}*." if e["venue"] else ""
        link = f" <{e['link']}>" if e["link"] else ""
        lines.append(f"{i}. {e['authors']} ({e['year']}). {e['title']}.{venue}{link}")
    return "\n".join(lines)


def convert_markdown(text: str, book: Book, state: _PageState) -> str:
    """One markdown cell of ``state.page`` in CommonMark: no MyST directive, role or target left."""
    pieces = []
    for kind, value in _split_directives(text):
        if kind == "text":
            value = _TARGET.sub(lambda m: f'<a id="{m.group("label")}"></a>', value)
            pieces.append(_roles(value, book, state))
            continue
        name, arg, options, body = value
        inner = convert_markdown(body, book, state) if body else ""
        if name == "exercise":
            state.exercise_count += 1
            ch = book.chapters[state.page]
            label = options.get("label", "")
            expected = ch.exercises.get(label)
            if expected is not None and expected != state.exercise_count:
                raise LearnerEditionError(f"{state.page}: exercise {label!r} numbered out of order")
            number = f"{ch.number}.{state.exercise_count}" if ch.number is not None else str(state.exercise_count)
            kind_note = " (change it and explain)" if "explain" in options.get("class", "").split() else ""
            anchor = f'<a id="{label}"></a>\n\n' if label else ""
            pieces.append(f"{anchor}### Exercise {number}: {_roles(arg, book, state)}{kind_note}\n\n{inner}")
        elif name in ("admonition", *ADMONITIONS):
            title = _roles(arg, book, state) if name == "admonition" else (arg or name.capitalize())
            if name == "admonition" and not arg:
                raise LearnerEditionError(f"{state.page}: an {{admonition}} needs a title")
            if "dropdown" in options.get("class", "").split():
                pieces.append(f"<details>\n<summary><b>{title}</b> (click to open)</summary>\n\n{inner}\n\n</details>")
            else:
                pieces.append(_quote(f"**{title}.** {inner}" if inner else f"**{title}.**"))
        elif name == "footbibliography":
            pieces.append(_references(book, state))
        elif name in ("solution", "solution-start", "solution-end"):
            raise LearnerEditionError(f"{state.page}: a {{{name}}} reached the converter: solutions "
                                      "must be removed before the Markdown is converted")
        else:
            raise LearnerEditionError(f"{state.page}: the directive {{{name}}} has no learner's-edition form")
    return "\n".join(pieces)


# ----------------------------------------------------------------------------------------------
# Notebooks
# ----------------------------------------------------------------------------------------------


def _banner(book: Book, page: str) -> dict[str, Any]:
    text = (f"> **Learner's edition.** This notebook is chapter {book.chapters[page].number} of "
            f"*SE-Nets, hands-on*, made for running in Colab: the exercises are here with their "
            f"checkers, their solutions are not. Read the chapter, with its figures and the "
            f"instructors' solutions, online: <{book.page_url(page)}>. Run the cells from the top; "
            f"the first one installs `senet_lib`.")
    if book.chapters[page].number is None:
        text = text.replace(f"chapter {book.chapters[page].number}", "a page")
    return {"cell_type": "markdown", "metadata": {"tags": ["learner-banner"]}, "source": text}


def learner_notebook(nb: dict[str, Any], page: str, book: Book) -> dict[str, Any]:
    """The learner's edition of the notebook ``nb`` (parsed .ipynb) of toc page ``page``."""
    try:
        stripped, _ = student_notebook(nb, page)
    except StudentEditionError as e:
        raise LearnerEditionError(str(e)) from None
    state = _PageState(page)
    cells = []
    for i, cell in enumerate(stripped["cells"]):
        cell = {k: v for k, v in cell.items() if k != "id"}
        if cell.get("cell_type") == "markdown":
            text = _source(cell)
            if i == 0:
                heading = _HEADING.search(text)
                if heading:
                    text = text[:heading.start()] + "# " + book.display_title(page) + text[heading.end():]
            cell = {**cell, "source": convert_markdown(text, book, state)}
            cell.pop("attachments", None)
        cells.append(cell)
        if i == 0:
            cells.append(_banner(book, page))
    out = {k: v for k, v in stripped.items() if k != "cells"}
    out["nbformat"], out["nbformat_minor"] = 4, 4   # no cell ids: stable files, valid for nbformat 4.4
    out["cells"] = cells
    return out


ANSWER_KEY = "book/answer_key.md"


def answer_key(book: Book) -> str:
    """The answer key page (MyST, rendered by the HTML book): every exercise of every chapter with
    its task, its solution code and its model answer, numbered as the chapters number them."""
    out = ["# Answer key", "",
           "Every exercise of the book with its solution, and the model answers of the \"Change it\"",
           "questions, chapter by chapter. The solutions are the teacher's edition's own cells, run",
           "and checked each time the book is built; this page is made from them by `make learner`",
           "(`tools/learner.py`), which also writes the learner's edition that Colab opens (solutions",
           "left out). Hand learners the chapters; keep this page for yourself.", ""]
    for page, ch in book.chapters.items():
        if not ch.notebook or not ch.exercises:
            continue
        cells = json.loads((book.root / f"{page}.ipynb").read_text(encoding="utf-8"))["cells"]
        out += [f"## {book.display_title(page)}", "",
                f"The chapter: {{doc}}`{ch.title} </{page}>`.", ""]
        tasks: dict[str, tuple[str, str, str]] = {}
        current: str | None = None
        for cell in cells:
            src = _source(cell)
            if cell.get("cell_type") == "markdown":
                for kind, value in _split_directives(src):
                    if kind != "directive":
                        continue
                    name, arg, options, body = value
                    if name == "exercise":
                        tasks[options.get("label", "")] = (arg, options.get("class", ""), body)
                    elif name == "solution-start":
                        current = arg.strip()
                        label = current
                        title, klass, body_ = tasks[label]
                        kind_note = " (change it and explain)" if "explain" in klass.split() else ""
                        out += [f"### Exercise {ch.number}.{ch.exercises[label]}: {title}{kind_note}", "",
                                body_, "", "**Solution.**", ""]
                    elif name == "solution-end":
                        current = None
                if current is not None and "{solution-start}" not in src and "{solution-end}" not in src:
                    out += [src.strip(), ""]
            elif current is not None and cell.get("cell_type") == "code":
                # marked as the chapters' code cells are: code may scroll sideways, outputs may not
                out += ["```{code-block} python", ":class: solution-code", "", src.rstrip(), "```", ""]
    out += ["## References", "", "```{footbibliography}", "```", ""]
    return "\n".join(out)


def learner_edition(root: Path | str = ROOT) -> dict[str, str]:
    """Every file of the learner's edition: ``{relative path under learner/: text}``."""
    book = Book.load(root)
    files: dict[str, str] = {}
    for page, ch in book.chapters.items():
        if not ch.notebook:
            continue
        nb = json.loads((book.root / f"{page}.ipynb").read_text(encoding="utf-8"))
        edition = learner_notebook(nb, page, book)
        files[f"{page}.ipynb"] = json.dumps(edition, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    listing = "\n".join(f"- [{book.display_title(p)}]({p}.ipynb)" for p, c in book.chapters.items() if c.notebook)
    files["README.md"] = (
        "# The learner's edition (generated: do not edit)\n\n"
        "These notebooks are what the book's Colab buttons open: the chapters of `book/` with their\n"
        "solutions removed and their MyST markup turned into Markdown that Colab renders. They are\n"
        "made from the sources by `make learner` (`python tools/learner.py`), and `make test` checks\n"
        "that they are up to date. Edit `book/`, then run `make learner`.\n\n" + listing + "\n")
    return files


def generated_files(root: Path | str = ROOT, folder: str = FOLDER) -> dict[str, str]:
    """Everything ``make learner`` writes, ``{path relative to root: text}``: the learner's
    edition under ``folder`` and the answer key page ``book/answer_key.md``."""
    files = {f"{folder}/{rel}": text for rel, text in learner_edition(root).items()}
    files[ANSWER_KEY] = answer_key(Book.load(root))
    return files


def write_learner_edition(root: Path | str = ROOT, folder: str = FOLDER) -> list[str]:
    """Write :func:`generated_files` under ``root``, removing files in ``folder`` that the
    sources no longer make; returns the paths written."""
    root = Path(root)
    files = generated_files(root, folder)
    target = root / folder
    for old in sorted(target.rglob("*")) if target.exists() else []:
        if old.is_file() and f"{folder}/{old.relative_to(target)}" not in files:
            old.unlink()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


def stale_files(root: Path | str = ROOT, folder: str = FOLDER) -> list[str]:
    """The generated files under ``root`` that differ from what the sources give (missing,
    changed, or in ``folder`` without a source)."""
    root = Path(root)
    files = generated_files(root, folder)
    stale = [rel for rel, text in files.items()
             if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text]
    target = root / folder
    if target.exists():
        stale += [f"{folder}/{p.relative_to(target)}" for p in target.rglob("*")
                  if p.is_file() and f"{folder}/{p.relative_to(target)}" not in files]
    return sorted(stale)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/learner.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 listing the files of learner/ that are not up to date")
    args = ap.parse_args(argv)
    try:
        if args.check:
            stale = stale_files()
            if stale:
                sys.stderr.write("the learner's edition is not up to date with book/ (run `make learner`): "
                                 + ", ".join(stale) + "\n")
                return 1
            sys.stdout.write("the learner's edition and the answer key are up to date\n")
            return 0
        written = write_learner_edition()
    except LearnerEditionError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    sys.stdout.write(f"learner's edition and answer key: {len(written)} file(s) written\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
