"""The rendered book as a reader meets it: every page of `_toc.yml`, loaded in headless Chromium.

Run by `make browser` (part of `make test`, after the strict build), not by `make unit`:

    .venv/bin/python -m pytest tests/browser

For each page it checks the title, that every image loaded, that every formula was typeset by
MathJax without a TeX error, that no cell output shows a Python traceback or a failed check, the
Colab launch link (notebook pages), that exercise solutions are collapsed until clicked, and it
saves a full-page screenshot in `_build/screenshots/`.

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
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^-{20,}\s*\n\s*\w+(Error|Exception)\b", re.M)


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


def expected_colab_link(page: str) -> str:
    org_repo = urlparse(CONFIG["repository"]["url"]).path.strip("/").removesuffix(".git")
    colab = CONFIG["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{org_repo}/blob/{CONFIG['repository']['branch']}/{page}.ipynb"


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must not skip the browser test: .ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        _unavailable(f"no built book in {HTML}: run `make test` (or `make notebooks strict-book`) first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
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
    heading = re.search(r"^# (.+)$", md, re.M)
    assert heading, f"{src.name} has no '# Title' heading"
    h1 = page.locator("main h1, article h1").first.inner_text().strip().rstrip("#").strip()
    assert h1 == heading.group(1).strip().replace("`", ""), (h1, heading.group(1))
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
        assert "Passed" in check or "NotImplementedError: Exercise:" in check, f"a failed check: {check}"

    # Colab: exactly one launch link, to this chapter's notebook on the main branch.
    colab = sorted(set(page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "els => els.map(e => e.href)")))
    if src.suffix == ".ipynb":
        assert colab == [expected_colab_link(name)], colab
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
