"""The whole book as one PDF (`make pdf`, tools/make_pdf.py), read back with pypdf.

Run by `make pdf` (part of `make test`, after the strict build), not by `make unit`:

    .venv/bin/python tools/make_pdf.py && .venv/bin/python -m pytest tests/pdf

It checks that the PDF has a sane number of pages, each with its "page N of M" footer; that every
page of `_toc.yml` starts a page of its own, titled by the page's first heading, in the toc's
order; that it carries the figures (images on its pages, at least one per figure the executed
notebooks hold); and that no TeX was left unrendered or turned into a MathJax error message.
(tools/make_pdf.py also refuses to print a page where MathJax reported an error.) Set SENET_PDF to
check another file; SENET_BOOK_ROOT as for the browser test.

Without the PDF the tests skip, saying so; when CI is set they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest
import yaml
from book_toc import toc_entries

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("SENET_BOOK_ROOT", REPO)).resolve()
PDF = Path(os.environ.get("SENET_PDF", ROOT / "_build" / "pdf" / "se-nets-hands-on.pdf"))
EXECUTED = ROOT / "_executed" / "book"
#: Pages per page of the toc: a chapter with figures prints on 5 to 40 pages; glossary and
#: instructors' notes on 2 to 10. Outside these bounds the print layout has gone wrong (a
#: chapter lost, or a figure blown up to a page each).
PAGES_PER_ENTRY = (2, 60)
#: What TeX looks like when MathJax did not typeset it, or typeset an error in its place.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\end\{"
                     r"|Math input error|Undefined control sequence|Missing (?:open|close) brace|Misplaced &")
TITLE = re.compile(r"^# (.+)$", re.MULTILINE)


def normal(text: str) -> str:
    """Text as compared here: ligatures unfolded (NFKC: 'ﬀ' -> 'ff'), white space collapsed, and a
    word broken after its hyphen at the end of a line joined again ('gather-\nexcite')."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
    return re.sub(r"(?<=\w)- (?=\w)", "-", text)


def raw_tex(text: str) -> list[str]:
    """Each place in `text` that looks like TeX left unrendered or a MathJax error message."""
    return [text[max(0, m.start() - 40):m.end() + 40] for m in RAW_TEX.finditer(text)]


def plain_title(heading: str) -> str:
    """A Markdown `# heading` as it prints: without code backticks, emphasis marks or a `{role}`."""
    heading = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", heading)
    return normal(re.sub(r"[`*]", "", heading))


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return list(dict.fromkeys(re.sub(r"\.(md|ipynb)$", "", f) for f in toc_entries(toc)))


def title_of(page: str) -> str:
    for suffix in (".ipynb", ".md"):
        path = ROOT / f"{page}{suffix}"
        if path.exists():
            if suffix == ".md":
                text = path.read_text()
            else:
                cells = json.loads(path.read_text())["cells"]
                text = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
            found = TITLE.search(text)
            assert found, f"{path.name} has no '# Title' heading"
            return plain_title(found.group(1))
    raise FileNotFoundError(f"_toc.yml lists {page}, which has no .ipynb or .md source in {ROOT}")


def first_page_with(pages: list[str], title: str, start: int = 0) -> int | None:
    """The first page at or after `start` whose text begins with `title` (a chapter number may
    stand before it, e.g. '6. '); None if there is none."""
    begins = re.compile(rf"^(?:\d+\.\s+)?{re.escape(title)}")
    return next((i for i in range(start, len(pages)) if begins.match(pages[i])), None)


@cache
def reader():
    if not PDF.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no PDF at {PDF}: `make pdf` writes it (CI must not skip this test)")
        pytest.skip(f"no PDF at {PDF}: run `make pdf` (after `make notebooks`)")
    from pypdf import PdfReader

    return PdfReader(PDF)


@cache
def page_texts() -> list[str]:
    return [normal(page.extract_text() or "") for page in reader().pages]


# --- the checks on text, which must be able to fail ----------------------------------------------


def test_raw_tex_is_recognised():
    assert raw_tex("the gate $$ s = \\sigma(z) $$ per channel")
    assert raw_tex("inline \\( z_c \\) math")
    assert raw_tex("Math input error")
    assert raw_tex("Undefined control sequence \\foo")
    assert not raw_tex("s = σ(W2 δ(W1 z)), a 5 % gain at 0.26 GFLOPs")


def test_a_chapter_is_found_only_at_the_top_of_a_page():
    pages = ["Contents 1. The SE block in a few lines 2. Squeeze", "1. The SE block in a few lines A block",
             "more text"]
    assert first_page_with(pages, "The SE block in a few lines") == 1
    assert first_page_with(pages, "Squeeze") is None
    assert plain_title("The same block in `senet_lib`") == "The same block in senet_lib"
    assert normal("10. Beyond SE: ECA, CBAM and gather-\nexcite") == "10. Beyond SE: ECA, CBAM and gather-excite"


# --- the PDF ---------------------------------------------------------------------------------------


def test_page_count_is_sane_and_every_page_is_numbered():
    pages = page_texts()
    low, high = (k * len(toc_pages()) for k in PAGES_PER_ENTRY)
    assert low <= len(pages) <= high, f"{len(pages)} pages for {len(toc_pages())} toc entries"
    unnumbered = [i + 1 for i, text in enumerate(pages) if f"page {i + 1} of {len(pages)}" not in text]
    assert not unnumbered, f"pages without their 'page N of {len(pages)}' footer: {unnumbered[:20]}"


def test_every_page_of_the_toc_starts_a_page_with_its_title_in_order():
    pages = page_texts()
    found, where = [], 0
    for page in toc_pages()[1:]:   # the root page opens the book, under the table of contents
        title = title_of(page)
        at = first_page_with(pages, title, where)
        assert at is not None, (f"{page}: no page after page {where + 1} begins with its title {title!r}; "
                                f"{'it is in the text' if title in ' '.join(pages) else 'it is nowhere in the text'}")
        found.append((page, at + 1))
        where = at + 1
    assert [p for p, _ in found] == toc_pages()[1:]
    root_title = title_of(toc_pages()[0])
    assert pages[0].startswith(root_title), pages[0][:200]


def test_the_figures_are_in_it():
    pdf = reader()
    per_page = [len(page.images) for page in pdf.pages]
    figures = 0
    if EXECUTED.is_dir():   # every image output of the executed notebooks is a figure of the book
        for path in EXECUTED.glob("*.ipynb"):
            for cell in json.loads(path.read_text())["cells"]:
                figures += sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    assert sum(per_page) >= max(figures, 10), (
        f"{sum(per_page)} images on {sum(n > 0 for n in per_page)} pages; the notebooks have {figures} figures")


def test_no_tex_left_unrendered_and_no_mathjax_error():
    problems = [f"page {i + 1}: ...{hit}..." for i, text in enumerate(page_texts()) for hit in raw_tex(text)]
    assert not problems, "\n".join(problems[:20])


# --- tools/make_pdf.py refuses a page that is not fit to print --------------------------------------


@pytest.mark.parametrize("body, message", [
    ('<p>the gate $s_c$ per channel</p>', "TeX left as text"),
    ('<p>two formulas $$ z = 1 $$</p>', "TeX left as text"),
    ('<figure><img src="missing.png" alt="a figure"></figure>', "image did not load"),
])
def test_make_pdf_refuses_a_page_not_fit_to_print(tmp_path, body, message):
    import importlib.util

    chromium = Path(os.environ.get("SENET_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{chromium} not found (CI must not skip this test)")
        pytest.skip(f"{chromium} not found: install Debian's chromium")
    spec = importlib.util.spec_from_file_location("senet_tools_make_pdf", REPO / "tools" / "make_pdf.py")
    make_pdf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_pdf)
    page = tmp_path / "print.html"
    code = '<pre>ax.set_ylabel("gate $s_c$")</pre>'   # matplotlib's TeX inside code is fine
    page.write_text(f"<!doctype html><html><body><main>{code}{body}</main></body></html>")
    with pytest.raises(SystemExit, match=message):
        make_pdf.print_pdf(tmp_path, page, tmp_path / "out.pdf", chromium)
    assert not (tmp_path / "out.pdf").exists()
    page.write_text(f"<!doctype html><html><body><main>{code}<p>fine</p></main></body></html>")
    make_pdf.print_pdf(tmp_path, page, tmp_path / "out.pdf", chromium)
    assert (tmp_path / "out.pdf").stat().st_size > 0
