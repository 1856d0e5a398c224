"""The internal link checker of the built book (tools/check_links.py, run by `make links`), on small
hand-made sites: a good one passes; a missing page, a missing anchor and the other kinds of broken
link each fail, naming the page and the link."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "check_links.py"
_spec = importlib.util.spec_from_file_location("check_links", SCRIPT)
check_links = importlib.util.module_from_spec(_spec)
sys.modules["check_links"] = check_links
_spec.loader.exec_module(check_links)


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html>\n<html><head>{head}</head>\n<body>\n{body}\n</body></html>\n"


def make_site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


GOOD = {
    # a Jupyter Book's root page: a redirect
    "index.html": '<meta http-equiv="Refresh" content="0; url=book/index.html" />',
    "book/index.html": page(
        """<h1 id="intro">Intro</h1>
        <a href="#intro">here</a> <a href="#">top</a> <a href="#top">top</a> <a href="">this page</a>
        <a href="chapter.html">chapter</a> <a href="chapter.html#the-idea">the idea</a>
        <a href="chapter.html#old-anchor">old anchor</a> <a href="../genindex.html">index</a>
        <a href="my%20notes.html">notes</a> <a href="sub/">a folder with an index.html</a>
        <a href="../_sources/book/chapter.ipynb">download</a>
        <img src="../_images/fig.png" srcset="../_images/fig.png 1x, ../_images/fig@2x.png 2x" alt="">
        <a href="https://github.com/owner/repo">repo</a> <a href="https://doi.org/10.1/x">doi</a>
        <a href="//cdn.example.org/lib.js">protocol-relative</a> <a href="mailto:me@example.org">mail</a>
        <a href="javascript:void(0)">js</a> <img src="data:image/png;base64,AAAA" alt="">""",
        head='<link rel="stylesheet" href="../_static/style.css?v=1a2b3c">'
             '<script src="../_static/app.js?digest=ff"></script>'),
    "book/chapter.html": page('<section id="the-idea"><a name="old-anchor"></a>'
                              '<a href="index.html#intro">back</a></section>'),
    "book/my notes.html": page("notes"),
    "book/sub/index.html": page('<a href="../index.html">up</a>'),
    "genindex.html": page('<a href="book/chapter.html#the-idea">the idea</a>'),
    "_images/fig.png": "png",
    "_images/fig@2x.png": "png",
    "_static/style.css": "body {}",
    "_static/app.js": "",
    "_sources/book/chapter.ipynb": "{}",
    # a theme's template fragment that Sphinx copies as an asset: not a page, not parsed
    "_static/webpack-macros.html": "<link href=\"{{ pathto('_static/styles/theme.css', 1) }}\">",
}


def check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(root), *args],
                          capture_output=True, text=True, timeout=60)


def test_a_good_site_passes(tmp_path):
    site = make_site(tmp_path, GOOD)
    result = check(site)
    assert result.returncode == 0, result.stdout + result.stderr
    report = check_links.Site(site).check()
    assert report.broken == []
    assert report.pages == 6            # the template fragment in _static is not a page
    assert report.internal == 20        # 1 + 16 on book/index.html (3 from the <img>) + 1 + 1 + 1
    # #intro, chapter.html#the-idea and #old-anchor, chapter's index.html#intro, genindex's link;
    # "#", "#top" and "" name the top of the page, which needs no anchor
    assert report.fragments == 5
    assert report.external == 4 and report.skipped == 2
    assert dict(report.hosts) == {"github.com": 1, "doi.org": 1, "cdn.example.org": 1,
                                  "mailto:example.org": 1}
    assert "4 external links (not fetched) to 4 hosts" in result.stdout
    assert "github.com" in result.stdout and "0 broken" in result.stdout


@pytest.mark.parametrize("name, body, message", [
    ("missing page", '<a href="gone.html">gone</a>',
     'book/extra.html:5: href="gone.html": missing file book/gone.html'),
    ("missing anchor on another page", '<a href="chapter.html#nowhere">x</a>',
     'book/extra.html:5: href="chapter.html#nowhere": no element with id="nowhere" in book/chapter.html'),
    ("missing anchor on the same page", '<a href="#nowhere">x</a>',
     'book/extra.html:5: href="#nowhere": no element with id="nowhere" in book/extra.html'),
    ("missing anchor, case matters", '<a href="chapter.html#The-Idea">x</a>',
     'no element with id="The-Idea" in book/chapter.html'),
    ("name= counts on <a> only", '<input name="q"><a href="#q">x</a>',
     'href="#q": no element with id="q" in book/extra.html'),
    ("missing image", '<img src="../_images/lost.png" alt="">',
     'src="../_images/lost.png": missing file _images/lost.png'),
    ("missing srcset candidate", '<img src="../_images/fig.png" srcset="../_images/fig@3x.png 3x">',
     'srcset="../_images/fig@3x.png": missing file _images/fig@3x.png'),
    ("missing stylesheet", '<link rel="stylesheet" href="../_static/gone.css?v=1">',
     'href="../_static/gone.css?v=1": missing file _static/gone.css'),
    ("folder without index.html", '<a href="../_images/">x</a>', "missing file _images"),
    ("outside the site", '<a href="../../elsewhere.html">x</a>', "points outside the built site"),
    ("root-absolute", '<a href="/book/chapter.html">x</a>', "root-absolute path"),
    ("file: URL", '<a href="file:///home/me/book/chapter.html">x</a>', "a file: URL"),
])
def test_a_broken_link_fails_naming_the_page_and_the_link(tmp_path, name, body, message):
    site = make_site(tmp_path, {**GOOD, "book/extra.html": page(f"<p>\n{body}\n</p>")})
    result = check(site)
    assert result.returncode == 1, result.stdout
    assert "BROKEN internal links (1):" in result.stdout, result.stdout
    assert message in result.stdout, result.stdout
    assert "book/extra.html" in result.stdout


def test_every_broken_link_is_listed(tmp_path):
    site = make_site(tmp_path, GOOD)
    (site / "book" / "chapter.html").unlink()      # index.html links to it three times, genindex once
    result = check(site)
    assert result.returncode == 1
    assert "BROKEN internal links (4):" in result.stdout, result.stdout
    assert result.stdout.count("missing file book/chapter.html") == 4
    assert "genindex.html:" in result.stdout and "book/index.html:" in result.stdout


def test_assets_can_be_parsed_on_request(tmp_path):
    site = make_site(tmp_path, GOOD)
    result = check(site, "--also-parse-assets")
    assert result.returncode == 1 and "_static/webpack-macros.html:1" in result.stdout


def test_base_href_is_honoured(tmp_path):
    site = make_site(tmp_path, {**GOOD, "book/extra.html": page(
        '<a href="chapter.html#the-idea">x</a>', head='<base href="../book/">')})
    assert check(site).returncode == 0


def test_not_a_built_site(tmp_path):
    result = check(tmp_path)
    assert result.returncode == 2 and "no index.html" in result.stderr
