"""Side-by-side timing of SE blocks and SE networks, and a memory-traffic model of what SE costs.

Run it as a command (it measures; tests never assert a speed)::

    python -m senet_lib.bench full --out senet_lib/results/bench_cpu.json   # everything, < 10 min on 2 cores
    python -m senet_lib.bench block [--quick] [--forward-only] [--channels-last] [--compile]
    python -m senet_lib.bench pieces | models [--batch 32] [--compile] | traffic
    ... --device cuda    # on a GPU, when there is one (timed with torch.cuda.synchronize)
    ... --threads 1      # fewer OpenMP threads: steadier on a shared machine

Modules, one concern each:

* :mod:`~senet_lib.bench.timing`: interleaved rounds, medians, paired ratios, the machine;
* :mod:`~senet_lib.bench.traffic`: bytes and FLOPs of SE blocks (no timing at all);
* :mod:`~senet_lib.bench.blocks`: the SE block against timm, torchvision and the classic
  sequence; its pieces alone; the machine's bandwidth and matmul ceilings;
* :mod:`~senet_lib.bench.models`: ResNet-50 against SE-ResNet-50, fused and unfused, and timm's pair;
* :mod:`~senet_lib.bench.cli`: the commands, the ``full`` run, the targets, the JSON file.
"""

from .blocks import (QUICK_SHAPES, STAGE_SHAPES, ClassicSE, bench_block, bench_pieces,  # noqa: F401
                     block_contenders, probe_ceilings)
from .cli import PAPER, format_results, main, run_full, targets  # noqa: F401
from .models import (MODEL_NAMES, PAIRS, bench_models, check_fused,  # noqa: F401
                     gate_times_in_network, model_contenders)
from .timing import (device_sync, first_call_seconds, interleaved, machine,  # noqa: F401
                     paired_ratio, summarize)
from .traffic import (SE_RESNET50_STAGES, OpCost, conv_cost, implied_bandwidth,  # noqa: F401
                      se_block_bytes, se_block_flops, se_network_bytes)
from . import traffic  # noqa: F401


def load_results(name: str = "bench_cpu.json") -> dict:
    """The committed results of ``python -m senet_lib.bench full`` (package data), as a dict."""
    import json
    from importlib import resources

    return json.loads(resources.files("senet_lib").joinpath("results", name).read_text())
