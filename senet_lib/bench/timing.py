"""Timing machinery: contenders interleaved round by round, medians, paired ratios.

Interleaving (A, B, C, A, B, C, ...) makes every contender see the same machine state, so the
ratios stay meaningful on a busy machine even when the absolute times move. No function here
asserts a speed; tests only check that the numbers exist. What the times were measured on is
recorded by :func:`senet_lib.records.environment`.
"""

from __future__ import annotations

import math
import platform
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import torch

__all__ = ["interleaved", "paired_ratio", "device_sync", "summarize", "first_call_seconds",
           "keep_freed_memory"]


def check_rounds(rounds: object, warmup: object) -> None:
    """Raise unless ``rounds`` is an int >= 1 and ``warmup`` an int >= 0."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")


def interleaved(fns: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 5,
                sync: Callable[[], object] | None = None,
                shuffle: int | None = None) -> dict[str, list[float]]:
    """Time each callable once per round, in turn, for ``rounds`` rounds; seconds per call.

    ``warmup`` untimed rounds come first (caches, allocator, lazy initialisation). ``sync``
    (e.g. ``torch.cuda.synchronize``) is called before starting and before stopping each clock,
    so that asynchronous devices are timed to the end of their work. ``shuffle``: a seed; each
    timed round then runs the callables in a new random order, so that no contender always
    follows the same one (whose leftovers in the caches it would inherit). The i-th time of
    every contender comes from the same round, which is what :func:`paired_ratio` pairs up.
    """
    check_rounds(rounds, warmup)
    if not fns:
        raise ValueError("fns is empty: give at least one callable to time")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    wait = sync or (lambda: None)
    order = list(fns)
    rng = random.Random(shuffle)
    for _ in range(rounds):
        if shuffle is not None:
            rng.shuffle(order)
        for name in order:
            fn = fns[name]
            wait()
            t0 = time.perf_counter()
            fn()
            wait()
            times[name].append(time.perf_counter() - t0)
    return times


def paired_ratio(num: Sequence[float], den: Sequence[float]) -> dict[str, float]:
    """The median over rounds of ``num[i] / den[i]``, with a 95 % confidence interval.

    Two contenders timed in the same round saw the same machine; their ratio round by round
    cancels the slow drifts of a shared machine that a ratio of two separate medians keeps.
    The interval is the distribution-free one for a median (order statistics of the ratios,
    binomial ranks), so it makes no assumption about how the noise is shaped; with fewer
    than 6 rounds it is the full range. Returns ``median``, ``low``, ``high``, ``rounds``.
    """
    if len(num) != len(den) or not num:
        raise ValueError(f"num and den must be non-empty and of equal length, got {len(num)} "
                         f"and {len(den)} times")
    ratios = sorted(a / b for a, b in zip(num, den, strict=True))
    n = len(ratios)
    if n < 6:
        lo, hi = 0, n - 1
    else:
        half = 1.96 * math.sqrt(n) / 2
        lo = max(0, math.floor(n / 2 - half))
        hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return {"median": statistics.median(ratios), "low": ratios[lo], "high": ratios[hi], "rounds": n}


def device_sync(device: torch.device | str) -> Callable[[], object] | None:
    """The function that waits for ``device`` to finish its queued work (``None`` on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return None


def summarize(times: dict[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
    """``(median_ms, iqr_ms)``: the median and the interquartile range of each contender, in ms."""
    med, iqr = {}, {}
    for name, ts in times.items():
        ms = sorted(t * 1e3 for t in ts)
        med[name] = statistics.median(ms)
        if len(ms) >= 4:
            q = statistics.quantiles(ms, n=4)
            iqr[name] = q[2] - q[0]
        else:
            iqr[name] = ms[-1] - ms[0]
    return med, iqr


def first_call_seconds(fn: Callable[[], object]) -> float:
    """Run ``fn`` once and return how long it took (for a compiled function: compile time)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process instead of returning it to the OS.

    By default glibc serves large blocks (tens of MB, like the 8x256x56x56 feature maps)
    with fresh ``mmap`` calls and unmaps them when freed, so every allocation pays page
    faults, and how many depends on the allocator's history. That made the largest shape's
    times jump by 2-4x between runs. With this, freed blocks are reused (the steady state
    PyTorch's CUDA caching allocator gives on GPUs), and all contenders are timed on the same
    footing. Returns False where it cannot be done (not glibc); the benchmark then runs with
    the system's default and says so in its results.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if platform.system() != "Linux" or not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(
            libc.mallopt(m_trim_threshold, (1 << 31) - 1))
    except (OSError, AttributeError):
        return False
