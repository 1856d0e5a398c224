"""The whole book as one PDF, made offline: `make pdf` writes `_build/pdf/se-nets-hands-on.pdf`.

Jupyter Book 1's own `pdfhtml` builder prints with the Chromium that Playwright downloads, which
cannot be fetched here (nor on CI without network to that host), so this takes the same route by
hand with the browser we have:

1. `jupyter-book build <book> --builder singlehtml`: every page of `_toc.yml` in one HTML file,
   from the notebooks `make notebooks` already executed (`_executed/`, whose `_config.yml` turns
   execution off; nothing is run again). The book's `_config.yml` is used as it is, plus this
   module as a Sphinx extension (`setup` below): Sphinx gives the singlehtml builder only the
   node handlers registered for it by name once any extension registers one, which drops
   myst-nb's folded code cells (`HideCodeCellNode`, registered for `html` only) and fails the build;
2. that page served on 127.0.0.1 and opened in headless Debian Chromium through the project's own
   Playwright (every request that leaves this machine is refused); the script waits until MathJax
   (shipped with the book) has typeset every formula and every image has loaded, and fails, naming
   them, if a formula has a TeX error (`mjx-merror`) or was left untypeset, or an image is broken;
3. print CSS hides the sidebars and the header buttons; exercise solutions and hints, and the
   outputs of folded cells, collapsed on the web page, are opened so that the PDF carries them;
   folded code (the `hide-input` cells: setup and plotting code) is left out;
4. `page.pdf(...)`: A4, backgrounds, the book's title in the header and "page N of M" in the
   footer, and an outline (bookmarks) from the headings.

    python tools/make_pdf.py [--book _executed] [--output _build/pdf/se-nets-hands-on.pdf]

`tests/pdf/test_pdf.py` reads the PDF back (page count, every chapter's title, figures, no TeX
left unrendered); `make test` runs both after the strict build.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "_executed"
OUTPUT = ROOT / "_build" / "pdf" / "se-nets-hands-on.pdf"
CHROMIUM = Path(os.environ.get("SENET_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

# Paper and the print layout. The figures are drawn 6.8 in wide (senet_lib.figures.COLUMN_WIDTH);
# A4 less 15 mm margins leaves 7.09 in, so they print at their own size.
PAPER = {"format": "A4", "margin": {"top": "16mm", "bottom": "16mm", "left": "15mm", "right": "15mm"}}
PRINT_CSS = """
@media print {
  /* the web page's furniture: sidebars, the header bar and its buttons, prev/next, search */
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .bd-header-article,
  .article-header-buttons, .prev-next-area, .bd-footer, .bd-footer-article, .bd-footer-content,
  .search-button-field, .theme-switch-button, .primary-toggle, .secondary-toggle, .sidebar-toggle,
  #pst-back-to-top, .headerlink, .copybtn, .bd-search, .skip-link { display: none !important; }
  /* folded code cells: see OPEN_DROPDOWNS */
  details.hide > summary { display: none !important; }
  .bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width {
    max-width: none !important; width: 100% !important; margin: 0 !important; padding: 0 !important; }
  body { font-size: 10.5pt; }
  /* each chapter on a new page; keep figures, formulas and table rows whole */
  span[id^="document-"] + section { break-before: page; }
  img, figure, .cell_output img, mjx-container[display="true"], tr, pre { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  pre, .highlight pre { white-space: pre-wrap !important; word-break: break-word; }
}
"""
# The book's title in the header, "page N of M" in the footer (Chromium fills the span classes).
HEADER = ('<div style="font-size:8px; width:100%; padding:0 15mm; color:#555; text-align:right;">'
          '<span class="title"></span></div>')
FOOTER = ('<div style="font-size:8px; width:100%; text-align:center; color:#555;">'
          'page <span class="pageNumber"></span> of <span class="totalPages"></span></div>')

# What is wrong on the page once MathJax has finished: formulas left untypeset or with a TeX error
# (MathJax marks it with mjx-merror, in red, in place), images that did not load.
PAGE_PROBLEMS = r"""() => {
  const math = [...document.querySelectorAll('.math')].flatMap(e => {
    const text = e.textContent.trim().slice(0, 80);
    if (!e.querySelector('mjx-container')) return ['formula not typeset: ' + text];
    return [...e.querySelectorAll('mjx-merror')].map(m =>
      'TeX error: ' + (m.getAttribute('data-mjx-error') || m.textContent) + ' in ' + text);
  });
  const stray = [...document.querySelectorAll('mjx-merror')].filter(m => !m.closest('.math'))
    .map(m => 'TeX error outside a formula: ' + (m.getAttribute('data-mjx-error') || m.textContent));
  // TeX that MathJax never saw: $$, $...$ with a TeX command, _ or ^ in it, \( or \[,
  // in the page's text outside code (code cells may hold matplotlib's $...$ labels)
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest('pre, code, script, style, mjx-container, .highlight, .math')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const m = n.textContent.match(/\$\$|\$[^$\n]*[\\_^][^$\n]*\$|\\\(|\\\[/);
    if (m) raw.push('TeX left as text: ' + n.textContent.trim().slice(0, 80));
  }
  const images = [...document.querySelectorAll('main img, article img')]
    .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => 'image did not load: ' + i.src);
  return [...math, ...stray, ...raw, ...images];
}"""
# Open what the web page folds away: exercise solutions and hints (sphinx-togglebutton and
# <details> dropdowns), and the outputs of folded code cells (figures, tables); folded code
# (myst-nb's hide-input: a <details class="hide"> holding only the input) is left out of print.
OPEN_DROPDOWNS = """() => {
  let opened = 0;
  document.querySelectorAll('details').forEach(d => {
    if (d.classList.contains('hide') && !d.querySelector('.cell_output')) { d.remove(); return; }
    if (!d.open) { d.open = true; opened++; } });
  document.querySelectorAll('details.hide .cell_input').forEach(e => e.remove());
  document.querySelectorAll('.toggle-hidden').forEach(e => { e.classList.remove('toggle-hidden'); opened++; });
  document.querySelectorAll('button.toggle-button').forEach(b => b.remove());
  document.querySelectorAll('img[loading="lazy"]').forEach(i => i.loading = 'eager');
  return opened;
}"""


def setup(app: object) -> dict:
    """Sphinx extension (loaded by the single-page build only): give the singlehtml builder every
    node handler registered for the html builder that it has none of its own for."""

    def inherit_html_handlers(app: object) -> None:
        builder = app.builder  # type: ignore[attr-defined]
        if builder.name != "singlehtml":
            return
        handlers = app.registry.translation_handlers  # type: ignore[attr-defined]
        single = handlers.setdefault("singlehtml", {})
        for name, pair in handlers.get("html", {}).items():
            single.setdefault(name, pair)

    app.connect("builder-inited", inherit_html_handlers)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def log(msg: str) -> None:
    print(f"[make_pdf] {msg}", flush=True)


def build_singlehtml(book: Path, out: Path) -> Path:
    """Render `book` (executed notebooks, execution off) as one HTML page; return that page.

    Jupyter Book writes it where the root page of `_toc.yml` goes (book/index.html) and an
    index.html that redirects there, but the page's own links (`_static/`, `_images/`) are relative
    to the build folder: the page is copied there, as `print.html`, and that copy is returned."""
    config = (book / "_config.yml").read_text() if (book / "_config.yml").exists() else ""
    if not re.search(r'^\s*execute_notebooks:\s*"?off"?\s*$', config, re.MULTILINE):
        raise SystemExit(f"[make_pdf] --book {book}: expected an executed copy of the book whose _config.yml "
                         "has execute_notebooks: \"off\" (run `make notebooks` first, which makes _executed/)")
    import yaml

    jb = Path(sys.executable).parent / "jupyter-book"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cfg = yaml.safe_load(config)
    sphinx = cfg.setdefault("sphinx", {}) or {}
    cfg["sphinx"] = sphinx
    sphinx.setdefault("local_extensions", {})[Path(__file__).stem] = str(Path(__file__).resolve().parent)
    pdf_config = out / "_config.pdf.yml"
    pdf_config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(book), "--builder", "singlehtml",
           "--config", str(pdf_config), "--path-output", str(out), "--keep-going"]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    index = out / "_build" / "singlehtml" / "index.html"
    if done.returncode != 0 or not index.exists():
        sys.stdout.write(done.stdout[-20000:])
        raise SystemExit(f"[make_pdf] the single-page build failed (exit code {done.returncode}): {' '.join(cmd)}")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', index.read_text()[:500])
    page = index.parent / "print.html"
    shutil.copy2(index.parent / redirect.group(1) if redirect else index, page)
    return page


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port) for as long as the block runs; yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def print_pdf(root: Path, page_file: Path, output: Path, chromium: Path = CHROMIUM,
              title: str | None = None) -> dict:
    """Print `page_file` (served with the rest of the build folder `root`) to `output` with Chromium.

    Returns what was counted on the way: formulas, images, solutions and hints opened."""
    from playwright.sync_api import sync_playwright

    if not chromium.exists():
        raise SystemExit(f"[make_pdf] {chromium} not found: install Debian's chromium (apt-get install -y chromium)")
    output.parent.mkdir(parents=True, exist_ok=True)
    with served(root) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
            page.goto(f"{url}/{page_file.relative_to(root).as_posix()}", wait_until="load", timeout=180_000)
            # "load" has waited for every image; MathJax's fonts and scripts are waited for below
            n_math = page.locator(".math").count()
            if n_math:
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=60_000)
                page.evaluate("() => MathJax.startup.promise")
            opened = page.evaluate(OPEN_DROPDOWNS)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            page.evaluate("() => document.fonts.ready.then(() => true)")
            page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=60_000)
            problems = page.evaluate(PAGE_PROBLEMS)
            if problems:
                raise SystemExit("[make_pdf] the page is not fit to print:\n  " + "\n  ".join(problems[:50]))
            n_images = page.locator("main img, article img").count()
            if title:
                page.evaluate("t => { document.title = t; }", title)
            page.pdf(path=str(output), print_background=True, display_header_footer=True,
                     header_template=HEADER, footer_template=FOOTER, outline=True, tagged=True, **PAPER)
        finally:
            browser.close()
    return {"formulas": n_math, "images": n_images, "opened": opened}


def book_title(book: Path) -> str | None:
    match = re.search(r'^title:\s*"?(.*?)"?\s*$', (book / "_config.yml").read_text(), re.MULTILINE)
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--book", type=Path, default=BOOK,
                    help="the executed book to print: a folder with _config.yml, _toc.yml and executed notebooks")
    ap.add_argument("--output", type=Path, default=OUTPUT, help="the PDF to write")
    ap.add_argument("--html", type=Path, default=None,
                    help="where the single-page build goes (default: beside --output, in html/)")
    ap.add_argument("--chromium", type=Path, default=CHROMIUM, help="the Chromium to print with")
    ap.add_argument("--no-build", action="store_true",
                    help="print the single-page build already in --html instead of making it again")
    args = ap.parse_args(argv)
    if not args.book.is_dir():
        ap.error(f"--book {args.book} is not a folder (run `make notebooks` first, which makes _executed/)")
    html = args.html or args.output.parent / "html"

    t0 = time.perf_counter()
    if args.no_build:
        index = html.resolve() / "_build" / "singlehtml" / "print.html"
        if not index.exists():
            ap.error(f"--no-build: no single-page build at {index}")
    else:
        index = build_singlehtml(args.book.resolve(), html.resolve())
    t1 = time.perf_counter()
    log(f"single-page HTML in {t1 - t0:.0f} s: {index}")
    seen = print_pdf(html.resolve() / "_build" / "singlehtml", index, args.output.resolve(), args.chromium,
                     book_title(args.book))
    t2 = time.perf_counter()
    from pypdf import PdfReader

    pages = len(PdfReader(args.output).pages)
    log(f"printed in {t2 - t1:.0f} s: {args.output} ({pages} pages, {args.output.stat().st_size / 1e6:.1f} MB; "
        f"{seen['formulas']} formulas typeset, {seen['images']} images, {seen['opened']} solutions/hints opened)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
