"""Check the internal links of a built HTML site, without the network.

What `make links` runs (part of `make test`, after the strict book build):

    python tools/check_links.py _build/html

Every HTML page under the folder is parsed (stdlib `html.parser`). Each URL in an `href`, `src`,
`srcset`, `poster` or (`<object>`) `data` attribute, and in a `<meta http-equiv="refresh">`, is sorted into

- internal: no scheme and no host (`../_static/x.css?v=1`, `02_squeeze.html#summary`, `#top`).
  It must resolve, inside the site, to an existing file (a folder counts when it holds
  `index.html`); a `#fragment` on an HTML target must name an element with that `id`, or an
  `<a name=...>`, in the target page (the empty fragment and `#top` mean the top of the page).
  The query string (Sphinx's `?v=digest`) is ignored. A root-absolute path (`/x.html`) is
  reported as broken: the book is published under a project path
  (`https://<owner>.github.io/<repo>/`), where such a link leaves the book;
- external: http, https, protocol-relative `//host/...`, mailto and any other scheme but `file:`
  (a file on the machine that built the book: reported as broken). External links are counted
  and their hosts listed, never fetched;
- skipped: `data:`, `javascript:`, `tel:` and `about:` URLs, which name no resource to check.

HTML files under `_static/` and `_sources/` are assets Sphinx copies (theme template fragments
full of `{{ pathto(...) }}`), not pages, so they are not parsed as pages; links *into* them are
checked like any other. `--also-parse-assets` parses them too.

Exit status: 0 when every internal link resolves, 1 when some do not (each one listed with the
page it is on), 2 when the folder is not a built site.
"""

from __future__ import annotations

import argparse
import collections
import posixpath
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ASSET_DIRS = ("_static", "_sources")
SKIPPED_SCHEMES = {"data", "javascript", "tel", "about", "blob"}
# Attributes that hold one URL, whatever the element (href on a/link/area, src on img/script/...);
# `data` holds one on <object> only.
URL_ATTRS = {"href", "src", "poster"}
_REFRESH_URL = re.compile(r"""^\s*\d*\s*[;,]?\s*url\s*=\s*['"]?([^'"]*)""", re.IGNORECASE)


@dataclass
class Link:
    page: str      # the page it is on, relative to the site root ("book/02_squeeze.html")
    line: int      # line in that page
    attr: str      # "href", "src", "srcset", "refresh", ...
    url: str       # as written in the page


@dataclass
class Page:
    anchors: set[str] = field(default_factory=set)
    links: list[Link] = field(default_factory=list)
    base: str | None = None


class _PageParser(HTMLParser):
    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.page = Page()

    def _add(self, attr: str, url: str | None) -> None:
        if url is not None:
            self.page.links.append(Link(self.name, self.getpos()[0], attr, url.strip()))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.page.anchors.add(values["id"])
        if tag == "a" and values.get("name"):
            self.page.anchors.add(values["name"])
        if tag == "base":
            # <base href> changes what relative links resolve against (Sphinx never writes one).
            if values.get("href") and self.page.base is None:
                self.page.base = values["href"].strip()
            return
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            match = _REFRESH_URL.match(values.get("content") or "")
            if match and match.group(1).strip():
                self._add("refresh", match.group(1))
            return
        for attr, value in attrs:
            if attr in URL_ATTRS or (attr == "data" and tag == "object"):
                self._add(attr, value)
            elif attr in ("srcset", "imagesrcset") and value:
                # "a.png 1x, b.png 2x": each candidate is a URL then an optional descriptor
                for candidate in value.split(","):
                    if candidate.strip():
                        self._add(attr, candidate.split()[0])

    handle_startendtag = handle_starttag


def parse_page(path: Path, name: str) -> Page:
    parser = _PageParser(name)
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.page


@dataclass
class Report:
    pages: int = 0
    internal: int = 0
    fragments: int = 0
    skipped: int = 0
    external: int = 0
    hosts: collections.Counter = field(default_factory=collections.Counter)
    broken: list[tuple[Link, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.pages} pages parsed; {self.internal} internal links checked "
            f"({self.fragments} with a #fragment), {len(self.broken)} broken.",
            f"{self.external} external links (not fetched) to {len(self.hosts)} hosts"
            + (":" if self.hosts else "."),
        ]
        lines += [f"  {count:5d}  {host}" for host, count in sorted(self.hosts.items(),
                                                                    key=lambda kv: (-kv[1], kv[0]))]
        if self.skipped:
            lines.append(f"{self.skipped} data:/javascript:/tel: URLs skipped.")
        if self.broken:
            lines.append("")
            lines.append(f"BROKEN internal links ({len(self.broken)}):")
            for link, why in self.broken:
                lines.append(f"  {link.page}:{link.line}: {link.attr}=\"{link.url}\": {why}")
        return "\n".join(lines)


def resolve(page: str, base: str | None, path: str) -> str | None:
    """The site-relative path that `path` (from a link on `page`) names, or None outside the site.

    As a browser resolves it, with `..` stopping at the site's root turned into an error rather
    than clamped: `resolve("book/a.html", None, "../_static/x.css") == "_static/x.css"`.
    """
    document = page
    if base and not (urlsplit(base).scheme or urlsplit(base).netloc):
        base_path = unquote(urlsplit(base).path)
        document = posixpath.join(posixpath.dirname(page), base_path)
        if base_path.endswith("/"):
            document = document.rstrip("/") + "/"
    if not path:
        target = document
    else:
        folder = document if document.endswith("/") else posixpath.dirname(document)
        target = posixpath.join(folder, unquote(path))
    target = posixpath.normpath(target) if target else ""
    if target == ".":
        target = ""
    if target == ".." or target.startswith("../"):
        return None
    return target


class Site:
    def __init__(self, root: Path, parse_assets: bool = False) -> None:
        self.root = root.resolve()
        self.parse_assets = parse_assets
        self._cache: dict[str, Page] = {}

    def pages(self) -> list[str]:
        names = []
        for path in sorted(self.root.rglob("*")):
            if path.suffix.lower() not in (".html", ".htm") or not path.is_file():
                continue
            rel = path.relative_to(self.root).as_posix()
            if not self.parse_assets and rel.split("/", 1)[0] in ASSET_DIRS:
                continue
            names.append(rel)
        return names

    def page(self, name: str) -> Page:
        if name not in self._cache:
            self._cache[name] = parse_page(self.root / name, name)
        return self._cache[name]

    def target(self, rel: str) -> str | None:
        """The file (relative to the root) that a resolved site path names, or None."""
        path = self.root / rel if rel else self.root
        if path.is_dir():
            rel = posixpath.join(rel, "index.html") if rel else "index.html"
            path = self.root / rel
        return rel if path.is_file() else None

    def check_link(self, link: Link, base: str | None, report: Report) -> None:
        url = link.url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in SKIPPED_SCHEMES:
            report.skipped += 1
            return
        if scheme == "file":
            report.internal += 1
            report.broken.append((link, "a file: URL names a file on the machine that built the "
                                  "book, not in the published book"))
            return
        if scheme or parts.netloc:
            report.external += 1
            if scheme == "mailto":
                host = "mailto:" + (parts.path.rpartition("@")[2] or "?")
            else:
                host = parts.hostname or parts.netloc or scheme
            report.hosts[host] += 1
            return
        report.internal += 1
        if parts.path.startswith("/"):
            report.broken.append((link, "root-absolute path: on GitHub Pages the book lives under "
                                  "/<repository>/, so this leaves the book; use a relative link"))
            return
        rel_path = resolve(link.page, base, parts.path)
        if rel_path is None:
            report.broken.append((link, "points outside the built site"))
            return
        target = self.target(rel_path)
        if target is None:
            report.broken.append((link, f"missing file {rel_path or '/'}"))
            return
        fragment = unquote(parts.fragment)
        if not parts.fragment or fragment.lower() == "top" or fragment.startswith(":~:"):
            return
        if not target.lower().endswith((".html", ".htm")):
            return  # a fragment of an image, notebook or PDF: nothing to check in HTML
        report.fragments += 1
        if fragment not in self.page(target).anchors:
            report.broken.append((link, f"no element with id=\"{fragment}\" in {target}"))

    def check(self) -> Report:
        report = Report()
        for name in self.pages():
            page = self.page(name)
            report.pages += 1
            for link in page.links:
                self.check_link(link, page.base, report)
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--also-parse-assets", action="store_true",
                        help=f"also parse HTML files under {', '.join(ASSET_DIRS)}")
    args = parser.parse_args(argv)
    if not (args.root / "index.html").is_file():
        print(f"check_links: {args.root} has no index.html; build the book first", file=sys.stderr)
        return 2
    site = Site(args.root, parse_assets=args.also_parse_assets)
    report = site.check()
    print(f"Links of {args.root}:")
    print(report.summary())
    return 1 if report.broken else 0


if __name__ == "__main__":
    sys.exit(main())
