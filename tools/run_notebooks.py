"""Execute every chapter the way a Colab reader would, and keep the executed copies for the book.

What `make notebooks` runs. For each run it

1. builds `senet_lib` as a wheel from a copy of the package (never from the work tree in place);
2. installs that wheel, not editable, into a separate virtual environment (`_build/colab-venv`,
   made once per version of requirements.txt + requirements-lock.txt + pyproject.toml, with the
   lock and requirements.txt as constraints; the wheel itself is reinstalled on every run). As on
   Colab, PyTorch is there before the wheel: the PyTorch stack (torch, torchvision, triton and the
   CUDA libraries, 5.5 GB of the 6 GB) is hard-linked from the environment running this script, so
   it costs no disk space twice; pip installs everything else the wheel and its [book] extra ask
   for. With `--versions FILE` (e.g. tools/colab_versions.txt, Colab's own versions) the
   environment is made from that file instead: its pins installed first, PyTorch included (from
   the package index, not linked), as Colab has them preinstalled; then the wheel and its [book]
   extra, constrained by the same file;
3. copies each notebook ALONE into its own empty temporary folder, and executes them all with
   nbmake under that environment's Python, with no source tree on `sys.path` and, where the
   machine allows it (root and `unshare`), in a network namespace that has only loopback;
4. copies the executed notebooks into `--into` (e.g. `_executed/book`), where the strict book
   build renders them.

So a notebook that opens a repository-relative file, imports a module that is only in the work
tree, reads package data the wheel leaves out, or downloads something, fails here, as it would
on Colab. A probe notebook, run first in the same way, checks the environment itself.

    python tools/run_notebooks.py --book book --into _executed/book [--only 01_se_block]
    python tools/run_notebooks.py --versions tools/colab_versions.txt --venv _build/colab-versions-venv
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "_build" / "colab-venv"
KEY_FILE = ".senet-colab-key"
# Packages the Colab-like environment needs beyond the wheel and its [book] extra: the runner.
RUNNER_PACKAGES = ["ipykernel", "nbmake", "pytest", "nbformat", "nbclient"]
# Bumped when the recipe below changes, so that cached environments are remade.
RECIPE = "4"
# The book's pins: requirements.txt, and the lock of everything they pull in (tools/lock.py).
CONSTRAINTS = [ROOT / "requirements.txt", ROOT / "requirements-lock.txt"]

# Bring the loopback interface up inside a fresh network namespace (without `ip`), then exec.
_LO_UP = r"""
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = struct.pack("16sH14x", b"lo", 0)
flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, req))[1]      # SIOCGIFFLAGS
fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 0x1))    # SIOCSIFFLAGS |= IFF_UP
os.execvp(sys.argv[1], sys.argv[1:])
"""

_PROBE = r'''
import os, socket, sys
from pathlib import Path
import senet_lib

repo = Path(os.environ["SENET_PROBE_REPO"]).resolve()
venv = Path(os.environ["SENET_PROBE_VENV"]).resolve()
here = Path.cwd().resolve()
lib = Path(senet_lib.__file__).resolve()

def inside(p, root):
    return p == root or root in p.parents

assert inside(Path(sys.prefix).resolve(), venv), f"kernel runs {sys.executable}, not the Colab-like venv {venv}"
assert inside(lib, venv) and "site-packages" in lib.parts, f"senet_lib imported from {lib}, not from the installed wheel"
def in_tree(p):  # inside the work tree, other than the Colab-like venv (which may be cached there)
    return inside(p, repo) and not inside(p, venv)

assert not in_tree(lib), f"senet_lib imported from the work tree: {lib}"
on_path = [p for p in sys.path if p and in_tree(Path(p).resolve())]
assert not on_path, f"the work tree is on sys.path: {on_path}"
assert not inside(here, repo), f"the notebook runs inside the work tree: {here}"
assert sorted(p.name for p in here.iterdir()) == ["_colab_probe.ipynb"], sorted(here.iterdir())
assert not any("__editable__" in type(f).__module__ for f in sys.meta_path), "senet_lib is installed editable"
if os.environ.get("SENET_PROBE_OFFLINE") == "1":
    names = [name for _, name in socket.if_nameindex()]
    assert names == ["lo"], f"network interfaces besides loopback: {names}"
print("senet_lib", senet_lib.__version__, "from", lib)
'''


def log(msg: str) -> None:
    print(f"[run_notebooks] {msg}", flush=True)


def run(cmd: list[str]) -> None:
    """Run a build or install step; show its output only if it fails."""
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        raise SystemExit(f"[run_notebooks] failed (exit code {done.returncode}): {' '.join(cmd)}")


def env_key(versions: Path | None = None) -> str:
    """What the Colab-like environment is made from: when it changes, the environment is remade."""
    h = hashlib.sha256(RECIPE.encode())
    for path in [*([versions] if versions else CONSTRAINTS), ROOT / "pyproject.toml"]:
        h.update(path.read_bytes() if path.exists() else b"")
    h.update(sys.version.encode())
    return h.hexdigest()


def read_versions(path: Path) -> tuple[list[str], str | None]:
    """The pins (`name==version` lines) of a versions file, and its `# python: X.Y` line, if any."""
    text = path.read_text()
    pins = [line.split("#")[0].strip() for line in text.splitlines()]
    pins = [pin for pin in pins if pin]
    bad = [pin for pin in pins if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[^=\s]+", pin)]
    if bad:
        raise SystemExit(f"--versions {path}: expected one `name==version` a line, got {bad}")
    python = re.search(r"^#\s*python:\s*(\d+\.\d+)\s*$", text, re.MULTILINE)
    return pins, python.group(1) if python else None


def installed_versions(py: Path, names: list[str]) -> dict[str, str]:
    """The versions of `names` installed in the environment of `py` ("-" where missing)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "def v(n):\n    try: return m.version(n)\n    except m.PackageNotFoundError: return '-'\n"
            "print(json.dumps({n: v(n) for n in sys.argv[1:]}))")
    out = subprocess.run([str(py), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def build_wheel(out_dir: Path) -> Path:
    """Build senet_lib's wheel from a clean copy of the package; return the wheel's path."""
    src = out_dir / "src"
    src.mkdir(parents=True)
    for name in ["pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in"]:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "senet_lib", src / "senet_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = out_dir / "dist"
    # With setuptools here, build offline with it; without (a bare Python 3.12+), let pip fetch
    # the build backend pyproject.toml asks for.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
         "-w", str(dist), str(src)])
    wheels = sorted(dist.glob("senet_lib-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one senet_lib wheel in {dist}, found {wheels}")
    return wheels[0]


def preinstalled(name: str) -> bool:
    """Whether a distribution belongs to the PyTorch stack that Colab ships preinstalled."""
    name = name.lower().replace("_", "-")
    return name in {"torch", "torchvision", "triton"} or name.startswith(("nvidia-", "cuda-"))


def link_torch_stack(py: Path) -> tuple[int, int, int]:
    """Put this environment's PyTorch stack into the venv of `py`, file by file, as hard links.

    Hard links share the bytes (a copy where the two folders are on different file systems);
    pip later treats these distributions as installed, and replacing one (pip removes files, it
    never writes into them) leaves this environment's copy alone.
    Returns (files linked, files copied, bytes)."""
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    linked = copied = size = 0
    for dist in importlib.metadata.distributions():
        if not preinstalled(dist.metadata["Name"] or ""):
            continue
        for rel in dist.files or []:
            if rel.parts and rel.parts[0] == "..":  # console scripts in bin/: not needed by a kernel
                continue
            src, dst = Path(dist.locate_file(rel)), site / rel
            if not src.is_file() or dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
                linked += 1
            except OSError:
                shutil.copy2(src, dst)
                copied += 1
            size += dst.stat().st_size
    return linked, copied, size


def ensure_venv(wheel: Path, venv: Path, versions: Path | None = None) -> Path:
    """Make (once per key) the Colab-like environment; reinstall the wheel, not editable, every run.

    Without `versions`: the book's pins (requirements.txt and its lock) as constraints, PyTorch
    hard-linked from this environment. With `versions` (a file of `name==version` pins): those
    installed first, PyTorch included, then the wheel under the same pins."""
    py = venv / "bin" / "python"
    key = env_key(versions)
    key_path = venv / KEY_FILE
    if not (py.exists() and key_path.exists() and key_path.read_text() == key):
        made_from = versions.name if versions else "requirements.txt/requirements-lock.txt/pyproject.toml"
        log(f"creating {venv.relative_to(ROOT) if venv.is_relative_to(ROOT) else venv} "
            f"(once per {made_from}; takes a few minutes)")
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(venv)])
        if versions is None:
            linked, copied, size = link_torch_stack(py)
            log(f"PyTorch stack preinstalled as on Colab ({size / 1e9:.1f} GB): {linked} files hard-linked"
                f"{f', {copied} copied (another file system)' if copied else ''}")
            constraints = [arg for path in CONSTRAINTS if path.exists() for arg in ("-c", str(path))]
        else:
            pins, _ = read_versions(versions)
            log(f"preinstalling {versions.name}'s {len(pins)} pins, as Colab has them: {' '.join(pins)}")
            run([str(py), "-m", "pip", "install", "-q", *pins])
            constraints = ["-c", str(versions)]
        run([str(py), "-m", "pip", "install", "-q", *constraints, f"{wheel}[book]", *RUNNER_PACKAGES])
        key_path.write_text(key)
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)])
    return py


def offline_prefix(python: Path) -> tuple[list[str], str]:
    """The command prefix that runs without network (loopback only), or [] and why not."""
    if os.environ.get("SENET_ALLOW_NETWORK") == "1":
        return [], "network left on (SENET_ALLOW_NETWORK=1)"
    unshare = shutil.which("unshare")
    if unshare is None:
        return [], "network NOT isolated: `unshare` is missing"
    prefix = [unshare, "-n", "--", str(python), "-I", "-c", _LO_UP]
    try:
        probe = subprocess.run([*prefix, str(python), "-I", "-c", "import socket; s = socket.socket();"
                                " s.bind(('127.0.0.1', 0)); s.listen()"],
                               capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return [], f"network NOT isolated: unshare -n failed ({e})"
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return [], f"network NOT isolated: unshare -n failed ({why})"
    return prefix, "no network: each kernel runs in a namespace with loopback only (unshare -n)"


def clean_env(venv: Path, offline: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "JUPYTER_PATH",
                        "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    env["SENET_PROBE_REPO"] = str(ROOT)
    env["SENET_PROBE_VENV"] = str(venv)
    env["SENET_PROBE_OFFLINE"] = "1" if offline else "0"
    return env


def write_probe(folder: Path) -> Path:
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "probe", "metadata": {},
                   "outputs": [], "source": _PROBE.strip()}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    folder.mkdir()
    path = folder / "_colab_probe.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return path


def fully_executed(path: Path) -> bool:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return bool(code) and all(c.get("execution_count") is not None for c in code)


def execute(notebooks: list[Path], python: Path, venv: Path, into: Path | None,
            pytest_args: list[str], probe: bool = True) -> int:
    """Run each notebook alone in an empty folder under `python`; copy the executed ones `into`."""
    prefix, how = offline_prefix(python)
    log(how)
    with tempfile.TemporaryDirectory(prefix="senet-colab-") as tmp:
        work = Path(tmp)
        (work / "pytest.ini").write_text("[pytest]\n")  # keep the repository's pytest config out
        targets = [write_probe(work / "_probe")] if probe else []
        copies = {}
        for nb in notebooks:
            folder = work / nb.stem
            folder.mkdir()
            copies[nb] = folder / nb.name
            shutil.copy2(nb, copies[nb])
        targets += list(copies.values())
        cmd = [*prefix, str(python), "-m", "pytest", "--nbmake", "--overwrite",
               "-p", "no:cacheprovider", "-c", str(work / "pytest.ini"), "--rootdir", str(work),
               "-ra", *pytest_args, *[str(t.relative_to(work)) for t in targets]]
        rc = subprocess.run(cmd, cwd=work, env=clean_env(venv, bool(prefix))).returncode
        if into is not None:
            into.mkdir(parents=True, exist_ok=True)
            for nb, copy in copies.items():
                shutil.copy2(copy, into / nb.name)
                if rc == 0 and not fully_executed(copy):
                    log(f"ERROR: {nb.name} passed but was not written back executed")
                    rc = 1
    return rc


@contextlib.contextmanager
def locked(venv: Path):
    """One run at a time per environment: another run would reinstall the wheel under our kernels."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another run that uses {venv} ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--book", type=Path, default=ROOT / "book", help="folder with the chapters")
    ap.add_argument("--into", type=Path, default=None,
                    help="folder that receives the executed notebooks (e.g. _executed/book)")
    ap.add_argument("--only", action="append", default=[], metavar="STEM",
                    help="run only this chapter (repeatable), e.g. --only 01_se_block")
    ap.add_argument("--venv", type=Path, default=VENV, help=f"the Colab-like environment (default {VENV})")
    ap.add_argument("--versions", type=Path, default=None, metavar="FILE",
                    help="make the environment from these `name==version` pins (e.g. tools/colab_versions.txt) "
                         "instead of the book's lock; use another --venv for it")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)

    if not args.book.is_dir():
        ap.error(f"--book {args.book} is not a folder")
    notebooks = sorted(args.book.glob("*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.stem in args.only]
        missing = set(args.only) - {nb.stem for nb in notebooks}
        if missing:
            ap.error(f"--only: no such chapter in {args.book}: {sorted(missing)}")
    if not notebooks:
        ap.error(f"no notebooks in {args.book}")
    if args.versions is not None:
        if not args.versions.is_file():
            ap.error(f"--versions {args.versions} is not a file")
        if args.venv.resolve() == VENV.resolve():
            ap.error(f"--versions: give the environment another folder than the default {VENV} "
                     "(e.g. --venv _build/colab-versions-venv), or the lock's environment is replaced")
        _pins, wanted = read_versions(args.versions.resolve())
        here = ".".join(platform.python_version_tuple()[:2])
        if wanted and wanted != here:
            log(f"NOTE: {args.versions.name} is for Python {wanted}; this run uses Python {here}")
        args.versions = args.versions.resolve()

    venv = args.venv.resolve()
    with locked(venv):
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="senet-wheel-") as tmp:
            wheel = build_wheel(Path(tmp))
            t1 = time.perf_counter()
            log(f"built {wheel.name} in {t1 - t0:.0f} s")
            python = ensure_venv(wheel, venv, args.versions)
        t2 = time.perf_counter()
        log(f"Colab-like environment ready in {t2 - t1:.0f} s ({python})")
        if args.versions is not None:
            names = [pin.split("==")[0] for pin in read_versions(args.versions)[0]]
            found = installed_versions(python, [*names, "torchinfo", "senet_lib"])
            py_version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                                        capture_output=True, text=True, check=True).stdout.strip()
            log("versions in use: " + " ".join([f"python={py_version}", *[f"{k}={v}" for k, v in found.items()]]))
        rc = execute(notebooks, python, venv, args.into, args.pytest_args)
        log(f"executed {len(notebooks)} notebook(s) in {time.perf_counter() - t2:.0f} s; exit code {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
