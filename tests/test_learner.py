"""The learner's edition (`make learner`, tools/learner.py): what the Colab buttons open.

It is committed in learner/ and must be what the sources give today; its Markdown, rendered by a
CommonMark renderer (markdown-it-py, as Colab and Jupyter render Markdown), shows no MyST
directive, role or target; it holds no solution; its exercises are numbered per chapter as the
HTML book numbers them. That it runs top to bottom is `make learner-notebooks` (part of
`make test`); that its links resolve in the built book is tests/browser/test_learner_edition.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("learner", ROOT / "tools" / "learner.py")
learner = importlib.util.module_from_spec(_spec)
sys.modules["learner"] = learner
_spec.loader.exec_module(learner)

BOOK = learner.Book.load(ROOT)
PAGES = [p for p, ch in BOOK.chapters.items() if ch.notebook]
MD = MarkdownIt("commonmark", {"html": True}).enable("table")
ROLE_LEFT = re.compile(r"\{[A-Za-z0-9_:-]+\}$")     # text right before a code span: a MyST role
DIRECTIVE_TEXT = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{[A-Za-z0-9_-]+\}|^\s*:[a-z-]+:\s|^\([A-Za-z0-9_.:-]+\)=\s*$", re.MULTILINE)


def _cells(page: str, edition: str = "learner") -> list[dict]:
    path = ROOT / ("learner" if edition == "learner" else "") / f"{page}.ipynb"
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def myst_left(markdown: str) -> list[str]:
    """What a CommonMark renderer shows of MyST syntax in ``markdown``: roles (``{term}`x```
    renders as the text ``{term}`` then a code span), directive fences (a code block whose info
    string starts with ``{``), ``:option:`` lines and ``(label)=`` targets left as text."""
    found = []
    for tok in MD.parse(markdown):
        if tok.type == "fence" and tok.info.strip().startswith("{"):
            found.append(f"directive {tok.info.strip()}")
        if tok.type == "inline":
            kids = tok.children or []
            for a, b in pairwise(kids):
                if a.type == "text" and b.type == "code_inline" and ROLE_LEFT.search(a.content):
                    found.append(f"role {ROLE_LEFT.search(a.content).group(0)}`{b.content}`")
            text = "".join(k.content for k in kids if k.type == "text")
            found += [f"text {m.group(0).strip()!r}" for m in DIRECTIVE_TEXT.finditer(text)]
    return found


def test_the_committed_edition_is_what_the_sources_give():
    assert learner.stale_files(ROOT) == [], "run `make learner` and commit learner/ and book/answer_key.md"


@pytest.mark.parametrize("page", PAGES)
def test_no_myst_left_when_rendered_as_commonmark(page):
    left = {i: myst_left(_src(c)) for i, c in enumerate(_cells(page)) if c["cell_type"] == "markdown"}
    assert not {i: v for i, v in left.items() if v}


def test_the_myst_detector_finds_what_colab_would_show_raw():
    teacher = "\n\n".join(_src(c) for c in _cells("book/08_ablations", "teacher") if c["cell_type"] == "markdown")
    found = myst_left(teacher)
    kinds = {f.split()[0] for f in found}
    assert {"role", "directive"} <= kinds, found[:5]
    assert any(f.startswith("role {term}") for f in found) and any("{exercise}" in f for f in found)
    assert myst_left("(sec-x)=\n## A section") == ["text '(sec-x)='"]
    assert myst_left("A `{term}` in code, and `x`: plain text.") == []


@pytest.mark.parametrize("page", PAGES)
def test_solutions_out_stubs_in_outputs_cleared(page):
    teacher, mine = _cells(page, "teacher"), _cells(page)
    solution_code = [_src(c).strip() for c in teacher
                     if c["cell_type"] == "code" and "solution" in c.get("metadata", {}).get("tags", [])]
    text = "\n".join(_src(c) for c in mine)
    for code in solution_code:
        assert code not in text, f"solution code in the learner's edition: {code[:80]!r}"
    assert "{solution" not in text and "**Model answer.**" not in text
    stubs = lambda cells: [_src(c) for c in cells if "exercise-stub" in c.get("metadata", {}).get("tags", [])]
    assert stubs(mine) == stubs(teacher)
    for c in mine:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    setup = [c for c in mine if "setup" in c.get("metadata", {}).get("tags", [])]
    assert len(setup) == 1 and "%pip install" in _src(setup[0]), "the setup cell installs senet_lib on Colab"


@pytest.mark.parametrize("page", PAGES)
def test_exercises_are_headed_and_numbered_per_chapter(page):
    ch = BOOK.chapters[page]
    headings = [m for c in _cells(page) if c["cell_type"] == "markdown"
                for m in re.findall(r"^### Exercise (\d+)\.(\d+): ", _src(c), re.MULTILINE)]
    assert headings == [(str(ch.number), str(k)) for k in range(1, len(ch.exercises) + 1)]
    title = _src(_cells(page)[0]).splitlines()[0]
    assert title == f"# {BOOK.display_title(page)}"
    assert title.startswith(f"# {ch.number}. ") if ch.number else not re.match(r"# \d", title)


def test_links_point_at_the_online_book():
    base = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    links = [u for p in PAGES for c in _cells(p) if c["cell_type"] == "markdown"
             for u in re.findall(r"\]\((https?://[^)\s]+)\)", _src(c))]
    assert links and all(u.startswith(base) for u in links), [u for u in links if not u.startswith(base)][:5]
    pages = {u.split("#")[0].removeprefix(base).removesuffix(".html") for u in links}
    assert pages <= set(BOOK.chapters), pages - set(BOOK.chapters)
    terms = {u.split("#")[1] for u in links if "/glossary.html#" in u}
    assert terms and terms <= set(BOOK.glossary.values())


def _state(page="book/08_ablations"):
    return learner._PageState(page)


def test_converter_forms():
    conv = lambda text: learner.convert_markdown(text, BOOK, _state())
    hint = conv("```{admonition} Hint\n:class: dropdown\nLook at **W1**.\n```")
    assert hint.startswith("<details>\n<summary><b>Hint</b>") and "Look at **W1**." in hint and hint.endswith("</details>")
    box = conv("```{admonition} Predict first\n:class: tip\nGuess.\n\nThen run.\n```")
    assert box.splitlines()[0] == "> **Predict first.** Guess." and "> Then run." in box
    term = conv("a {term}`bottleneck` and {term}`gates <gate>`")
    assert re.fullmatch(r"a \[bottleneck\]\(\S+glossary\.html#term-bottleneck\) and \[gates\]\(\S+#term-gate\)", term)
    doc = conv("see {doc}`02_squeeze` and {doc}`chapter 6 <06_training>`")
    assert "[2. Squeeze:" in doc and "[chapter 6](" in doc and doc.count(BOOK.baseurl) == 2
    state = _state()
    cite = learner.convert_markdown("A {footcite}`hu2020senet`, B {footcite}`he2016resnet,hu2020senet`.\n\n"
                                    "```{footbibliography}\n```", BOOK, state)
    assert "A [1], B [2, 1]." in cite and "He et al. [2] showed" in learner.convert_markdown(
        "{footcite:t}`he2016resnet` showed", BOOK, state) and "1. Hu et al. (2020). Squeeze-and-Excitation Networks." in cite
    assert conv("(sec-a)=\n## A") == '<a id="sec-a"></a>\n## A'
    assert conv("`{term}` stays code, $\\frac{C}{r}$ stays math") == "`{term}` stays code, $\\frac{C}{r}$ stays math"


@pytest.mark.parametrize("text, match", [
    ("```{figure} x.png\n```", r"directive \{figure\}"),
    ("an {abbr}`SE (squeeze)`", r"role \{abbr\}"),
    ("a {term}`no such term`", "not in the glossary"),
    ("{footcite}`nobody2099`", "not in the .bib"),
    ("{doc}`99_missing`", "not a page"),
    ("{ref}`ex-missing`", "no exercise has that label"),
    ("```{admonition} Open\nnever closed", "never closed"),
    ("```{solution-start} ex-a\n```", "must be removed"),
])
def test_unknown_or_broken_myst_is_an_error_not_raw_text(text, match):
    with pytest.raises(learner.LearnerEditionError, match=match):
        learner.convert_markdown(text, BOOK, _state())


def test_the_answer_key_has_every_exercise_and_its_solution():
    key = (ROOT / learner.ANSWER_KEY).read_text(encoding="utf-8")
    for page in PAGES:
        ch = BOOK.chapters[page]
        for k in range(1, len(ch.exercises) + 1):
            assert f"### Exercise {ch.number}.{k}: " in key, (page, k)
    n_solutions = sum(_src(c).count("{solution-start}") for p in PAGES for c in _cells(p, "teacher"))
    assert key.count("**Solution.**") == n_solutions
    assert "def se_forward(x, w1, w2, b2):" in key and "```{code-block} python\n:class: solution-code" in key
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert any(c["file"] == "book/answer_key" for part in toc["parts"] for c in part["chapters"])
