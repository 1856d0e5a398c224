"""`make test` lints and type-checks, and both checks can fail.

`make lint` (the first step of `make test`) runs `ruff check` over senet_lib, tests and tools and
`mypy` over senet_lib, both configured in pyproject.toml. These tests check that the Makefile does
so, and that the configuration has teeth: a call that passes the wrong type to a library function
fails mypy, and a zip without `strict=` fails ruff.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def makefile_rule(target: str) -> tuple[str, list[str]]:
    """(prerequisites, recipe lines) of a Makefile rule."""
    text = (ROOT / "Makefile").read_text()
    rule = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n)*)", text, re.MULTILINE)
    assert rule, f"no '{target}:' rule in the Makefile"
    return rule[1], [line.strip() for line in rule[2].splitlines()]


def test_make_test_lints_first():
    prerequisites, _ = makefile_rule("test")
    assert prerequisites.split()[0] == "lint", prerequisites


def test_make_lint_runs_ruff_and_mypy_over_the_code():
    _, recipe = makefile_rule("lint")
    assert "$(PY) -m ruff check senet_lib tests tools" in recipe, recipe
    assert "$(PY) -m mypy" in recipe, recipe
    config = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^files = \["senet_lib"\]$', config, re.MULTILINE), "mypy does not check senet_lib"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)


def test_mypy_refuses_a_wrong_type_in_a_call_to_the_library(tmp_path):
    code = tmp_path / "example.py"
    code.write_text(textwrap.dedent("""
        from senet_lib import SEBlock
        SEBlock("64", reduction=16)
    """))
    # the project's configuration (pyproject.toml) and cache, as `make lint` uses them
    refused = run("mypy", "--config-file", "pyproject.toml", str(code))
    message = 'example.py:3: error: Argument 1 to "SEBlock" has incompatible type "str"'
    assert refused.returncode == 1 and message in refused.stdout, refused.stdout + refused.stderr
    code.write_text(code.read_text().replace('"64"', "64"))
    accepted = run("mypy", "--config-file", "pyproject.toml", str(code))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_ruff_refuses_a_zip_without_strict(tmp_path):
    code = tmp_path / "example.py"
    code.write_text("pairs = list(zip([1, 2], [3]))\n")
    found = run("ruff", "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", str(code))
    assert found.returncode == 1 and "B905" in found.stdout, found.stdout + found.stderr
    code.write_text("pairs = list(zip([1, 2], [3, 4], strict=True))\n")
    clean = run("ruff", "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", str(code))
    assert clean.returncode == 0, clean.stdout + clean.stderr
