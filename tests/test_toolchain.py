"""The toolchain is locked, and the lock is what gets installed.

- `requirements.txt` pins every package it names (`==`); `requirements-lock.txt` (made by
  `make lock`, tools/lock.py) pins every package those pull in; the two agree: no name at another
  version, no pin of requirements.txt missing from the lock;
- the environment running the tests is the lock's (each locked package installed at its version),
  and the Makefile installs with the lock in force;
- `pyproject.toml`'s loose dependency bounds admit the locked versions and Colab's
  (`tools/colab_versions.txt`), and its lower bounds are no lower than Colab's versions, the
  oldest the project tests; the workflow job that tests Colab's versions uses that file.

Remaking the lock resolves against the package index (minutes, network), so it is not run here:
`python3 tools/lock.py --check` does it by hand.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sysconfig
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements-lock.txt"
COLAB = ROOT / "tools" / "colab_versions.txt"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s=;#]+)$")

_spec = importlib.util.spec_from_file_location("senet_tools_lock", ROOT / "tools" / "lock.py")
lock_tool = importlib.util.module_from_spec(_spec)   # tools/lock.py, which `make lock` runs
_spec.loader.exec_module(lock_tool)


def pins_of(text: str, what: str) -> dict[str, str]:
    """{canonical name: version} of a file of `name==version` lines (comments and blanks allowed).

    Anything else (a range, a URL, an option) is an error: both files pin exact versions."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        if not match:
            raise ValueError(f"{what}:{number}: expected `name==version`, got {raw!r}")
        name = canonicalize_name(match["name"])
        if name in pins:
            raise ValueError(f"{what}:{number}: {name} is pinned twice")
        pins[name] = match["version"]
    return pins


def disagreements(requirements: dict[str, str], lock: dict[str, str]) -> list[str]:
    """What keeps `lock` from being the lock of `requirements`, one message each."""
    problems = []
    for name, version in sorted(requirements.items()):
        if name not in lock:
            problems.append(f"{name}=={version} is pinned in requirements.txt but missing from the lock")
        elif lock[name] != version:
            problems.append(f"{name} is {version} in requirements.txt but {lock[name]} in the lock")
    return problems


def requirements() -> dict[str, str]:
    return pins_of(REQUIREMENTS.read_text(), REQUIREMENTS.name)


def lock() -> dict[str, str]:
    return pins_of(LOCK.read_text(), LOCK.name)


def colab() -> dict[str, str]:
    return pins_of(COLAB.read_text(), COLAB.name)


# --- requirements.txt and the lock ---------------------------------------------------------------


def test_requirements_and_lock_agree():
    problems = disagreements(requirements(), lock())
    assert not problems, "run `make lock` and commit requirements-lock.txt:\n" + "\n".join(problems)


def test_the_check_catches_a_bump_and_a_missing_pin():
    reqs = {"numpy": "2.4.6", "sphinx": "7.4.7", "pypdf": "7.1.1"}
    locked = {"numpy": "2.4.5", "sphinx": "7.4.7", "docutils": "0.21.2"}
    assert disagreements(reqs, locked) == [
        "numpy is 2.4.6 in requirements.txt but 2.4.5 in the lock",
        "pypdf==7.1.1 is pinned in requirements.txt but missing from the lock",
    ]
    assert disagreements(reqs, {**locked, "numpy": "2.4.6", "pypdf": "7.1.1"}) == []


def test_names_are_compared_as_pip_compares_them():
    assert pins_of("PyYAML==6.0.4\nsphinx_design==0.8.0\n", "x") == {"pyyaml": "6.0.4", "sphinx-design": "0.8.0"}
    assert disagreements({"sphinx-design": "0.8.0"}, pins_of("Sphinx_Design==0.8.0", "x")) == []


@pytest.mark.parametrize("text", ["numpy>=2\n", "numpy\n", "numpy==2.4.6\nNumPy==2.4.6\n", "-e .\n"])
def test_anything_but_an_exact_pin_is_refused(text):
    with pytest.raises(ValueError, match="x:"):
        pins_of(text, "x")


def test_the_lock_pins_the_toolchain_behind_jupyter_book():
    # What jupyter-book's own ranges used to leave open: these are the point of the lock.
    locked = lock()
    for name in ["sphinx", "docutils", "sphinx-book-theme", "pydata-sphinx-theme", "myst-parser",
                 "jupyter-cache", "sphinx-design", "jinja2", "pygments"]:
        assert name in locked, f"{name} is not in the lock"
    assert Version(locked["sphinx"]).major == 7, "jupyter-book 1.0.4.post1 needs sphinx 7"


def test_the_lock_says_how_to_remake_it():
    head = LOCK.read_text().split("\n", 5)[:5]
    assert any("make lock" in line for line in head), head
    assert all(line.startswith("#") for line in head[:4])
    assert lock_tool.read_lock(LOCK) == lock(), "tools/lock.py reads the lock as this test does"


def test_the_lock_writer_round_trips():
    text = lock_tool.render({"b-pkg": "1.0", "a-pkg": "2.0"}, pip="23.2.1", python_version="3.11.7")
    assert text.startswith("#") and "make lock" in text
    assert pins_of(text, "rendered") == {"a-pkg": "2.0", "b-pkg": "1.0"}
    assert text.rstrip().splitlines()[-2:] == ["a-pkg==2.0", "b-pkg==1.0"]


def test_the_environment_is_the_locks():
    # Only what is installed in this environment's site-packages: once a test has imported
    # setuptools (>= 71), its vendored copies (packaging, zipp, wheel, ...) and their dist-info
    # folders are on sys.path too, and distributions() would list those older versions as well.
    site = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    installed = {canonicalize_name(d.metadata["Name"]): d.version
                 for d in importlib.metadata.distributions(path=site)}
    wrong = [f"{name}: locked {version}, installed {installed.get(name, 'nothing')}"
             for name, version in sorted(lock().items()) if installed.get(name) != version]
    assert not wrong, ("this environment is not the lock's; reinstall with "
                       "`pip install -r requirements.txt -c requirements-lock.txt`:\n" + "\n".join(wrong))


def test_the_makefile_installs_with_the_lock_and_remakes_it():
    makefile = (ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert stamp, "no $(STAMP) rule in the Makefile"
    assert "$(LOCK)" in stamp[1], "the install is not redone when the lock changes"
    assert re.search(r"pip install .*-r requirements\.txt -c \$\(LOCK\)", stamp[2]), stamp[2]
    assert re.search(r"^LOCK\s*:=\s*requirements-lock\.txt$", makefile, re.MULTILINE)
    assert re.search(r"^lock:.*\n\tpython3 tools/lock\.py$", makefile, re.MULTILINE)


# --- Colab's versions, pyproject.toml's bounds, the workflow job ---------------------------------

#: Dependencies whose lower bound no run tests: tools/colab_versions.txt does not record Colab's
#: version of them, so the Colab-versions run resolves the newest (as the lock does).
UNTESTED_LOWER_BOUNDS = {
    "scipy": "not in the issue's list of Colab's versions; the run resolves the newest",
    "tqdm": "not in the issue's list of Colab's versions; the run resolves the newest",
}


#: Dependencies Colab does not preinstall: the setup cell's [book] extra installs the newest, so the
#: newest tested (the lock's) is also the oldest: the lower bound must be the lock's version.
NOT_ON_COLAB = {"torchinfo"}


def dependencies() -> list[Requirement]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def test_colab_versions_say_where_they_come_from():
    text = COLAB.read_text()
    assert re.search(r"^# Source: .+", text, re.MULTILINE), "no '# Source:' line"
    assert re.search(r"^# Recorded \d{4}-\d{2}-\d{2}\.", text, re.MULTILINE), "no '# Recorded YYYY-MM-DD.' date"
    assert re.search(r"^# Refresh each term", text, re.MULTILINE)
    assert re.search(r"^# python: 3\.\d+$", text, re.MULTILINE), "no '# python: 3.X' line"
    pins = colab()
    assert {"torch", "torchvision", "numpy"} <= set(pins), sorted(pins)
    # tools/run_notebooks.py reads the file the same way
    spec = importlib.util.spec_from_file_location("senet_tools_run_notebooks", ROOT / "tools" / "run_notebooks.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    listed, python = runner.read_versions(COLAB)
    assert dict(p.split("==") for p in listed) == pins
    assert python == re.search(r"^# python: (3\.\d+)$", text, re.MULTILINE)[1]


def test_pyproject_bounds_admit_the_lock_and_colab_and_start_at_colabs():
    locked, at_colab = lock(), colab()
    for req in dependencies():
        name = canonicalize_name(req.name)
        assert req.specifier.contains(locked[name]), f"{req} excludes the lock's {name}=={locked[name]}"
        lower = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{req}: one '>=' lower bound expected"
        if name in at_colab:
            tested = Version(at_colab[name])
            assert req.specifier.contains(tested), f"{req} excludes Colab's {name}=={tested}"
            # the bound is Colab's version, written as far as it goes (torch>=2.9 for 2.9.1)
            assert tested.release[:len(lower[0].release)] == lower[0].release, (
                f"{req}: the lower bound is not Colab's {name}=={tested}, the oldest version tested")
        elif name in NOT_ON_COLAB:
            tested = Version(locked[name])
            assert tested.release[:len(lower[0].release)] == lower[0].release, (
                f"{req}: {name} is installed fresh on Colab; its lower bound is the lock's {tested}")
        else:
            assert name in UNTESTED_LOWER_BOUNDS, (
                f"{req}: add {name} to tools/colab_versions.txt, or say in UNTESTED_LOWER_BOUNDS why not")


def test_the_bound_check_catches_a_bound_below_colab():
    tested, lower = Version("2.9.1"), Version("2.1")
    assert tested.release[:len(lower.release)] != lower.release


def test_the_colab_versions_job_runs_them_on_colabs_python():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    job = workflow["jobs"]["colab-versions"]
    setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    python = re.search(r"^# python: (3\.\d+)$", COLAB.read_text(), re.MULTILINE)[1]
    assert [s["with"]["python-version"] for s in setup] == [python]
    assert [s["run"] for s in job["steps"] if "run" in s] == ["make colab-versions"]
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^colab-versions:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe and "tools/run_notebooks.py --book book --versions tools/colab_versions.txt" in recipe[1]
    assert "--venv _build/colab-versions-venv" in recipe[1] and "SENET_STRICT_CHECKS=1" in recipe[1]
