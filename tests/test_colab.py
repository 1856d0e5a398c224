"""The Colab-like runner (tools/run_notebooks.py) that `make notebooks` uses to execute the book.

`make notebooks` itself is the full test: every chapter runs there from the installed wheel, alone
in an empty folder, without network. These tests show that the runner's isolation bites: the wheel
ships every package file, and a notebook that reads a file from the work tree fails.
"""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)


def test_the_wheel_ships_every_file_of_the_package(tmp_path):
    """Package data (results, checkpoints, ...) left out of the wheel would break Colab readers."""
    wheel = run_notebooks.build_wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "senet_lib").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert "senet_lib/__init__.py" in wanted
    missing = sorted(wanted - shipped)
    assert not missing, f"in senet_lib/ but not in the wheel (add them to package-data): {missing}"


def _notebook(path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_isolation_fails_work_tree_reads_and_the_probe_rejects_an_editable_install(tmp_path):
    """One run under this venv (senet_lib installed editable from the work tree):

    - a notebook that opens a repository-relative file fails (it runs alone in an empty folder);
    - a notebook that reads the package's own files through importlib.resources passes;
    - the environment probe fails, because senet_lib comes from the work tree, not a wheel.
    """
    src = tmp_path / "src"
    reads_repo = _notebook(src / "reads_repo.ipynb",
                           "open('book/references.bib').read()\nopen('../senet_lib/__init__.py').read()")
    reads_pkg = _notebook(src / "reads_pkg.ipynb",
                          "from importlib.resources import files\n"
                          "assert 'SEBlock' in files('senet_lib').joinpath('__init__.py').read_text()")
    report = tmp_path / "report.xml"
    out = tmp_path / "out"
    rc = run_notebooks.execute([reads_repo, reads_pkg], Path(sys.executable), Path(sys.prefix), out,
                               ["--junitxml", str(report), "-q"], probe=True)
    assert rc == 1
    outcome = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcome[case.get("name")] = "failed" if failed else "passed"
    assert outcome == {"_colab_probe.ipynb": "failed", "reads_repo.ipynb": "failed",
                       "reads_pkg.ipynb": "passed"}, outcome
    # the executed copies come back, with outputs, even when a chapter fails
    assert sorted(p.name for p in out.iterdir()) == ["reads_pkg.ipynb", "reads_repo.ipynb"]
    assert run_notebooks.fully_executed(out / "reads_pkg.ipynb")
    assert not run_notebooks.fully_executed(reads_pkg), "the source notebook must stay unexecuted"


def test_unknown_chapter_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as e:
        run_notebooks.main(["--only", "99_no_such_chapter"])
    assert e.value.code == 2
    assert "no such chapter" in capsys.readouterr().err


def test_the_pytorch_stack_is_hard_linked_not_installed_twice():
    """The Colab-like venv gets torch & co. as hard links (Colab ships PyTorch preinstalled).

    Installing the 5.5 GB CUDA build a second time filled a CI machine's disk."""
    import importlib.metadata
    import json
    import os
    import subprocess
    import tempfile

    assert run_notebooks.preinstalled("torch") and run_notebooks.preinstalled("nvidia-cudnn-cu13")
    assert run_notebooks.preinstalled("Triton") and run_notebooks.preinstalled("cuda_bindings")
    assert not run_notebooks.preinstalled("numpy") and not run_notebooks.preinstalled("timm")
    (ROOT / "_build").mkdir(exist_ok=True)
    # under the work tree, on the same file system as this venv, so that links can be made
    with tempfile.TemporaryDirectory(dir=ROOT / "_build", prefix="test-link-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        py = venv / "bin" / "python"
        linked, copied, size = run_notebooks.link_torch_stack(py)
        assert linked > 1000 and copied == 0 and size > 500e6, (linked, copied, size)
        # what the new venv's own Python sees as installed (torch's pure-Python dependencies,
        # sympy and the like, come later from pip, so torch is not imported here)
        seen = subprocess.run(
            [str(py), "-c", "import importlib.metadata as m, json\n"
             "print(json.dumps(sorted(d.metadata['Name'].lower() for d in m.distributions())))"],
            capture_output=True, text=True, check=True).stdout
        names = json.loads(seen)
        assert {"torch", "torchvision", "triton"} <= set(names), names
        assert all(run_notebooks.preinstalled(n) for n in names), names
        for name in ["torch", "torchvision"]:
            version = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version('{name}'))"],
                                     capture_output=True, text=True, check=True).stdout.strip()
            assert version == importlib.metadata.version(name)
        ours = Path(importlib.metadata.distribution("torch").locate_file("torch/__init__.py"))
        theirs = next(venv.glob("lib/python*/site-packages/torch/__init__.py"))
        assert os.path.samefile(ours, theirs)
