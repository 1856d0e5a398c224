"""What chapters call that is not their lesson: the first cell's :func:`setup` (seed everything,
report versions), and :func:`print_wrapped`, printed text that fits the rendered page."""

from __future__ import annotations

import platform
import random
import textwrap

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


#: Characters of printed output that fit in the rendered book's text column (measured in
#: Chromium: 688 px, 8.43 px per character of the output font, after 32 px of padding).
PAGE_COLUMNS = 76


def print_wrapped(obj: object, width: int = PAGE_COLUMNS) -> None:
    """``print(obj)``, with every line longer than ``width`` continued below it, indented four
    spaces deeper than the line it continues (so a module's printout keeps its tree shape).
    Words are not split; a single word longer than ``width`` stays whole."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 20:
        raise ValueError(f"width must be an int >= 20, got {width!r}")
    for line in str(obj).splitlines() or [""]:
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        print(textwrap.fill(line, width, subsequent_indent=indent, break_long_words=False,
                            break_on_hyphens=False, drop_whitespace=True) if line.strip() else line)
