"""How long ``import senet_lib`` takes beside ``import torch``, each in a fresh interpreter.

A chapter's first cell pays for the imports; a library that pulls in torchvision's model zoo
(and with it ``torch._dynamo``) at import time makes every chapter pay for it. Each round
starts one new Python process per contender, in turn (interleaved), and times it from start
to exit; the paired ratio per round cancels the machine's drift::

    python -m senet_lib.bench imports --rounds 15

The library's target: ``import senet_lib`` at most 1.2 x ``import torch``.
"""

from __future__ import annotations

import subprocess
import sys
import time

from .timing import check_rounds, paired_ratio, summarize

__all__ = ["IMPORTS", "bench_imports"]

#: The contenders: a statement run by ``python -c`` in a fresh process.
IMPORTS: dict[str, str] = {
    "python": "pass",
    "torch": "import torch",
    "senet_lib": "import senet_lib",
    "torchvision.models": "import torchvision.models",
}


def _run(statement: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - t0


def bench_imports(rounds: int = 15, warmup: int = 2) -> dict:
    """Seconds per fresh-process import of each of :data:`IMPORTS`, interleaved round by round.

    Returns ``median_ms`` and ``iqr_ms`` per contender and ``senet_lib_vs_torch``, the paired
    ratio of ``import senet_lib`` to ``import torch`` (median and 95 % interval).
    """
    check_rounds(rounds, warmup)
    times: dict[str, list[float]] = {k: [] for k in IMPORTS}
    for i in range(warmup + rounds):  # warm the file cache first
        for name, statement in IMPORTS.items():
            t = _run(statement)
            if i >= warmup:
                times[name].append(t)
    med, iqr = summarize(times)
    return {"rounds": rounds, "median_ms": med, "iqr_ms": iqr,
            "senet_lib_vs_torch": paired_ratio(times["senet_lib"], times["torch"])}
