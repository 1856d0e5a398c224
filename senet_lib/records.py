"""What a measured number is recorded with, and the results files that ship with the package.

* :func:`environment`: the versions and the machine, written into every results file (by
  ``python -m senet_lib.experiments`` and ``python -m senet_lib.bench``), so that a number can be
  traced to where it was measured.
* :func:`load_results`: a results file of ``senet_lib/results/`` (package data, read with
  ``importlib.resources``, so it works from an installed wheel), as a dict; a training
  experiment's file in the schema of :mod:`senet_lib.results` (an older one converted on reading).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata, resources
from typing import Any

import torch

from . import __version__

__all__ = ["environment", "load_results"]


def _version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (without importing it: some are slow to
    import), or ``None`` when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment() -> dict[str, Any]:
    """Versions and machine facts: Python and the libraries (``None`` for one not installed),
    platform, CPU model, core count, PyTorch's threads and CPU kernels (``cpu_capability``, e.g.
    ``"AVX2"`` or ``"AVX512"``: runs made with different kernels differ in their last bits), the
    load average (``None`` where the system has none) and the CUDA device (``None`` without one)."""
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        load = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "timm": _version("timm"),
        "numpy": _version("numpy"),
        "senet_lib": __version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_1_5_15_min": load,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def load_results(name: str) -> dict[str, Any]:
    """The results file ``name`` shipped in ``senet_lib/results/`` (e.g. ``"bench_cpu.json"``,
    ``"compare_photos.json"``), as a dict; the file says which command wrote it. A training
    experiment's file comes in :mod:`senet_lib.results`' format (:func:`senet_lib.results.read_results`)."""
    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(".json"):
        raise ValueError(f"name must be a file name ending in .json, got {name!r}")
    folder = resources.files("senet_lib") / "results"
    ref = folder / name
    if not ref.is_file():
        available = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
        raise FileNotFoundError(f"no results file {name!r} in senet_lib/results; available: {available}")
    from .results import read_results

    with resources.as_file(ref) as path:
        return read_results(path)
