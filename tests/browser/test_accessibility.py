"""The rendered book for a reader who uses a screen reader: alt text and axe-core on every page.

Run with the rest of the browser suite (`make browser`, after the strict build):

    .venv/bin/python -m pytest tests/browser/test_accessibility.py

For every page of `_toc.yml`, opened in headless Chromium as tests/browser/test_rendered_book.py
opens it (its fixtures; nothing leaves 127.0.0.1), once MathJax has typeset it:

- every `<img>` has alt text, and it is not empty and not a file path: myst-nb gives a figure
  the alt text of its cell's metadata (`"mystnb": {"image": {"alt": ...}}`, CONTRIBUTING.md,
  "Alt text") and otherwise its own file path, which a screen reader reads out;
- axe-core (the copy bundled in the `axe-playwright-python` wheel; nothing is fetched) finds no
  critical or serious violation of its rules, except those in :data:`ALLOWED`, each with the
  reason it is left.

Every page's violations, counted by impact, and the nodes of the critical and serious ones, go to
`_build/accessibility.json` (outside `_build/screenshots`, which the layout test remakes).
A synthetic page with the faults the checks look for shows that they can fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from test_rendered_book import HTML, PAGES, browser, math_problems, page_of, server  # noqa: F401 (fixtures)

RECORD = HTML.parent / "accessibility.json"
#: The impacts that fail the test (axe's four are minor, moderate, serious, critical).
FAILING = ("critical", "serious")

#: Serious or critical axe rules left as they are, with the reason, and the pages they may occur on
#: ("*": any page). Empty unless a violation cannot be fixed from this repository.
ALLOWED: dict[str, tuple[str, str]] = {}

#: An alt text that is only a file name or path (what myst-nb writes when a cell gives none).
PATH_LIKE = re.compile(r"^\S*(/|\\)\S*$|^\S+\.(png|jpe?g|gif|svg|webp|pdf)$", re.IGNORECASE)


def alt_problems(page) -> list[str]:
    """Every `<img>` of the page whose alt text is missing, empty or a file path."""
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.getAttribute('src') || '', e.getAttribute('alt')])")
    problems = []
    for src, alt in images:
        name = src.split("/")[-1][:40]
        if alt is None:
            problems.append(f"{name}: no alt attribute")
        elif not alt.strip():
            problems.append(f"{name}: empty alt")
        elif PATH_LIKE.match(alt.strip()):
            problems.append(f"{name}: alt is a file path ({alt.strip()[:60]!r})")
    return problems


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the open page: ``{id, impact, help, nodes: [target, ...]}`` each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [{"id": v["id"], "impact": v.get("impact") or "minor", "help": v["help"],
             "nodes": [" ".join(map(str, n["target"])) for n in v["nodes"]]}
            for v in results.response["violations"]]


def failing(violations: list[dict], name: str) -> list[dict]:
    """The critical and serious violations that :data:`ALLOWED` does not excuse on page ``name``."""
    return [v for v in violations if v["impact"] in FAILING
            and not (v["id"] in ALLOWED and ALLOWED[v["id"]][1] in ("*", name))]


def _record(name: str, entry: dict) -> None:
    measured = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    measured[name] = entry
    RECORD.write_text(json.dumps(measured, indent=1))


@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible(page_of, name):  # noqa: F811  (page_of: the fixture imported above)
    page, _ = page_of(name)
    math_problems(page)                                   # wait until MathJax has typeset the page
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
    bad_alt = alt_problems(page)
    violations = axe_violations(page)
    _record(name, {
        "images": page.locator("img").count(),
        "alt_problems": bad_alt,
        "violations_by_impact": dict(Counter(v["impact"] for v in violations)),
        "violations": [v | {"nodes": v["nodes"][:5], "count": len(v["nodes"])} for v in violations],
    })
    assert not bad_alt, f"{len(bad_alt)} image(s) without a real alt text: {bad_alt[:5]}"
    left = failing(violations, name)
    assert not left, "axe-core: " + "; ".join(
        f"{v['impact']} {v['id']} ({v['help']}) at {v['nodes'][:3]}" for v in left)


def test_allowed_violations_say_why():
    for rule, (reason, pages) in ALLOWED.items():
        assert len(reason.split()) >= 5 and pages, f"ALLOWED[{rule!r}] needs a reason and the pages"


SYNTHETIC = """<!doctype html><html lang="en"><head><title>t</title></head><body><main>
  <h1>A page</h1>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="{alt1}">
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="{alt2}">
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" {alt3}>
  <p style="color:#777;background:#888">{text}</p>
  {button}
</main></body></html>"""


def test_the_checks_see_missing_alt_text_and_axe_violations(browser):  # noqa: F811  (the fixture imported above)
    """Alt texts that are paths, blank or missing, a button with no name and grey-on-grey text are all
    reported; the same page without them passes (otherwise the tests above could never fail)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_content(SYNTHETIC.format(alt1="../_images/6229e30a.png", alt2=" ", alt3="", text="faint",
                                          button="<button></button>"))
        problems = alt_problems(page)
        assert len(problems) == 3 and "file path" in problems[0] and "empty alt" in problems[1] \
            and "no alt attribute" in problems[2], problems
        ids = {v["id"] for v in failing(axe_violations(page), "synthetic")}
        assert {"button-name", "color-contrast", "image-alt"} <= ids, ids
        page.set_content(SYNTHETIC.format(alt1="A bar chart of 32 gates", alt2="A photograph of a cat",
                                          alt3='alt="Two heat maps side by side"', text="",
                                          button="<button>Open</button>"))
        assert alt_problems(page) == []
        assert failing(axe_violations(page), "synthetic") == []
    finally:
        page.close()
