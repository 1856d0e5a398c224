"""Side-by-side timing of SE blocks and SE networks.

Run it as a command (it measures; tests never assert a speed)::

    python -m senet_lib.bench full --out senet_lib/results/bench_cpu.json   # everything, < 10 min on 2 cores
    python -m senet_lib.bench block [--quick] [--forward-only] [--channels-last] [--compile]
    python -m senet_lib.bench pieces | models [--batch 32] [--compile] | traffic
    python -m senet_lib.bench compile --out senet_lib/results/bench_compile.json   # compile seconds
    ... --device cuda    # on a GPU, when there is one (timed with torch.cuda.synchronize)
    ... --threads 1      # fewer OpenMP threads: steadier on a shared machine

Modules, one concern each:

* :mod:`~senet_lib.bench.timing`: interleaved rounds, medians, paired ratios;
* :mod:`~senet_lib.bench.blocks`: ``senet_lib.SEBlock`` against timm's ``SEModule``,
  torchvision's ``SqueezeExcitation`` and the classic ``nn.Sequential`` write-up
  (:class:`~senet_lib.bench.blocks.ClassicSE`); the block's pieces alone; the machine's
  bandwidth and matmul ceilings;
* :mod:`~senet_lib.bench.models`: ResNet-50 against SE-ResNet-50, and timm's pair;
* :mod:`~senet_lib.bench.cli`: the commands, the ``full`` run, the targets, the JSON file.

The bytes and FLOPs beside the times come from :mod:`senet_lib.cost`; the machine and the
versions recorded with them from :func:`senet_lib.records.environment`; the committed results
are read with ``senet_lib.records.load_results("bench_cpu.json")``.

The library's speed targets
---------------------------

The benchmark checks two targets the library sets itself, and reports each as met or not, with
the 95 % interval of its paired ratio and whether the run can tell (the whole interval on one
side of the target). They are engineering goals of this library, not results of the paper:

* **SEBlock**: forward+backward, eager, contiguous, at every SE-ResNet-50 stage shape (batch 8),
  its time over the faster of timm's and torchvision's blocks is at most
  :data:`~senet_lib.bench.cli.BLOCK_TARGET` (1.0): plain tensor operations, no slower than the
  blocks people already use;
* **SE-ResNet-50**: batch-1 latency on CPU, eager, its time over torchvision's ResNet-50 is at
  most :data:`~senet_lib.bench.cli.MODEL_TARGET` (1.03). For scale: the paper reports 1.018 for
  CPU inference (164 ms and 167 ms) and 1.10 for GPU training (:data:`~senet_lib.bench.cli.PAPER`).
"""

from .blocks import (  # noqa: F401
                     QUICK_SHAPES,
                     STAGE_SHAPES,
                     ClassicSE,
                     bench_block,
                     bench_pieces,
                     block_contenders,
                     compile_seconds,
                     probe_ceilings,
                     warm_up_compiler,
)
from .cli import PAPER, format_results, main, run_full, targets  # noqa: F401
from .models import MODEL_NAMES, PAIRS, bench_models, gate_times_in_network, model_contenders  # noqa: F401
from .timing import device_sync, first_call_seconds, interleaved, keep_freed_memory, paired_ratio, summarize  # noqa: F401
