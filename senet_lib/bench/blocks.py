"""The SE block side by side, and its pieces alone.

* :func:`block_contenders`: ``senet_lib.SEBlock``, timm's ``SEModule``, torchvision's
  ``SqueezeExcitation`` and the classic write-up (:class:`ClassicSE`: the plain ``nn.Sequential``
  of the gates, then ``x * gates``), same width and bottleneck.
* :func:`bench_block`: all of them at each shape, interleaved round by round; forward or
  forward+backward, eager or ``torch.compile``, contiguous or channels_last; ``SEBlock``'s
  time over each other contender's, paired round by round, with a 95 % interval.
* :func:`bench_pieces`: pooling, the two small matrix products, the broadcast multiply, the
  residual addition with and without the folded-in gates, and the bottleneck's two convolutions
  at the same shape, for the roofline.
* :func:`probe_ceilings`: the machine's streaming bandwidth and matrix-product speed.
* :func:`compile_seconds`: how long ``torch.compile`` takes for each contender's first call,
  after a throwaway compile has paid the compiler's start-up, in rotated orders.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..block import SEBlock, hidden_width
from ..cost import RESNET50_STAGES, OpCost, conv_cost, residual_add_cost, se_block_bytes, se_block_flops
from .timing import device_sync, first_call_seconds, interleaved, paired_ratio, summarize

__all__ = [
    "STAGE_SHAPES", "QUICK_SHAPES", "ClassicSE", "block_contenders", "bench_block",
    "bench_pieces", "probe_ceilings", "warm_up_compiler", "compile_seconds",
]

#: The SE blocks of SE-ResNet-50, one per stage: (channels, height = width) at 224 x 224 input.
STAGE_SHAPES: list[tuple[int, int]] = [(s.channels, s.size) for s in RESNET50_STAGES]
#: Tiny shapes for smoke runs.
QUICK_SHAPES: list[tuple[int, int]] = [(32, 8), (64, 4)]


class ClassicSE(nn.Module):
    """The classic write-up: the gates as one plain ``nn.Sequential`` (``AdaptiveAvgPool2d(1),
    Flatten, Linear(C, C // r, bias=False), ReLU, Linear(C // r, C), Sigmoid,
    Unflatten(1, (C, 1, 1))``), then ``x * gates``. Only the width is ``max(1, C // r)``, as in
    :class:`~senet_lib.SEBlock`, so that ``C < r`` still builds."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = hidden_width(channels, reduction)
        self.gates = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, hidden, bias=False), nn.ReLU(),
            nn.Linear(hidden, channels), nn.Sigmoid(), nn.Unflatten(1, (channels, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gates(x)


def block_contenders(channels: int, reduction: int = 16,
                     names: Sequence[str] | None = None) -> dict[str, nn.Module]:
    """senet_lib's SEBlock beside timm's SEModule, torchvision's SqueezeExcitation and the classic
    sequence, all with ``max(1, channels // reduction)`` hidden units; ``names`` picks a subset."""
    hidden = hidden_width(channels, reduction)
    mods: dict[str, nn.Module] = {"senet_lib": SEBlock(channels, reduction)}
    try:
        from timm.layers import SEModule

        mods["timm"] = SEModule(channels, rd_channels=hidden)
    except ImportError:  # timm is optional for the library
        pass
    from torchvision.ops import SqueezeExcitation

    mods["torchvision"] = SqueezeExcitation(channels, hidden)
    mods["classic"] = ClassicSE(channels, reduction)
    if names is not None:
        unknown = set(names) - set(mods)
        if unknown:
            raise ValueError(f"names: unknown contenders {sorted(unknown)}; have {sorted(mods)}")
        mods = {k: mods[k] for k in names}
    return mods


def _reset_compiled() -> None:
    """Forget compiled graphs, so that each shape is compiled for itself (static shapes)."""
    torch._dynamo.reset()


def warm_up_compiler(device: str | torch.device = "cpu") -> float:
    """Compile and run a throwaway block (forward and backward), then forget it; its seconds.

    The first ``torch.compile`` of a process pays the compiler's start-up: importing it, starting
    its worker processes, checking the C++ toolchain. Timed in a fixed order, the first contender
    would carry that cost alone (it made ``SEBlock`` look 15 times slower to compile than the
    others at the first shape). Call this before timing compiles.
    """
    t0 = time.perf_counter()
    m = torch.compile(ClassicSE(8, 4).to(device), dynamic=False)
    m(torch.randn(2, 8, 3, 3, device=device, requires_grad=True)).sum().backward()
    _reset_compiled()
    return time.perf_counter() - t0


def _rotated(names: Sequence[str], k: int) -> list[str]:
    """``names`` starting at its ``k``-th entry (modulo its length), e.g. ``b, c, a`` for ``k = 1``."""
    k %= len(names)
    return [*names[k:], *names[:k]]


def compile_seconds(
    shapes: Sequence[tuple[int, int]] = STAGE_SHAPES,
    batch: int = 8,
    backward: bool = True,
    repeats: int | None = None,
    names: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
) -> dict:
    """Seconds ``torch.compile`` takes for each contender's first call, at each shape, comparably.

    A throwaway compile pays the compiler's start-up first (:func:`warm_up_compiler`). Then, at
    each ``(channels, size)``, ``repeats`` rounds (default: one per contender) each compile every
    contender once, in an order rotated by one from round to round (and from shape to shape), so
    that each contender is compiled first, second, ... equally often; before every compile the
    compiler forgets its graphs (``torch._dynamo.reset()``). Kernels it generated stay in its
    on-disk cache, for every contender alike: on a machine that ran this before, the seconds are
    those of tracing and lowering a graph whose kernels are cached. The first call is forward
    and, with ``backward``, backward on an ``(N, C, H, W)`` input (``N = batch``).

    Returns ``{"warm_up_s", "repeats", "backward", "rows"}``; each row has ``shape``,
    ``compile_s`` (median over the rounds, per contender), ``runs_s`` (every round's seconds)
    and ``orders`` (each round's order).
    """
    contenders = list(block_contenders(16, names=names))
    repeats = len(contenders) if repeats is None else repeats
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    warm = warm_up_compiler(device)
    rows = []
    for i, (channels, size) in enumerate(shapes):
        torch.manual_seed(0)
        x = torch.randn(batch, channels, size, size, device=device)
        grad = torch.randn_like(x)
        mods = {k: m.to(device) for k, m in block_contenders(channels, names=names).items()}
        runs: dict[str, list[float]] = {k: [] for k in mods}
        orders = []
        for r in range(repeats):
            order = _rotated(contenders, i + r)
            orders.append(order)
            for k in order:
                _reset_compiled()
                compiled = torch.compile(mods[k], dynamic=False)
                xi = x.detach().requires_grad_(backward)

                def first(compiled: Callable[..., torch.Tensor] = compiled, xi: torch.Tensor = xi, grad: torch.Tensor = grad) -> None:
                    out = compiled(xi)
                    if backward:
                        out.backward(grad)
                runs[k].append(first_call_seconds(first))
        _reset_compiled()
        rows.append({"shape": [batch, channels, size, size],
                     "compile_s": {k: statistics.median(v) for k, v in runs.items()},
                     "runs_s": runs, "orders": orders})
    return {"warm_up_s": warm, "repeats": repeats, "backward": backward, "rows": rows}


def bench_block(
    shapes: Sequence[tuple[int, int]] = STAGE_SHAPES,
    batch: int = 8,
    rounds: int = 15,
    backward: bool = True,
    channels_last: bool = False,
    compiled: bool = False,
    names: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """Time every contender at every ``(channels, size)`` on ``device``; one dict per shape.

    Each dict has ``shape`` ``[N, C, H, W]``, ``median_ms`` and ``iqr_ms`` per contender,
    ``ratios``: for each other contender, the median over rounds of senet_lib's time over its
    time in the same round, and ``ratio_ci95``: that ratio's 95 % interval ``[low, high]``
    (:func:`~senet_lib.bench.timing.paired_ratio`; both empty when senet_lib did not run), the
    ``bytes`` and ``flops`` of the traffic model (:mod:`senet_lib.cost`), and, when ``compiled``,
    ``compile_s`` (the first call of each contender, after :func:`warm_up_compiler`, in an order
    rotated by one from shape to shape, recorded as ``compile_order``).
    """
    rows: list[dict] = []
    sync = device_sync(device)
    for channels, size in shapes:
        torch.manual_seed(0)
        x = torch.randn(batch, channels, size, size, device=device)
        if channels_last:
            x = x.to(memory_format=torch.channels_last)
        grad = torch.randn_like(x)
        # the modules, or what torch.compile makes of them: called on a tensor, they give a tensor
        mods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
            k: m.to(device) for k, m in block_contenders(channels, names=names).items()}
        if compiled:
            if not rows:              # the compiler's start-up, paid before any contender's first call
                warm_up_compiler(device)
            _reset_compiled()
            mods = {k: torch.compile(m, dynamic=False) for k, m in mods.items()}

        def step(m: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor = x,
                 grad: torch.Tensor = grad) -> Callable[[], object]:
            if backward:
                def run() -> None:
                    xi = x.detach().requires_grad_()
                    m(xi).backward(grad)
            else:
                def run() -> None:
                    with torch.no_grad():
                        m(x)
            return run

        fns = {k: step(m) for k, m in mods.items()}
        # the first calls compile; their order rotates from shape to shape (see compile_seconds)
        order = _rotated(list(fns), len(rows))
        compile_s = {k: first_call_seconds(fns[k]) for k in order} if compiled else None
        times = interleaved(fns, rounds, sync=sync, shuffle=0)
        med, iqr = summarize(times)
        paired = ({k: paired_ratio(times["senet_lib"], t) for k, t in times.items() if k != "senet_lib"}
                  if "senet_lib" in times else {})
        row = {
            "shape": [batch, channels, size, size],
            "median_ms": med,
            "iqr_ms": iqr,
            "ratios": {k: p["median"] for k, p in paired.items()},
            "ratio_ci95": {k: [p["low"], p["high"]] for k, p in paired.items()},
            "bytes": se_block_bytes(channels, size, size, batch=batch),
            "flops": se_block_flops(channels, size, size, batch=batch),
        }
        if compile_s is not None:
            row["compile_s"] = {k: compile_s[k] for k in fns}
            row["compile_order"] = order
        rows.append(row)
        if compiled:
            _reset_compiled()
    return rows


def _piece_costs(batch: int, channels: int, size: int, hidden: int, width: int) -> dict[str, OpCost]:
    """FLOPs and bytes of each piece (traffic model), at one stage shape."""
    b = se_block_bytes(channels, size, size, batch=batch, hidden=hidden)
    f = se_block_flops(channels, size, size, batch=batch, hidden=hidden)
    return {
        "pool": OpCost(f["pool"], b["pool"]),
        "fc": OpCost(f["excite"], b["excite"]),
        "scale": OpCost(f["scale"], b["scale"]),
        "add": residual_add_cost(batch, channels, size),
        "addcmul": residual_add_cost(batch, channels, size, gated=True),
        "conv1x1": conv_cost(batch, width, channels, size, 1),
        "conv3x3": conv_cost(batch, width, width, size, 3),
    }


def bench_pieces(
    shapes: Sequence[tuple[int, int]] = STAGE_SHAPES,
    batch: int = 8,
    rounds: int = 15,
    reduction: int = 16,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """Forward-only, eager, fp32 timings of the SE block's pieces and of what surrounds it.

    At each ``(channels, size)`` (``N = batch``): ``pool`` ``x.mean((2, 3))``; ``fc`` the two
    small matrix products with ReLU and sigmoid; ``scale`` ``x * s[:, :, None, None]``; ``add``
    the plain residual addition; ``addcmul`` the fused one (``identity + x * s``); ``conv1x1``
    and ``conv3x3`` the bottleneck's expanding 1x1 and its 3x3 convolution (width ``C / 4``).
    Each row has ``median_ms``, ``iqr_ms``, and ``flops``, ``bytes``, ``intensity`` (FLOPs per
    byte), ``gflops`` and ``gbps`` (what the median time implies) per piece.
    """
    rows = []
    sync = device_sync(device)
    for channels, size in shapes:
        torch.manual_seed(0)
        hidden = hidden_width(channels, reduction)
        width = max(1, channels // 4)  # the bottleneck's inner width

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, device=device)

        x = randn(batch, channels, size, size)
        identity = torch.randn_like(x)
        inner = randn(batch, width, size, size)
        z = x.mean(dim=(2, 3))
        s = torch.rand(batch, channels, device=device)
        w1, w2, b2 = randn(hidden, channels), randn(channels, hidden), randn(channels)
        k1 = randn(channels, width, 1, 1)
        k3 = randn(width, width, 3, 3)
        # each lambda binds this shape's tensors as defaults (interleaved runs them in this iteration);
        # mypy cannot infer a lambda with parameters as Callable[[], object], hence the ...
        fns: dict[str, Callable[..., object]] = {
            "pool": lambda x=x: x.mean(dim=(2, 3)),
            "fc": lambda z=z, w1=w1, w2=w2, b2=b2: torch.sigmoid(F.linear(torch.relu(F.linear(z, w1)), w2, b2)),
            "scale": lambda x=x, s=s: x * s[:, :, None, None],
            "add": lambda identity=identity, x=x: identity + x,
            "addcmul": lambda identity=identity, x=x, s=s: torch.addcmul(identity, x, s[:, :, None, None]),
            "conv1x1": lambda inner=inner, k1=k1: F.conv2d(inner, k1),
            "conv3x3": lambda inner=inner, k3=k3: F.conv2d(inner, k3, padding=1),
        }
        with torch.no_grad():
            med, iqr = summarize(interleaved(fns, rounds, sync=sync, shuffle=0))
        costs = _piece_costs(batch, channels, size, hidden, width)
        rows.append({
            "shape": [batch, channels, size, size],
            "median_ms": med,
            "iqr_ms": iqr,
            "flops": {k: c.flops for k, c in costs.items()},
            "bytes": {k: c.bytes for k, c in costs.items()},
            "intensity": {k: c.intensity for k, c in costs.items()},
            "gflops": {k: costs[k].flops / (med[k] * 1e-3) / 1e9 for k in fns},
            "gbps": {k: costs[k].bytes / (med[k] * 1e-3) / 1e9 for k in fns},
        })
    return rows


def probe_ceilings(copy_mb: int = 64, matmul_n: int = 1024, rounds: int = 7,
                   device: str | torch.device = "cpu") -> dict[str, float]:
    """The roofline's two ceilings, measured: streaming bandwidth and matrix-product speed.

    Bandwidth: ``dst.copy_(src)`` of ``copy_mb`` MB (read once, write once). Compute: an fp32
    ``matmul_n``-square matrix product (``2 n^3`` FLOPs). Medians of ``rounds`` runs.
    """
    n_el = copy_mb * 2**20 // 4
    src, dst = torch.randn(n_el, device=device), torch.empty(n_el, device=device)
    a, b = (torch.randn(matmul_n, matmul_n, device=device) for _ in range(2))
    med, _ = summarize(interleaved({"copy": lambda: dst.copy_(src), "matmul": lambda: a @ b}, rounds,
                                   sync=device_sync(device)))
    return {
        "bandwidth_GBps": 2 * 4 * n_el / (med["copy"] * 1e-3) / 1e9,
        "matmul_GFLOPs": 2 * matmul_n**3 / (med["matmul"] * 1e-3) / 1e9,
        "copy_MB": copy_mb,
        "matmul_n": matmul_n,
    }
