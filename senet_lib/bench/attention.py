"""Chapter 10's latency column: a network with each attention block against the same network
without one, timed in the same interleaved rounds.

Two networks: the CIFAR-style ResNet-14 that chapter 10 trains (32 x 32 inputs, batch 32),
and torchvision's ResNet-50 at 224 x 224, batch 1, with the blocks put in by
:func:`senet_lib.networks.add_attention`. Models are randomly initialised (timing does not
depend on the weights), fp32, ``eval()``, under ``torch.inference_mode()``. For each block the
result is the median over rounds of (network with block) / (plain network) timed in the same
round, with its 95 % interval (:func:`~senet_lib.bench.timing.paired_ratio`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..cost import count_flops, count_parameters
from .timing import check_rounds, interleaved, paired_ratio, summarize

__all__ = ["ATTENTION_KINDS", "NETWORKS", "attention_contenders", "bench_attention"]

#: The blocks timed (names of :data:`senet_lib.registry.ATTENTION`; chapter 10's arms).
ATTENTION_KINDS: tuple[str, ...] = ("se", "eca", "cbam", "ge", "ge_learned")
#: network name -> (input side, default batch)
NETWORKS: dict[str, tuple[int, int]] = {"resnet14_cifar": (32, 32), "resnet50": (224, 1)}


def attention_contenders(network: str, kinds: Sequence[str] = ATTENTION_KINDS) -> dict[str, nn.Module]:
    """``{"plain": network, kind: network with that block, ...}``, seed 0, eval, no gradients."""
    from ..cifar_resnet import cifar_resnet
    from ..networks import add_attention
    from ..registry import ATTENTION as BLOCKS

    if network not in NETWORKS:
        raise ValueError(f"network must be one of {tuple(NETWORKS)}, got {network!r}")
    unknown = [k for k in kinds if k not in BLOCKS]
    if unknown:
        raise ValueError(f"kinds: unknown blocks {unknown}; choose from {tuple(BLOCKS)}")
    models: dict[str, nn.Module] = {}
    for kind in ("plain", *kinds):
        torch.manual_seed(0)
        if network == "resnet14_cifar":
            models[kind] = cifar_resnet(14, attn="none" if kind == "plain" else kind)
        else:
            import torchvision

            m = torchvision.models.resnet50(weights=None)
            models[kind] = m if kind == "plain" else add_attention(m, kind)
    for m in models.values():
        m.eval().requires_grad_(False)
    return models


def bench_attention(network: str = "resnet14_cifar", batch: int | None = None, rounds: int = 30,
                    warmup: int = 3, kinds: Sequence[str] = ATTENTION_KINDS) -> dict:
    """Time the plain network and one copy per block in ``kinds``, interleaved, on the CPU.

    Returns ``network``, ``batch``, ``size``, ``rounds``; per contender ``median_ms``,
    ``iqr_ms``, ``params``, ``flops`` (counted, for one image); per block ``ratio``
    (median over rounds of block / plain) and ``ratio_ci95``; ``times_ms`` round by round.
    """
    check_rounds(rounds, warmup)
    models = attention_contenders(network, kinds)
    side, default_batch = NETWORKS[network]  # a known network: attention_contenders checked it
    batch = default_batch if batch is None else batch
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    torch.manual_seed(1)
    x = torch.randn(batch, 3, side, side)

    def step(m: nn.Module):
        def run() -> None:
            with torch.inference_mode():
                m(x)
        return run

    times = interleaved({k: step(m) for k, m in models.items()}, rounds, warmup=warmup, shuffle=0)
    med, iqr = summarize(times)
    paired = {k: paired_ratio(times[k], times["plain"]) for k in kinds}
    return {
        "network": network, "batch": batch, "size": side, "rounds": rounds,
        "median_ms": med, "iqr_ms": iqr,
        "params": {k: count_parameters(m) for k, m in models.items()},
        "flops": {k: count_flops(m, (1, 3, side, side)) for k, m in models.items()},
        "ratio": {k: p["median"] for k, p in paired.items()},
        "ratio_ci95": {k: [p["low"], p["high"]] for k, p in paired.items()},
        "times_ms": {k: [t * 1e3 for t in ts] for k, ts in times.items()},
    }
