"""Remake `requirements-lock.txt`: every package `requirements.txt` pulls in, at an exact version.

    make lock                      (or: python3 tools/lock.py)
    python3 tools/lock.py --check  resolve requirements.txt with the lock in force, in a new venv,
                                   and fail unless that gives exactly the lock

It makes an empty virtual environment in a temporary folder with this Python, asks that
environment's pip to resolve `requirements.txt` from scratch (`pip install --dry-run
--ignore-installed --report`: nothing is installed, so the 6 GB PyTorch stack is never
downloaded twice), and writes every package of the resolution, `name==version`, sorted, under a
header that says how, when and on what it was made. `make book`, `make test` and the workflows
install with it as constraints (`pip install -r requirements.txt -c requirements-lock.txt`), so
sphinx, docutils, the themes and every other package the pins pull in are the same on every
machine. `tests/test_toolchain.py` fails when the two files disagree.

Add or bump a package in requirements.txt, then run `make lock` and commit both files. The lock
is for the machines the book is built on (Linux x86_64, CPython 3.11): the CUDA build of torch
pulls the nvidia-* packages listed there; pip ignores a constraint it does not need.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements-lock.txt"
REMAKE = "make lock"


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """The lock's pins, {canonical name: version}."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = version
    return pins


def resolve(requirements: Path, python: str, constraints: Path | None = None) -> tuple[dict[str, str], str]:
    """Resolve `requirements` (under `constraints`, if given) in a new, empty venv.

    Returns ({canonical name: version} of every package pip would install, pip's version)."""
    with tempfile.TemporaryDirectory(prefix="senet-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        py = str(venv / "bin" / "python")
        pip = subprocess.run([py, "-m", "pip", "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[1]
        report = Path(tmp) / "report.json"
        done = subprocess.run([py, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                               "--report", str(report), "-r", str(requirements),
                               *(["-c", str(constraints)] if constraints else [])],
                              capture_output=True, text=True, cwd=requirements.parent)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"pip could not resolve {requirements} (exit code {done.returncode})")
        items = json.loads(report.read_text())["install"]
    return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in items}, pip


def render(pins: dict[str, str], pip: str, python_version: str) -> str:
    """The lock file's text: the header, then one `name==version` a line, sorted by name."""
    today = datetime.date.today().isoformat()
    header = [
        "# The whole toolchain at exact versions: every package requirements.txt pulls in.",
        f"# Remake it with `{REMAKE}` (tools/lock.py) after changing requirements.txt, and commit both.",
        f"# Made {today} by pip {pip} resolving requirements.txt from scratch, for CPython "
        f"{python_version} on {platform.system()} {platform.machine()}.",
        "# Used as constraints: pip install -r requirements.txt -c requirements-lock.txt",
        f"# {len(pins)} packages.",
    ]
    return "\n".join(header + [f"{name}=={pins[name]}" for name in sorted(pins)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requirements", type=Path, default=REQUIREMENTS, help="the pins to resolve")
    ap.add_argument("--output", type=Path, default=LOCK, help="the lock file to write")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter whose fresh venv resolves them (default: this one)")
    ap.add_argument("--check", action="store_true",
                    help="resolve with --output as constraints and fail unless the result is exactly it")
    args = ap.parse_args(argv)
    if not args.requirements.is_file():
        ap.error(f"--requirements {args.requirements} is not a file")
    version = subprocess.run([args.python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if args.check:
        locked = read_lock(args.output)
        pins, pip = resolve(args.requirements, args.python, constraints=args.output)
        changed = sorted(f"{n}: lock {locked.get(n, '-')}, resolved {pins.get(n, '-')}"
                         for n in set(locked) | set(pins) if locked.get(n) != pins.get(n))
        if changed:
            print(f"{args.output.name} and a fresh resolution of {args.requirements.name} differ "
                  f"(run `{REMAKE}`):\n  " + "\n  ".join(changed))
            return 1
        print(f"{args.requirements.name} -c {args.output.name} resolves to exactly the lock "
              f"({len(pins)} packages; pip {pip}, Python {version})")
        return 0
    pins, pip = resolve(args.requirements, args.python)
    args.output.write_text(render(pins, pip, version))
    print(f"wrote {args.output} ({len(pins)} packages, pip {pip}, Python {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
