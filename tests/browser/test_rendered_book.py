"""The rendered book as a reader meets it: every page of `_toc.yml`, loaded in headless Chromium.

Run by `make browser` (part of `make test`, after the strict build), not by `make unit`:

    .venv/bin/python -m pytest tests/browser

For each page it checks the title, that every image loaded, that every formula was typeset by
MathJax without a TeX error, that no cell output shows a Python traceback or a failed check, the
Colab launch link (notebook pages), that exercise solutions and hints are collapsed until clicked,
that the layout fits the text column (no figure wider than the column or shrunk below
MIN_FIGURE_SCALE of its own size; no cell output, table or literal block that scrolls sideways),
and it saves a full-page screenshot and the layout measurements (`layout.json`) in
`_build/screenshots/`.

The pages are served from `_build/html` on 127.0.0.1; every request that leaves this machine is
blocked, so the test never uses the network. MathJax comes with the book (`_static/mathjax`,
from sphinx-mathjax-offline), so formulas render here as they do for readers. Set SENET_BOOK_ROOT
to test a book built elsewhere (a folder with `_toc.yml`, `_config.yml`, the sources and
`_build/html`).

Without /usr/bin/chromium (Debian's `chromium`) the tests skip, saying so; when CI is set they
fail instead, since `.ci/run` installs it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from book_toc import toc_entries

ROOT = Path(os.environ.get("SENET_BOOK_ROOT", Path(__file__).resolve().parents[2])).resolve()
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path(os.environ.get("SENET_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
# Jupyter Book 1.0.4 (sphinx-thebe) declares this constant in two <script> tags on every notebook
# page; the second throws. Harmless for readers (the live-code button is not enabled).
KNOWN_JS_ERRORS = ["Identifier 'THEBE_JS_URL' has already been declared"]
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^-{20,}\s*\n\s*\w+(Error|Exception)\b", re.MULTILINE)


PAGES = list(dict.fromkeys(re.sub(r"\.(md|ipynb)$", "", f)
                           for f in toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text()))))


def source_of(page: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{page}{suffix}").exists():
            return ROOT / f"{page}{suffix}"
    raise FileNotFoundError(f"_toc.yml lists {page}, which has no .ipynb or .md source in {ROOT}")


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    nb = json.loads(path.read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def code_of(path: Path) -> str:
    if path.suffix != ".ipynb":
        return ""
    nb = json.loads(path.read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def expected_colab_link(page: str) -> str:
    org_repo = urlparse(CONFIG["repository"]["url"]).path.strip("/").removesuffix(".git")
    colab = CONFIG["launch_buttons"]["colab_url"].rstrip("/")
    # the learner's edition (tools/learner.py), not the teacher's notebook in book/
    folder = CONFIG["repository"]["path_to_book"].strip("/")
    return f"{colab}/github/{org_repo}/blob/{CONFIG['repository']['branch']}/{folder}/{page}.ipynb"


def chapter_numbers() -> dict[str, int]:
    """The number the book shows for each page of a ``numbered: true`` part of ``_toc.yml``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [c["file"] for part in toc.get("parts", []) if part.get("numbered")
                for c in part.get("chapters", [])]
    return {page: i for i, page in enumerate(numbered, 1)}


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must not skip the browser test: .ci/run installs chromium)")
    pytest.skip(reason)


_CLEARED = []


def clear_screenshots() -> None:
    """Empty SHOTS once per test session: other modules reuse these fixtures, and their
    screenshots must not delete each other's."""
    if not _CLEARED:
        shutil.rmtree(SHOTS, ignore_errors=True)
        _CLEARED.append(True)
    SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        _unavailable(f"no built book in {HTML}: run `make test` (or `make notebooks strict-book`) first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    clear_screenshots()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page_of(server, browser):
    """Open a page of the book; returns (page, problems) with problems collected while loading."""
    opened = []

    def open_page(name: str):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
        page.on("response", lambda r: r.url.startswith(server) and r.status >= 400
                and problems.append(f"HTTP {r.status} for {r.url}"))
        page.on("requestfailed", lambda r: r.url.startswith(server)
                and problems.append(f"failed to load {r.url}: {r.failure}"))

        def route(r):  # this machine only: anything else is refused, never fetched
            return r.continue_() if r.request.url.startswith(server) else r.abort()

        page.route("**/*", route)
        page.goto(f"{server}/{name}.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        opened.append(page)
        return page, problems

    yield open_page
    for page in opened:
        page.close()


# For every formula on the page (Sphinx marks them with class "math"): its text if MathJax left
# it untypeset, MathJax's message if the TeX has an error (MathJax shows it in red, in place), or
# its width if it is wider than the text column (the theme cuts it off at the column's edge).
MATH_PROBLEMS = """() => [...document.querySelectorAll('.math')].flatMap(e => {
    const text = e.textContent.trim().slice(0, 80);
    if (!e.querySelector('mjx-container')) return ['not typeset: ' + text];
    const errors = [...e.querySelectorAll('mjx-merror')].map(m =>
        'TeX error: ' + (m.getAttribute('data-mjx-error') || m.textContent) + ' in ' + text);
    const math = e.querySelector('mjx-math');
    const wide = e.tagName === 'DIV' && math && math.getBoundingClientRect().width > e.clientWidth + 1
        ? [`wider than the column (${Math.round(math.getBoundingClientRect().width)} > ${e.clientWidth} px): ${text}`]
        : [];
    return [...errors, ...wide];
})"""


def math_problems(page) -> tuple[int, list[str]]:
    """(number of formulas, what is wrong with them) once MathJax has typeset the page."""
    n = page.locator(".math").count()
    if n == 0:
        return 0, []
    scripts = page.eval_on_selector_all(
        "script[src*='mathjax' i]", "els => els.map(e => [e.src, new URL(e.src).origin === location.origin])")
    assert scripts and all(local for _, local in scripts), \
        f"MathJax must come with the book, not from elsewhere: {scripts}"
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")
    return n, page.evaluate(MATH_PROBLEMS)


# --- layout: figures that fit the column, nothing that scrolls sideways

#: The smallest rendered width of a figure, as a fraction of its own (natural) width. The page
#: scales a figure wider than the text column (688 px at a 1280-px window) down to the column, and
#: its text with it: matplotlib's 10-pt default text (at 100 dpi) becomes 10 * s * 100 / 96 pt at
#: scale s. The guide asks for text of at least 9 pt at 100 % zoom: s >= 0.86 for matplotlib's
#: 10-pt default. Every figure of the book is drawn at the column's width (senet_lib.figures.
#: COLUMN_WIDTH, 6.8 in) and renders at about 99.6 %; 0.86 leaves room for a figure a little
#: wider than the column, none for one that shrinks its text below 9 pt.
MIN_FIGURE_SCALE = 0.86
#: Scrolling of up to this many pixels is rounding, not a layout problem.
SCROLL_SLACK_PX = 2

# For the page's article (the text column): its content width, and for every visible image in it
# the natural and rendered widths and whether it spills over the column; for every visible output
# area, literal block (pre) and table in it whose content is wider than its box (scrollWidth >
# clientWidth), what it is and by how much. Code *input* cells are measured separately: a long
# line of code scrolls, which is normal for code and does not hide results.
LAYOUT = r"""(slack) => {
    const article = document.querySelector('article.bd-article') || document.querySelector('main article')
        || document.querySelector('main');
    const cs = getComputedStyle(article);
    const box = article.getBoundingClientRect();
    const left = box.left + parseFloat(cs.paddingLeft), right = box.right - parseFloat(cs.paddingRight);
    const column = right - left;
    const shown = (e) => e.getClientRects().length > 0 && e.getBoundingClientRect().width > 0
        && getComputedStyle(e).visibility !== 'hidden';
    const where = (e) => {
        const section = e.closest('section[id]');
        return section ? '#' + section.id : '';
    };
    const images = [...article.querySelectorAll('img')].filter(shown).map(img => {
        const r = img.getBoundingClientRect();
        return {src: (img.getAttribute('src') || '').split('/').pop().slice(0, 60), where: where(img),
                natural: img.naturalWidth, rendered: Math.round(r.width * 10) / 10,
                scale: img.naturalWidth ? Math.round(1000 * r.width / img.naturalWidth) / 1000 : null,
                spills: Math.round(Math.max(0, r.right - right, left - r.left, r.width - column))};
    });
    // code cells, and the answer key's copies of the solution cells, may scroll sideways
    const kind = (e) => e.closest('.cell_input, .solution-code') ? 'input' : e.closest('.cell_output') ? 'output'
        : e.tagName === 'TABLE' || e.querySelector('table') ? 'table' : 'text';
    const candidates = article.querySelectorAll(
        'pre, table, .cell_output, .cell_output .output, .cell_output div, .table-wrapper, '
        + '.pst-scrollable-table-container, div.highlight');
    const scrolling = [...candidates].filter(shown)
        .filter(e => e.clientWidth > 0 && e.scrollWidth - e.clientWidth > slack)
        .map(e => ({kind: kind(e), tag: e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).trim().split(/\s+/).join('.') : ''),
                    where: where(e), overflow: e.scrollWidth - e.clientWidth, width: e.clientWidth,
                    text: e.textContent.trim().replace(/\s+/g, ' ').slice(0, 60)}));
    return {column: Math.round(column), images, scrolling};
}"""


def measure_layout(page) -> dict:
    """What :data:`LAYOUT` measures on the open page (wait for the images to load first)."""
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
    return page.evaluate(LAYOUT, SCROLL_SLACK_PX)


def layout_problems(layout: dict, min_scale: float = MIN_FIGURE_SCALE) -> list[str]:
    """Images wider than the column or shrunk below ``min_scale``; outputs, tables and literal
    blocks that scroll sideways. Code input cells are not problems here (see :data:`LAYOUT`)."""
    problems = []
    for img in layout["images"]:
        if img["spills"] > 1:
            problems.append(f"image {img['src']} ({img['where']}) is {img['spills']} px wider than the "
                            f"{layout['column']}-px column")
        if img["scale"] is not None and img["scale"] < min_scale:
            problems.append(f"image {img['src']} ({img['where']}) is shown at {img['scale']:.0%} of its "
                            f"{img['natural']}-px width (below {min_scale:.0%}: its text shrinks illegibly)")
    seen = set()
    for el in layout["scrolling"]:
        if el["kind"] == "input" or (el["where"], el["text"]) in seen:
            continue  # a box nested in one already reported scrolls with it
        seen.add((el["where"], el["text"]))
        problems.append(f"{el['kind']} {el['tag']} ({el['where']}) scrolls sideways by {el['overflow']} px "
                        f"in {el['width']} px: {el['text']!r}")
    return problems


@pytest.mark.parametrize("name", PAGES)
def test_page_layout_fits_the_column(page_of, name):
    page, _ = page_of(name)
    layout = measure_layout(page)
    assert layout["column"] > 300, f"no text column found: {layout['column']} px"
    record = SHOTS / "layout.json"
    measured = json.loads(record.read_text()) if record.exists() else {}
    measured[name] = layout
    record.write_text(json.dumps(measured, indent=1))
    problems = layout_problems(layout)
    assert not problems, f"{len(problems)} layout problem(s) at {layout['column']} px: " + "; ".join(problems)


# A page with every kind of layout problem, and the same page without them: the measurement must
# tell them apart (otherwise the layout test above could never fail).
_SVG = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg' width='{w}' height='40'%3E%3C/svg%3E"
SYNTHETIC_PAGE = """<!doctype html><html><head><style>
  body {{ margin: 0; }} main {{ width: 700px; }}
  article.bd-article {{ padding: 0 5px; }}
  .cell_output, .table-wrapper {{ overflow-x: auto; }}
  img.fit {{ max-width: 100%; }}
</style></head><body><main><article class="bd-article">
  <section id="figures">
    <img id="good" class="fit" src="{good}">
    {bad_images}
  </section>
  <section id="outputs">
    <div class="cell docutils container"><div class="cell_input"><pre>{long_code}</pre></div>
    <div class="cell_output"><pre>{output_text}</pre></div></div>
    <div class="table-wrapper"><table><tr>{cells}</tr></table></div>
  </section>
</article></main></body></html>"""


def synthetic_page(bad: bool) -> str:
    bad_images = (f'<img class="fit" src="{_SVG.format(w=2000)}"><img src="{_SVG.format(w=900)}">'
                  if bad else "")
    return SYNTHETIC_PAGE.format(
        good=_SVG.format(w=500), bad_images=bad_images,
        long_code="x = " + "1 + " * 80 + "1",  # input code may scroll in either page
        output_text=("a wide printed table " * 20) if bad else "a short output",
        cells="".join(f"<td>column {k} of a wide table</td>" for k in range(30 if bad else 3)))


def test_the_layout_check_sees_oversized_figures_and_scrolling(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_content(synthetic_page(bad=False))
        good = measure_layout(page)
        assert good["column"] == 690, good
        assert layout_problems(good) == [], good
        assert [i["scale"] for i in good["images"]] == [1.0]
        assert [e["kind"] for e in good["scrolling"]] == ["input"]  # measured, but not a problem

        page.set_content(synthetic_page(bad=True))
        bad = measure_layout(page)
        problems = layout_problems(bad)
        shrunk = [p for p in problems if "shown at 34%" in p]      # 2000 px into 690 px
        spills = [p for p in problems if "210 px wider than the 690-px column" in p]
        output = [p for p in problems if p.startswith("output") and "scrolls sideways" in p]
        table = [p for p in problems if p.startswith("table") and "scrolls sideways" in p]
        assert len(shrunk) == 1 and len(spills) == 1 and len(output) == 1 and len(table) == 1, problems
        assert len(problems) == 4, problems
        assert layout_problems(bad, min_scale=0.3) == [p for p in problems if p not in shrunk]
    finally:
        page.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_as_a_reader_sees_it(page_of, name):
    src = source_of(name)
    md = markdown_of(src)
    assert (HTML / f"{name}.html").exists(), f"{name} is in _toc.yml but {HTML}/{name}.html was not built"
    page, problems = page_of(name)
    # Formulas first: typeset before the screenshot, so that it shows them as readers see them.
    n_math, bad_math = math_problems(page)
    assert not bad_math, f"{len(bad_math)} of {n_math} formulas are wrong: {bad_math[:5]}"
    if "$$" in md:
        assert n_math > 0, "the source has display math but the page shows no formula"
    shot = SHOTS / f"{name.replace('/', '__')}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"

    # Title: the source's first '# ' heading, as <h1> and in the window title.
    heading = re.search(r"^# (.+)$", md, re.MULTILINE)
    assert heading, f"{src.name} has no '# Title' heading"
    # the article's own <h1> (the theme also prints the bare title in a print-only header before it)
    h1 = page.locator("article h1").first.inner_text().strip().rstrip("#").strip()
    number = chapter_numbers().get(name)
    title = heading.group(1).strip().replace("`", "")
    assert h1 == (title if number is None else f"{number}. {title}"), (h1, heading.group(1))
    # Exercises are numbered per chapter (6.1, 6.2, ...), in the order of the source.
    n_exercises = len(re.findall(r"\{exercise\}", md))
    shown = page.eval_on_selector_all("div.exercise .admonition-title",
                                      "els => els.map(e => e.textContent.trim())")
    assert len(shown) == n_exercises, (len(shown), n_exercises)
    for k, text in enumerate(shown, 1):
        assert text.startswith(f"Exercise {number}.{k} "), (k, text)
    assert page.title() == f"{h1} — {CONFIG['title']}", page.title()

    # Every image, figures and logos alike, loaded.
    images = page.evaluate("() => [...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    broken = [src_ for src_, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"
    if src.suffix == ".ipynb" and "plt." in src.read_text():
        assert any("_images/" in s for s, _, _ in images), "a chapter that plots shows no figure"

    # No traceback or error output; a check shown as 'Not yet' must be a stub still pending.
    assert page.locator(".cell_output .output.traceback, .cell_output .output.error").count() == 0
    outputs = page.eval_on_selector_all(".cell_output", "els => els.map(e => e.textContent)")
    bad = [o[:300] for o in outputs if TRACEBACK.search(o)]
    assert not bad, f"cell outputs with a traceback: {bad}"
    for check in page.eval_on_selector_all(".senet-check", "els => els.map(e => e.textContent)"):
        assert "Passed" in check or "NotImplementedError: Exercise:" in check \
            or check.startswith("\u270e No prediction yet"), f"a failed check: {check}"
    # A predict-then-run question is built with the prediction left empty: pending, with the answer.
    n_predictions = code_of(src).count("check_prediction(")
    shown = page.eval_on_selector_all(".senet-prediction", "els => els.map(e => e.textContent)")
    assert len(shown) == n_predictions, f"{len(shown)} prediction results shown, {n_predictions} in source"
    assert all("no prediction yet; the answer is" in t for t in shown), shown

    # Colab: exactly one launch link, to this chapter's notebook on the main branch.
    colab = sorted(set(page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "els => els.map(e => e.href)")))
    if src.suffix == ".ipynb":
        assert colab == [expected_colab_link(name)], colab
        target = ROOT / CONFIG["repository"]["path_to_book"] / f"{name}.ipynb"
        assert target.is_file(), f"the Colab link opens {target}, which `make learner` did not write"
    else:
        assert colab == [], f"a markdown page has Colab links: {colab}"

    # Solutions: one collapsed dropdown per gated solution; the title shows, the code does not.
    n_solutions = md.count("{solution-start}") + len(re.findall(r"\{solution\}", md))
    solutions = page.locator("div.solution")
    assert solutions.count() == n_solutions, f"{solutions.count()} solutions rendered, {n_solutions} in source"
    for i in range(n_solutions):
        sol = solutions.nth(i)
        assert "toggle-hidden" in (sol.get_attribute("class") or ""), f"solution {i + 1} is not collapsed"
        title = sol.locator(".admonition-title")
        assert title.is_visible(), f"solution {i + 1} has no visible title to click"
        body = sol.locator(".admonition-title ~ *")
        assert body.count() > 0, f"solution {i + 1} is empty"
        assert not any(body.nth(k).is_visible() for k in range(body.count())), \
            f"solution {i + 1} shows its content before it is opened"
    if n_solutions:  # opening one shows it: the check above can tell hidden from shown
        solutions.first.locator("button.toggle-button").click()
        page.wait_for_timeout(500)
        assert "toggle-hidden" not in (solutions.first.get_attribute("class") or "")
        assert solutions.first.locator(".admonition-title ~ *").first.is_visible()

    # Hints: collapsed until clicked, like the solutions.
    n_hints = len(re.findall(r"\{admonition\} Hint\n:class: dropdown", md))
    hints = page.locator("div.admonition.dropdown", has=page.locator(".admonition-title", has_text="Hint"))
    assert hints.count() == n_hints, f"{hints.count()} hints rendered, {n_hints} in source"
    for i in range(n_hints):
        hint = hints.nth(i)
        assert "toggle-hidden" in (hint.get_attribute("class") or ""), f"hint {i + 1} is not collapsed"
        body = hint.locator(".admonition-title ~ *")
        assert body.count() > 0 and not any(body.nth(k).is_visible() for k in range(body.count())), \
            f"hint {i + 1} shows its content before it is opened"

    assert not [p for p in problems if not any(k in p for k in KNOWN_JS_ERRORS)], problems


def test_the_math_check_sees_a_tex_error(page_of):
    """A formula with an undefined command and one left untypeset are both reported."""
    name = next(p for p in PAGES if "$$" in markdown_of(source_of(p)))
    page, _ = page_of(name)
    n, bad = math_problems(page)
    assert n > 0 and bad == [], bad
    page.evaluate("""([bad, good]) => {
        const add = (tex) => { const s = document.createElement('span');
            s.className = 'math notranslate nohighlight'; s.textContent = tex;
            document.querySelector('main').appendChild(s); return s; };
        add(bad);
        return MathJax.typesetPromise([add(good)]);
    }""", [r"\(\sigmoid(z)\)", r"\(W_1 z\)"])
    n2, bad = math_problems(page)
    assert n2 == n + 2
    assert len(bad) == 1 and bad[0].startswith("not typeset:") and "sigmoid" in bad[0], bad
    page.evaluate("() => MathJax.typesetPromise()")
    _, bad = math_problems(page)
    assert len(bad) == 1 and "TeX error" in bad[0] and "sigmoid" in bad[0], bad
