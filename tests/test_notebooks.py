"""Notebook hygiene, and proof that a raising cell fails the book's checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "book/ has no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_kernelspec(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(_code_cells(nb)):
        assert not cell.outputs, f"{path.name}: code cell {i} has stored outputs"
        assert cell.execution_count is None, f"{path.name}: code cell {i} has an execution count"
    ks = nb.metadata.get("kernelspec", {})
    assert ks.get("name") == "python3" and ks.get("language") == "python", ks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_first_and_installs_from_our_repository(path):
    nb = nbformat.read(path, as_version=4)
    first = _code_cells(nb)[0]
    src = first.source
    assert "import senet_lib" in src and "except ImportError" in src, "setup cell must come first"
    assert "senet_lib.setup(" in src
    assert "hide-input" in first.metadata.get("tags", []), "the setup cell is collapsed in the book"
    urls = re.findall(r"git\+(\S+?)[\"']", src)
    assert urls == [REPO_URL], f"{path.name} installs from {urls}, _config.yml says {REPO_URL}"


def test_config_points_colab_at_main():
    assert CONFIG["repository"]["branch"] == "main"
    assert "colab_url" in CONFIG["launch_buttons"]
    assert CONFIG["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert CONFIG["execute"]["timeout"] >= 300
    assert CONFIG["only_build_toc_files"] is True
    for pattern in [".venv", "_build", ".pytest_cache", "tests"]:
        assert pattern in CONFIG["exclude_patterns"]


def _raising_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter that breaks"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise RuntimeError('this cell raises on purpose')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_a_raising_cell_fails_nbmake(tmp_path):
    nb = tmp_path / "broken.ipynb"
    _raising_notebook(nb)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "-p", "no:cacheprovider", "-q", str(nb)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "this cell raises on purpose" in run.stdout


def test_a_raising_cell_fails_the_book_build(tmp_path):
    """The project's own _config.yml makes `make book`'s build fail on a raising cell."""
    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.exists():
        pytest.skip(f"jupyter-book is not installed next to {sys.executable}")
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", book / "references.bib")
    (book / "index.md").write_text("# Index\n")
    _raising_notebook(book / "broken.ipynb")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nchapters:\n  - file: book/broken\n"
    )
    run = subprocess.run(
        [str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "this cell raises on purpose" in out
