"""What the first cell of every chapter calls: seed everything and report versions."""

from __future__ import annotations

import platform
import random

import numpy as np
import torch

from . import __version__


def setup(seed: int = 0, threads: int | None = None) -> dict[str, str]:
    """Seed Python, NumPy and PyTorch with ``seed`` and return the versions in use.

    Args:
        seed: the seed for ``random``, ``numpy.random`` and ``torch``.
        threads: if given, ``torch.set_num_threads(threads)``.

    Returns:
        A dict (shown by the notebook as the cell's result) with the versions of
        Python, PyTorch, torchvision and senet_lib, the device, and the seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:  # the installed version, without importing torchvision (slow to import)
        from importlib.metadata import version

        tv = version("torchvision")
    except Exception:  # pragma: no cover - torchvision is a dependency
        tv = "not installed"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": tv,
        "senet_lib": __version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": str(torch.get_num_threads()),
        "seed": str(seed),
    }
