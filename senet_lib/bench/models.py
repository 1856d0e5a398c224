"""Whole networks side by side: ResNet-50 against the library's SE-ResNet-50, with timm's
resnet50 / seresnet50 pair measured in the same interleaved rounds.

All models are randomly initialised (timing does not depend on the weights), in ``eval()`` mode,
fp32, run under ``torch.inference_mode()``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torchvision
from torch import nn

from ..block import SEBlock
from ..networks import se_resnet50
from .timing import check_rounds, device_sync, first_call_seconds, interleaved, paired_ratio, summarize

__all__ = ["MODEL_NAMES", "PAIRS", "model_contenders", "bench_models", "gate_times_in_network"]

#: Every contender :func:`model_contenders` knows.
MODEL_NAMES = ("resnet50", "se_resnet50", "timm_resnet50", "timm_seresnet50")
#: The overhead ratios reported: name -> (SE model, its plain twin).
PAIRS = {
    "senet_lib": ("se_resnet50", "resnet50"),
    "timm": ("timm_seresnet50", "timm_resnet50"),
}


def model_contenders(names: Sequence[str] = MODEL_NAMES) -> dict[str, nn.Module]:
    """The named models, randomly initialised (seed 0), in eval mode without gradients.

    timm's models are skipped if timm is not installed.
    """
    unknown = set(names) - set(MODEL_NAMES)
    if unknown:
        raise ValueError(f"names: unknown models {sorted(unknown)}; choose from {MODEL_NAMES}")
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {}
    for name in names:
        if name == "resnet50":
            models[name] = torchvision.models.resnet50(weights=None)
        elif name == "se_resnet50":
            models[name] = se_resnet50()
        else:
            try:
                import timm
            except ImportError:
                continue
            models[name] = timm.create_model(name.removeprefix("timm_"), pretrained=False)
    for m in models.values():
        m.eval().requires_grad_(False)
    return models


def bench_models(
    batch: int = 1,
    size: int = 224,
    rounds: int = 15,
    names: Sequence[str] = MODEL_NAMES,
    compiled: bool = False,
    channels_last: bool = False,
    warmup: int = 2,
    device: str | torch.device = "cpu",
) -> dict:
    """Time the models on ``(batch, 3, size, size)`` inputs on ``device``, interleaved; one dict.

    Each round runs the models in a new random order (seeded). Returns ``batch``, ``size``,
    ``compiled``, ``memory_format``, ``median_ms`` and ``iqr_ms`` per model, ``images_per_s``
    (``batch / median``), ``ratios``: for each pair of :data:`PAIRS` that ran, the median over
    rounds of SE model / plain twin timed in the same round, ``ratio_ci95``: its 95 % interval
    ``[low, high]`` (see :func:`~senet_lib.bench.timing.paired_ratio`), ``ratio_of_medians``,
    ``times_ms``: every model's time in every round (the i-th entries come from the same round),
    and ``compile_s`` per model when ``compiled``.
    """
    models = {k: m.to(device) for k, m in model_contenders(names).items()}
    torch.manual_seed(1)
    x = torch.randn(batch, 3, size, size, device=device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=fmt)
    if channels_last:
        models = {k: m.to(memory_format=torch.channels_last) for k, m in models.items()}
    result: dict = {"batch": batch, "size": size, "compiled": compiled, "rounds": rounds,
                    "device": str(torch.device(device)),
                    "memory_format": "channels_last" if channels_last else "contiguous"}
    calls: dict[str, Callable[[torch.Tensor], object]] = dict(models)  # or what torch.compile makes of them
    if compiled:
        torch._dynamo.reset()
        calls = {k: torch.compile(m, dynamic=False) for k, m in models.items()}

    def step(m: Callable[[torch.Tensor], object]) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode():
                m(x)
        return run

    fns = {k: step(m) for k, m in calls.items()}
    if compiled:
        result["compile_s"] = {k: first_call_seconds(fn) for k, fn in fns.items()}
    times = interleaved(fns, rounds, warmup=warmup, sync=device_sync(device), shuffle=0)
    med, iqr = summarize(times)
    result["median_ms"] = med
    result["iqr_ms"] = iqr
    result["images_per_s"] = {k: batch / (v * 1e-3) for k, v in med.items()}
    pairs = {pair: (se, plain) for pair, (se, plain) in PAIRS.items() if se in med and plain in med}
    paired = {pair: paired_ratio(times[se], times[plain]) for pair, (se, plain) in pairs.items()}
    result["ratios"] = {pair: p["median"] for pair, p in paired.items()}
    result["ratio_ci95"] = {pair: [p["low"], p["high"]] for pair, p in paired.items()}
    result["ratio_of_medians"] = {pair: med[se] / med[plain] for pair, (se, plain) in pairs.items()}
    if {"senet_lib", "timm"} <= set(pairs):
        # the library's overhead over timm's, round by round: (our SE / our plain) / (timm's / timm's)
        ours = [a / b for a, b in zip(times["se_resnet50"], times["resnet50"], strict=True)]
        theirs = [a / b for a, b in zip(times["timm_seresnet50"], times["timm_resnet50"], strict=True)]
        p = paired_ratio(ours, theirs)
        result["senet_lib_vs_timm"] = {"median": p["median"], "ci95": [p["low"], p["high"]]}
    result["times_ms"] = {k: [t * 1e3 for t in ts] for k, ts in times.items()}  # round by round
    if compiled:
        torch._dynamo.reset()
    return result


def gate_times_in_network(model: nn.Module, x: torch.Tensor, rounds: int = 10,
                          warmup: int = 2) -> dict:
    """How long each SE block's excitation takes inside the network, and right after, again.

    For every :class:`~senet_lib.SEBlock` of ``model``, each call of its excitation
    (``se.excite``: the descriptor through the two FC layers to the gates) is timed where the
    network makes it, after the convolutions have filled the caches with their own data
    ("in_place"), then made once more at once on the same input, with the block's weights and
    code still cached ("again"). The network's output is unchanged (the first result is the one
    used). CPU only: the clock is read around each call.

    Returns ``blocks``: one dict per block (``name``, ``channels``, ``size``, ``in_place_us``,
    ``again_us``, medians over ``rounds`` forward passes), and the totals ``in_place_ms``,
    ``again_ms`` over the blocks, per forward pass.
    """
    check_rounds(rounds, warmup)
    if torch.device(x.device).type != "cpu":
        raise ValueError(f"x must be on the CPU (the clock is read around each call), got {x.device}")
    ses = [(name, m) for name, m in model.named_modules() if isinstance(m, SEBlock)]
    if not ses:
        raise ValueError("model has no SEBlock: nothing to time")
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in ses}

    def timed(name: str, se: SEBlock):
        original = se.excite

        def excite(z: torch.Tensor) -> torch.Tensor:
            t0 = time.perf_counter()
            out = original(z)
            t1 = time.perf_counter()
            original(z)
            seen[name].append((t1 - t0, time.perf_counter() - t1))
            return out
        return excite

    def shape(name: str):
        def hook(mod, args):
            shapes[name] = tuple(args[0].shape[1:])
        return hook

    shapes: dict[str, tuple] = {}
    handles = [se.register_forward_pre_hook(shape(name)) for name, se in ses]
    for name, se in ses:
        # an instance attribute shadows the method (deleted again below)
        se.excite = timed(name, se)  # type: ignore[method-assign]  # on purpose, to time each call
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for times in seen.values():
                times.clear()
            for _ in range(rounds):
                model(x)
    finally:
        for _, se in ses:
            del se.excite
        for h in handles:
            h.remove()
    blocks = []
    for name, _ in ses:
        if not seen[name]:
            continue  # not on the path of this forward pass
        c, h, w = shapes[name]
        blocks.append({"name": name, "channels": c, "size": [h, w],
                       "in_place_us": statistics.median(t[0] for t in seen[name]) * 1e6,
                       "again_us": statistics.median(t[1] for t in seen[name]) * 1e6})
    if not blocks:
        raise ValueError("model never called its SE blocks' excitation in a forward pass")
    return {"rounds": rounds, "blocks": blocks,
            "in_place_ms": sum(b["in_place_us"] for b in blocks) / 1e3,
            "again_ms": sum(b["again_us"] for b in blocks) / 1e3}
