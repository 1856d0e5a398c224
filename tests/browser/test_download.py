"""The download menu's `.ipynb` item saves the chapter's notebook, as a reader expects.

sphinx-book-theme renders it as a plain link into `_sources/` that opens in a new tab
(sphinx-book-theme#918, jupyter-book#2237). Whether the browser then saves the file or shows it
depends on the Content-Type the site sends: GitHub Pages sends a JSON type for `.ipynb`, and
Chromium shows JSON types as text, so the reader got a tab of raw JSON. `_static/download.js`
(loaded on every page by Jupyter Book) gives the menu's file links a `download` attribute, which
makes the browser save the file whatever its type.

The pages are served from `_build/html` on 127.0.0.1 with each of those Content-Types; the test
opens a chapter page as a reader would, opens the download menu and clicks `.ipynb`, and checks
that a download happens (no tab of JSON), with the chapter's file name, and that the file is a
valid notebook of that chapter (nbformat). It also says which notebook the site serves: the one
the build rendered, so with outputs after `make test`'s strict build of the executed copies
(`_executed/`), without them after `make book` (the committed, output-free source, executed only
into the HTML). And it checks that the test can fail: with the `download` attribute removed the
same click opens raw JSON in a tab.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading

import nbformat
import pytest
from test_rendered_book import HTML, PAGES, ROOT, _unavailable, browser, source_of  # noqa: F401

#: Content-Types a static host sends for .ipynb: mime-db's (GitHub Pages, Netlify, ...) and plain JSON.
JSON_TYPES = ["application/x-ipynb+json", "application/json"]
CHAPTER = next(p for p in PAGES if source_of(p).suffix == ".ipynb")
MENU = ".dropdown-download-buttons"
ITEM = f"{MENU} a.dropdown-item:has-text('.ipynb')"


def _handler(content_type: str):
    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".ipynb": content_type}

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(params=JSON_TYPES)
def site(request):
    """_build/html served on 127.0.0.1, sending .ipynb files as `request.param`."""
    if not (HTML / "index.html").exists():
        _unavailable(f"no built book in {HTML}: run `make test` (or `make notebooks strict-book`) first")
    handler = functools.partial(_handler(request.param), directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", request.param
    httpd.shutdown()
    httpd.server_close()


def open_chapter(browser, url: str):  # noqa: F811  (browser: the fixture imported above)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
    page = context.new_page()
    page.goto(f"{url}/{CHAPTER}.html", wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page


def test_ipynb_download_saves_the_chapters_notebook(site, browser, tmp_path):  # noqa: F811
    url, content_type = site
    context, page = open_chapter(browser, url)
    try:
        # what the server sends for it, so the test is about the case readers meet
        href = page.locator(ITEM).get_attribute("href")
        sent = page.request.get(page.url.rsplit("/", 1)[0] + "/" + href).headers["content-type"]
        assert sent == content_type, sent

        page.locator(f"{MENU} button.dropdown-toggle").click()
        with page.expect_download(timeout=15_000) as info:
            page.locator(ITEM).click()
        download = info.value
        name = CHAPTER.rsplit("/", 1)[-1] + ".ipynb"
        assert download.suggested_filename == name, download.suggested_filename
        saved = tmp_path / name
        download.save_as(saved)
        assert len(context.pages) == 1, "the click also opened a tab"
    finally:
        context.close()

    nb = nbformat.read(saved, as_version=4)
    nbformat.validate(nb)
    source = nbformat.read(source_of(CHAPTER), as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in source.cells], "not this chapter's notebook"
    code = [c for c in nb.cells if c.cell_type == "code"]
    with_outputs = sum(bool(c.outputs) for c in code)
    # Which one the site serves: the notebook the build rendered (see the module's docstring).
    rendered = ROOT / "_executed" / f"{CHAPTER}.ipynb"
    if rendered.exists() and json.loads(rendered.read_text()) == json.loads(saved.read_text()):
        assert with_outputs > 0, "the executed copy has no outputs"
        print(f"{name}: the executed notebook, {with_outputs} of {len(code)} code cells with outputs")
    else:
        assert nb == source, "neither the executed copy nor the committed source"
        assert with_outputs == 0
        print(f"{name}: the committed notebook, without outputs")


def test_without_the_fix_the_link_opens_json_in_a_tab(site, browser):  # noqa: F811
    """The bug the fix is for, reproduced, so that the test above can fail."""
    url, _ = site
    context, page = open_chapter(browser, url)
    try:
        assert page.locator(ITEM).get_attribute("download") is not None, "_static/download.js did not run"
        # the link as sphinx-book-theme renders it: no `download`, opening in a new tab
        page.locator(ITEM).evaluate("a => { a.removeAttribute('download'); a.target = '_blank'; }")
        page.locator(f"{MENU} button.dropdown-toggle").click()
        downloads = []
        page.on("download", lambda d: downloads.append(d))
        with context.expect_page(timeout=15_000) as info:
            page.locator(ITEM).click()
        tab = info.value
        tab.wait_for_load_state("load")
        assert not downloads
        shown = json.loads(tab.locator("body").inner_text())
        assert shown["nbformat"] == 4 and shown["cells"], "the tab does not show the notebook's JSON"
    finally:
        context.close()
