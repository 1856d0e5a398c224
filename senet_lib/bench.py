"""Side-by-side timing: contenders interleaved round by round, medians, ratios, one run.

Never used by tests to assert a speed; run it as a command::

    python -m senet_lib.bench block                 # SE block, forward+backward, 4 stage shapes
    python -m senet_lib.bench block --quick         # tiny shapes, a smoke run
    python -m senet_lib.bench block --out results.json

Interleaving (A, B, C, A, B, C, ...) makes every contender see the same machine state, so
the ratios stay meaningful on a busy machine even when the absolute times move.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Callable

import torch
from torch import nn

from . import __version__
from .block import SEBlock

__all__ = ["interleaved", "block_contenders", "bench_block", "machine", "main"]

#: The SE blocks of SE-ResNet-50, one per stage: (channels, height = width), batch 8.
STAGE_SHAPES = [(256, 56), (512, 28), (1024, 14), (2048, 7)]
QUICK_SHAPES = [(32, 8), (64, 4)]


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Time each callable once per round, in turn, for ``rounds`` rounds; seconds per call."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


class ClassicSE(nn.Module):
    """The classic write-up: an ``nn.Sequential`` for the gates, then ``x * gates``."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gates = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, hidden, bias=False), nn.ReLU(),
            nn.Linear(hidden, channels), nn.Sigmoid(), nn.Unflatten(1, (channels, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gates(x)


def block_contenders(channels: int, reduction: int = 16) -> dict[str, nn.Module]:
    """senet_lib's SEBlock beside timm's SEModule, torchvision's SqueezeExcitation and the classic sequence."""
    hidden = max(1, channels // reduction)
    mods: dict[str, nn.Module] = {"senet_lib": SEBlock(channels, reduction)}
    try:
        from timm.layers import SEModule

        mods["timm"] = SEModule(channels, rd_channels=hidden)
    except ImportError:  # timm is optional for the library
        pass
    from torchvision.ops import SqueezeExcitation

    mods["torchvision"] = SqueezeExcitation(channels, hidden)
    mods["classic"] = ClassicSE(channels, reduction)
    return mods


def bench_block(shapes=STAGE_SHAPES, batch: int = 8, rounds: int = 15, backward: bool = True,
                channels_last: bool = False, compiled: bool = False) -> list[dict]:
    """Time every contender at every shape; one result dict per shape with medians and ratios."""
    rows = []
    for channels, size in shapes:
        torch.manual_seed(0)
        x = torch.randn(batch, channels, size, size)
        if channels_last:
            x = x.to(memory_format=torch.channels_last)
        grad = torch.randn_like(x)
        mods = block_contenders(channels)
        if compiled:
            mods = {k: torch.compile(m) for k, m in mods.items()}

        def step(m: nn.Module) -> Callable[[], object]:
            if backward:
                def run() -> None:
                    xi = x.detach().requires_grad_()
                    m(xi).backward(grad)
            else:
                def run() -> None:
                    with torch.no_grad():
                        m(x)
            return run

        times = interleaved({k: step(m) for k, m in mods.items()}, rounds)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        rivals = [med[k] for k in ("timm", "torchvision") if k in med]
        rows.append({
            "shape": [batch, channels, size, size],
            "median_ms": med,
            "ratio_vs_best_of_timm_torchvision": med["senet_lib"] / min(rivals),
        })
    return rows


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    import os

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "senet_lib": __version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _format_block(rows: list[dict]) -> str:
    names = list(rows[0]["median_ms"])
    head = f"{'shape (N, C, H, W)':>22} " + " ".join(f"{n:>12}" for n in names) + "   ratio"
    lines = [head]
    for r in rows:
        shape = "x".join(str(s) for s in r["shape"])
        cells = " ".join(f"{r['median_ms'][n]:>9.2f} ms" for n in names)
        lines.append(f"{shape:>22} {cells}   {r['ratio_vs_best_of_timm_torchvision']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m senet_lib.bench", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("block", help="SEBlock vs timm vs torchvision vs the classic sequence")
    b.add_argument("--quick", action="store_true", help="tiny shapes and few rounds (smoke run)")
    b.add_argument("--rounds", type=int, default=15)
    b.add_argument("--forward-only", action="store_true")
    b.add_argument("--channels-last", action="store_true")
    b.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)

    shapes = QUICK_SHAPES if args.quick else STAGE_SHAPES
    rounds = 3 if args.quick else args.rounds
    rows = bench_block(shapes, rounds=rounds, backward=not args.forward_only,
                       channels_last=args.channels_last)
    mode = "forward" if args.forward_only else "forward+backward"
    print(f"SE block, {mode}, fp32, {'channels_last' if args.channels_last else 'contiguous'}, "
          f"median of {rounds} interleaved rounds; ratio = senet_lib / faster of timm and torchvision")
    print(_format_block(rows))
    worst = max(r["ratio_vs_best_of_timm_torchvision"] for r in rows)
    print(f"worst ratio: {worst:.3f} (target <= 1.0: {'met' if worst <= 1.0 else 'NOT met'})")
    if args.out:
        result = {"command": " ".join(["python -m senet_lib.bench"] + (argv if argv is not None else sys.argv[1:])),
                  "machine": machine(), "mode": mode, "rounds": rounds, "rows": rows}
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
