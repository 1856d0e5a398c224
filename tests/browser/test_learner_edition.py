"""The learner's edition as Colab shows it, and its links into the built book.

Colab renders a notebook's Markdown as CommonMark with HTML and `$` math; it knows no MyST. Each
notebook of learner/ is rendered here the same way (markdown-it-py, CommonMark with tables and
raw HTML; code cells as code; MathJax from the built book) into one page, opened in headless
Chromium: the visible text must show no MyST, hints must be folded `<details>`, every exercise a
numbered heading, every formula typeset. A screenshot of each lands in
`_build/screenshots/learner/`. Every link of the edition to the online book must resolve in the
built book (page and anchor), and every Colab link of the built book must open a file of the
edition.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from markdown_it import MarkdownIt
from test_rendered_book import CONFIG, HTML, ROOT, SHOTS, browser, clear_screenshots, math_problems, server  # noqa: F401

_spec = importlib.util.spec_from_file_location("learner", ROOT / "tools" / "learner.py")
learner = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("learner", learner)
_spec.loader.exec_module(learner)

LEARNER = ROOT / learner.FOLDER
NOTEBOOKS = sorted(LEARNER.rglob("*.ipynb"))
MD = MarkdownIt("commonmark", {"html": True}).enable("table")
# What MyST looks like when a renderer does not know it: a role, a directive fence, an option
# line, a target line.
NAMES = ("term", "doc", "ref", "numref", "footcite", "footcite:t", "footcite:p", "cite", "eq", "math",
         "abbr", "download", "exercise", "solution", "solution-start", "solution-end", "admonition",
         "footbibliography", "bibliography", "glossary", "note", "tip", "warning", "figure", "code-cell")
RAW_MYST = re.compile(r"\{(?:" + "|".join(re.escape(n) for n in NAMES) + r")\}|^\s*(?:```|:::)|"
                      r"^:(?:label|class):|^\([a-z0-9-]+\)=$", re.MULTILINE)


FENCED = "div.md code[class^='language-{']"
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)


def render_markdown(src: str) -> str:
    """Markdown as Jupyter and Colab render it: the math is taken out first (so that ``_`` or
    ``\\`` inside a formula is not read as Markdown), the rest rendered as CommonMark, and the
    math put back for MathJax."""
    found: list[str] = []

    def hold(m: re.Match) -> str:
        found.append(m.group(0))
        return f"@@MATH{len(found) - 1}@@"

    rendered = MD.render(MATH.sub(hold, src))
    return re.sub(r"@@MATH(\d+)@@", lambda m: html.escape(found[int(m.group(1))]), rendered)


def colab_like_html(nb_path: Path, base: str, mathjax: str) -> str:
    """One page showing the notebook as Colab does: Markdown rendered, code as code."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            parts.append(f'<div class="md">{render_markdown(src)}</div>')
        else:
            parts.append(f'<pre class="code">{html.escape(src)}</pre>')
    return f"""<!doctype html><html><head><meta charset="utf-8"><base href="{base}/">
<title>{nb_path.stem}</title>
<script>window.MathJax = {{tex: {{inlineMath: [['$', '$']], displayMath: [['$$', '$$']]}}}};</script>
<script src="{mathjax}"></script>
<style>body {{font-family: sans-serif; max-width: 900px; margin: 1em auto; font-size: 14px}}
pre.code {{background: #f3f3f3; padding: 6px; white-space: pre-wrap}} table {{border-collapse: collapse}}
td, th {{border: 1px solid #ccc; padding: 2px 6px}}</style></head>
<body>{''.join(parts)}</body></html>"""


def _mathjax_src() -> str:
    found = sorted((HTML / "_static").rglob("tex-chtml*.js")) or sorted((HTML / "_static").rglob("tex-*.js"))
    if not found:
        pytest.fail(f"no MathJax in {HTML}/_static (sphinx-mathjax-offline copies it there)")
    return str(found[0].relative_to(HTML))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learner_notebook_as_colab_renders_it(server, browser, path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    try:
        page.set_content(colab_like_html(path, server, _mathjax_src()), wait_until="load")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
        # code cells may hold MyST-looking text (a comment, a string): look at the Markdown only
        md_text = "\n".join(page.eval_on_selector_all("div.md", "els => els.map(e => e.innerText)"))
        raw = [m.group(0) for m in RAW_MYST.finditer(md_text)]
        assert not raw, f"MyST shown raw in {path.name}: {raw[:5]}"
        # a directive's fence renders as a code block whose language is "{name}"
        assert page.eval_on_selector_all(FENCED, "els => els.map(e => e.className)") == []
        errors = page.eval_on_selector_all("mjx-merror", "els => els.map(e => e.textContent)")
        assert not errors, f"TeX errors: {errors[:3]}"
        assert "$$" not in md_text, "display math left untypeset"
        # hints fold, closed; exercises are numbered headings
        details = page.eval_on_selector_all("details", "els => els.map(e => [e.open, e.querySelector('summary').innerText])")
        assert all(not is_open for is_open, _ in details), details
        cells = json.loads((ROOT / path.relative_to(LEARNER)).read_text(encoding="utf-8"))["cells"]
        teacher = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert len(details) == len(re.findall(r"\{admonition\} Hint\n:class: dropdown", teacher)), details
        headings = page.eval_on_selector_all("h3", "els => els.map(e => e.innerText)")
        exercises = [h for h in headings if h.startswith("Exercise ")]
        assert len(exercises) == teacher.count("{exercise}"), exercises
        clear_screenshots()
        shot = SHOTS / "learner" / f"{path.stem}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def _built(url: str) -> tuple[Path, str]:
    base = CONFIG["html"]["baseurl"]
    rel, _, anchor = url.removeprefix(base).partition("#")
    return HTML / rel, anchor


def test_every_link_of_the_edition_resolves_in_the_built_book(server):  # noqa: F811
    base = CONFIG["html"]["baseurl"]
    links = sorted({u for p in NOTEBOOKS for u in re.findall(r"\]\((https?://[^)\s]+)\)", p.read_text(encoding="utf-8"))
                    if u.startswith(base)})
    assert links
    missing = []
    for url in links:
        file, anchor = _built(url)
        if not file.is_file():
            missing.append(f"{url}: no page {file.relative_to(HTML)}")
        elif anchor and f'id="{anchor}"' not in file.read_text(encoding="utf-8"):
            missing.append(f"{url}: no #{anchor} on that page")
    assert not missing, missing[:10]


def test_every_colab_link_of_the_book_opens_a_file_of_the_edition(server):  # noqa: F811
    org_repo = urlparse(CONFIG["repository"]["url"]).path.strip("/")
    prefix = f"{CONFIG['launch_buttons']['colab_url'].rstrip('/')}/github/{org_repo}/blob/{CONFIG['repository']['branch']}/"
    made = {f"{learner.FOLDER}/{rel}" for rel in learner.learner_edition(ROOT) if rel.endswith(".ipynb")}
    found = set()
    for page in HTML.rglob("*.html"):
        for url in re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', page.read_text(encoding="utf-8")):
            url = html.unescape(url)
            assert url.startswith(prefix), url
            target = url.removeprefix(prefix)
            assert target in made, f"{page.relative_to(HTML)}: Colab opens {target}, which make learner does not make"
            assert (ROOT / target).is_file(), target
            found.add(target)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    notebooks = {c["file"] for part in toc["parts"] for c in part["chapters"] if (ROOT / f"{c['file']}.ipynb").exists()}
    assert found == {f"{learner.FOLDER}/{p}.ipynb" for p in notebooks}, found ^ {f"{learner.FOLDER}/{p}.ipynb" for p in notebooks}


def test_the_teachers_notebook_rendered_the_same_way_shows_raw_myst(server, browser):  # noqa: F811
    """What the Colab button opened before the learner's edition: the check above sees it."""
    teacher = ROOT / "book" / "01_se_block.ipynb"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    try:
        page.set_content(colab_like_html(teacher, server, _mathjax_src()), wait_until="load")
        md_text = "\n".join(page.eval_on_selector_all("div.md", "els => els.map(e => e.innerText)"))
        raw = {m.group(0).strip() for m in RAW_MYST.finditer(md_text)}
        assert {"{term}", "{footcite}", ":label:"} <= raw, raw
        fenced = page.eval_on_selector_all(FENCED, "els => els.map(e => e.className)")
        assert {"language-{exercise}", "language-{solution-start}", "language-{admonition}"} <= set(fenced), fenced
        code = "\n".join(page.eval_on_selector_all("pre.code", "els => els.map(e => e.innerText)"))
        assert "def se_forward(x, w1, w2, b2):\n    z = x.mean" in code   # the solution, in plain sight
        clear_screenshots()
        shot = SHOTS / "learner" / "teacher_01_se_block.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
