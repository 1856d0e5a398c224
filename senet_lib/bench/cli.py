"""The command line: ``python -m senet_lib.bench {block,pieces,models,traffic,full}``.

``full`` runs everything the book's chapter 9 shows and writes one JSON file with the machine,
the torch version and the command itself; the committed results file is its output::

    python -m senet_lib.bench full --out senet_lib/results/bench_cpu.json

The JSON file holds ``command``, ``date``, ``machine`` and ``settings``, then one entry per part:

* ``block``: a list of configurations (forward or forward+backward, eager or compiled,
  contiguous or channels_last), each with one row per stage shape: ``median_ms`` and ``iqr_ms``
  per implementation, ``ratio_vs_best_of_timm_torchvision``, the traffic model's ``bytes``;
* ``pieces`` and ``ceilings``: the block's pieces alone and the roofline's two ceilings;
* ``models``: ResNet-50 against SE-ResNet-50 per (batch, eager / compiled, memory format),
  with ``ratios`` (median over rounds of the per-round ratio), their ``ratio_ci95`` and
  ``fused_max_abs_diff`` (the fused path checked against the unfused one);
* ``gates_in_network``: each SE block's excitation timed where SE-ResNet-50 computes it, and
  again right after (see :func:`~senet_lib.bench.models.gate_times_in_network`);
* ``traffic``: bytes per image of SE-ResNet-50's SE blocks, and the bandwidth the measured extra
  time implies; ``paper``: the paper's figures; ``targets``: the library's targets, met or not.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import torch

from .blocks import QUICK_SHAPES, STAGE_SHAPES, bench_block, bench_pieces, probe_ceilings
from .models import MODEL_NAMES, bench_models, gate_times_in_network
from .timing import keep_freed_memory, machine
from .traffic import SE_RESNET50_STAGES, implied_bandwidth, se_network_bytes
from ..networks import se_resnet50

__all__ = ["main", "run_full", "targets", "PAPER"]

#: The paper's cost figures (Hu et al., TPAMI 2020), for comparison beside ours.
PAPER = {
    "gflops": {"resnet50": 3.86, "se_resnet50": 3.87},
    "cpu_inference_ms_batch1": {"resnet50": 164, "se_resnet50": 167},
    "gpu_training_ms_batch256_8gpus": {"resnet50": 190, "se_resnet50": 209},
    "ratios": {"cpu_inference": 167 / 164, "gpu_training": 209 / 190, "gflops": 3.87 / 3.86},
}

BLOCK_TARGET = 1.0
MODEL_TARGET = 1.03


def _block_label(cfg: dict) -> str:
    return (f"{cfg['mode']}, {'compiled' if cfg['compiled'] else 'eager'}, {cfg['memory_format']}")


def _run_block(shapes, batch, rounds, backward, channels_last, compiled, names=None,
               device="cpu") -> dict:
    rows = bench_block(shapes, batch=batch, rounds=rounds, backward=backward,
                       channels_last=channels_last, compiled=compiled, names=names, device=device)
    return {"mode": "forward+backward" if backward else "forward", "compiled": compiled,
            "memory_format": "channels_last" if channels_last else "contiguous",
            "rounds": rounds, "rows": rows}


def targets(results: dict) -> list[dict]:
    """The library's speed targets, read off one run's results (a report: no test asserts them)."""
    out = []
    for cfg in results.get("block", []):
        if cfg["mode"] == "forward+backward" and not cfg["compiled"]:
            ratios = [r["ratio_vs_best_of_timm_torchvision"] for r in cfg["rows"]]
            if any(r is None for r in ratios):
                continue
            worst = max(ratios)
            out.append({"name": f"SEBlock / faster of timm, torchvision ({_block_label(cfg)}), worst stage",
                        "value": worst, "per_shape": ratios, "target": BLOCK_TARGET,
                        "met": worst <= BLOCK_TARGET})
    for res in results.get("models", []):
        if (res["batch"] == 1 and not res["compiled"] and res["memory_format"] == "contiguous"
                and res.get("device", "cpu") == "cpu"):
            r = res["ratios"]
            if "senet_lib_fused" in r:
                entry = {"name": "SE-ResNet-50 (fused) / ResNet-50, batch-1 latency, eager",
                         "value": r["senet_lib_fused"], "target": MODEL_TARGET,
                         "met": r["senet_lib_fused"] <= MODEL_TARGET,
                         "beside": {k: v for k, v in r.items() if k != "senet_lib_fused"}}
                ci = res.get("ratio_ci95", {}).get("senet_lib_fused")
                if ci is not None:
                    # whether the run can tell: the whole 95 % interval on one side of the target
                    entry["ci95"] = ci
                    entry["decided"] = ci[1] <= MODEL_TARGET or ci[0] > MODEL_TARGET
                out.append(entry)
    return out


def _traffic(models: list[dict]) -> dict:
    """Bytes per image of SE-ResNet-50's SE blocks, and the bandwidth the measured extra time implies."""
    out = {"stages": [list(s) for s in SE_RESNET50_STAGES], "dtype_bytes": 4}
    for fused in (False, True):
        key = "fused" if fused else "unfused"
        out[key] = se_network_bytes(SE_RESNET50_STAGES, fused=fused)
    implied = []
    for res in models:
        if res["size"] != 224:
            continue
        med = res["median_ms"]
        for key, name in (("fused", "se_resnet50_fused"), ("unfused", "se_resnet50_unfused")):
            if name in med and "resnet50" in med:
                extra_s = (med[name] - med["resnet50"]) * 1e-3 / res["batch"]
                entry = {"batch": res["batch"], "compiled": res["compiled"],
                         "memory_format": res["memory_format"], "path": key,
                         "extra_ms_per_image": extra_s * 1e3,
                         "bytes_per_image": out[key]["per_image"]}
                entry["implied_GBps"] = (implied_bandwidth(out[key]["per_image"], extra_s)
                                         if extra_s > 0 else None)
                implied.append(entry)
    out["implied"] = implied
    return out


def run_full(quick: bool = False, compile: bool = True, progress=None, device: str = "cpu") -> dict:
    """Everything chapter 9 shows, in one run, on ``device``; returns the results dict.

    ``quick``: tiny shapes and inputs, few rounds (a smoke run). ``compile``: include the
    ``torch.compile`` runs. ``progress``: called with a short message before each part.
    """
    say = progress or (lambda msg: None)
    shapes = QUICK_SHAPES if quick else STAGE_SHAPES
    batch, rounds = (2, 3) if quick else (8, 21)
    size = 32 if quick else 224
    big = 2 if quick else 32
    t0 = time.perf_counter()
    results: dict = {"settings": {"quick": quick, "compile": compile, "block_batch": batch,
                                  "block_shapes": [list(s) for s in shapes], "rounds": rounds,
                                  "model_input": [3, size, size], "model_batches": [1, big],
                                  "dtype": "float32", "threads": torch.get_num_threads(),
                                  "load_average_at_start": machine()["load_average_1_5_15_min"],
                                  "device": device}}
    blocks = []
    for compiled in ((False, True) if compile else (False,)):
        for channels_last in ((False, True) if not compiled else (False,)):
            for backward in ((True, False) if not compiled else (True,)):
                cfg = dict(compiled=compiled, channels_last=channels_last, backward=backward)
                say(f"SE block: {cfg}")
                blocks.append(_run_block(shapes, batch, rounds, backward, channels_last, compiled,
                                         device=device))
    results["block"] = blocks
    say("pieces")
    results["pieces"] = {"batch": batch, "rounds": rounds,
                         "rows": bench_pieces(shapes, batch, rounds, device=device)}
    say("ceilings")
    results["ceilings"] = probe_ceilings(copy_mb=8 if quick else 64, matmul_n=256 if quick else 1024,
                                         device=device)
    models = []
    say("models, batch 1, eager")
    # batch-1 ratios move by a few per cent from round to round on a shared machine: enough
    # rounds that the 95 % interval of the paired ratio is a few per cent wide, not ten
    models.append(bench_models(1, size, rounds=2 if quick else 80, warmup=1 if quick else 3,
                               device=device))
    if torch.device(device).type == "cpu":
        say("SE gates inside the network, batch 1")
        torch.manual_seed(0)
        results["gates_in_network"] = gate_times_in_network(
            se_resnet50().eval(), torch.randn(1, 3, size, size), rounds=2 if quick else 20,
            warmup=1 if quick else 3)
    say("models, batch 1, eager, channels_last")
    models.append(bench_models(1, size, rounds=2 if quick else 30, channels_last=True, warmup=1,
                               names=("resnet50", "se_resnet50_fused"), device=device))
    say(f"models, batch {big}, eager")
    # throughput: the library's pair only (timm's pair is timed at batch 1), to stay within budget
    models.append(bench_models(big, size, rounds=2 if quick else 9, warmup=1,
                               names=("resnet50", "se_resnet50_fused", "se_resnet50_unfused"),
                               device=device))
    if compile:
        for b, r in ((1, 3 if quick else 30), (big, 3 if quick else 7)):
            say(f"models, batch {b}, compiled")
            # the first (compiling) call is the warm-up for the graph; one more warms the caches
            models.append(bench_models(b, size, rounds=r, compiled=True, warmup=1,
                                       names=("resnet50", "se_resnet50_fused"), device=device))
    results["models"] = models
    results["traffic"] = _traffic(models)
    results["paper"] = PAPER
    results["targets"] = targets(results)
    results["elapsed_s"] = time.perf_counter() - t0
    return results


# ------------------------------------------------------------------------------------ printing


def _table(rows: list[dict], key: str = "median_ms", ratio: str | None = None) -> str:
    names = list(rows[0][key])
    lines = [f"{'shape (N, C, H, W)':>20} " + " ".join(f"{n:>12}" for n in names)
             + (f"  {'ratio':>6}" if ratio else "")]
    for r in rows:
        shape = "x".join(str(s) for s in r["shape"])
        cells = " ".join(f"{r[key][n]:>9.3f} ms" for n in names)
        tail = f"  {r[ratio]:>6.3f}" if ratio and r[ratio] is not None else ""
        lines.append(f"{shape:>20} {cells}{tail}")
    return "\n".join(lines)


def format_results(results: dict) -> str:
    """A readable report of :func:`run_full`'s results."""
    out = []
    for cfg in results.get("block", []):
        out.append(f"\nSE block, {_block_label(cfg)}; ratio = senet_lib / faster of timm and torchvision")
        out.append(_table(cfg["rows"], ratio="ratio_vs_best_of_timm_torchvision"))
    if "pieces" in results:
        out.append("\nPieces (forward, eager): median ms")
        out.append(_table(results["pieces"]["rows"]))
    if "ceilings" in results:
        c = results["ceilings"]
        out.append(f"\nCeilings: copy {c['bandwidth_GBps']:.1f} GB/s, matmul {c['matmul_GFLOPs']:.1f} GFLOP/s")
    for res in results.get("models", []):
        out.append(f"\nModels, batch {res['batch']}, {res['size']}x{res['size']}, "
                   f"{'compiled' if res['compiled'] else 'eager'}, {res['memory_format']}")
        for k, v in res["median_ms"].items():
            out.append(f"  {k:>22}: {v:9.1f} ms  ({res['images_per_s'][k]:7.1f} images/s)")
        for k, v in res["ratios"].items():
            ci = res.get("ratio_ci95", {}).get(k)
            band = f"  (95 % interval {ci[0]:.3f} to {ci[1]:.3f})" if ci else ""
            out.append(f"  ratio {k:>17}: {v:.3f}{band}")
        if "fused_max_abs_diff" in res:
            out.append(f"  fused vs unfused outputs: max |diff| = {res['fused_max_abs_diff']:.2e}")
    if "gates_in_network" in results:
        g = results["gates_in_network"]
        out.append(f"\nSE gates of SE-ResNet-50 (fused, batch 1), per forward pass: "
                   f"{g['in_place_ms']:.2f} ms where the network computes them, "
                   f"{g['again_ms']:.2f} ms computed again at once (warm caches)")
    if "traffic" in results:
        t = results["traffic"]
        out.append(f"\nSE blocks of SE-ResNet-50, bytes per image (fp32): unfused "
                   f"{t['unfused']['per_image'] / 1e6:.1f} MB, fused {t['fused']['per_image'] / 1e6:.1f} MB")
        for e in t["implied"]:
            bw = f"{e['implied_GBps']:.1f} GB/s" if e["implied_GBps"] else "n/a (no extra time)"
            out.append(f"  batch {e['batch']:>2} {'compiled' if e['compiled'] else 'eager':>8} "
                       f"{e['memory_format']:>13} {e['path']:>7}: +{e['extra_ms_per_image']:.2f} ms/image "
                       f"-> {bw}")
    if "paper" in results:
        p = results["paper"]["ratios"]
        out.append(f"\nPaper: CPU inference ratio {p['cpu_inference']:.3f}, GPU training ratio "
                   f"{p['gpu_training']:.3f}, GFLOPs ratio {p['gflops']:.4f}")
    if results.get("targets"):
        out.append("\nTargets")
        for t in results["targets"]:
            beside = "".join(f", {k} {v:.3f}" for k, v in t.get("beside", {}).items())
            band = (f", 95 % interval {t['ci95'][0]:.3f} to {t['ci95'][1]:.3f}"
                    f"{'' if t['decided'] else ': the run cannot tell'}" if "ci95" in t else "")
            out.append(f"  {t['name']}: {t['value']:.3f} (target <= {t['target']}: "
                       f"{'met' if t['met'] else 'NOT met'}{band}){beside}")
    if "elapsed_s" in results:
        out.append(f"\nelapsed: {results['elapsed_s']:.0f} s")
    return "\n".join(out)


def _write(path: str, results: dict, argv: list[str]) -> None:
    results = {"command": " ".join(["python -m senet_lib.bench"] + argv),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), **results}
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m senet_lib.bench",
                                description="Side-by-side timings of SE blocks and SE networks.")
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("block", help="SEBlock vs timm vs torchvision vs the classic sequence")
    b.add_argument("--rounds", type=int, default=15)
    b.add_argument("--forward-only", action="store_true")
    b.add_argument("--channels-last", action="store_true")
    b.add_argument("--compile", action="store_true", help="torch.compile every contender")
    pc = sub.add_parser("pieces", help="pooling, the FCs, the multiply, the merge, the convs alone")
    pc.add_argument("--rounds", type=int, default=15)
    m = sub.add_parser("models", help="ResNet-50 vs SE-ResNet-50 (fused, unfused) vs timm's pair")
    m.add_argument("--batch", type=int, default=1)
    m.add_argument("--rounds", type=int, default=40)
    m.add_argument("--compile", action="store_true")
    m.add_argument("--channels-last", action="store_true")
    sub.add_parser("traffic", help="the memory-traffic model of SE-ResNet-50's SE blocks (no timing)")
    f = sub.add_parser("full", help="everything, one JSON (the committed results file)")
    f.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs")
    for s in (b, pc, m, f):
        s.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                       help="where to run (default cpu; the committed file is CPU's)")
        s.add_argument("--threads", type=int, default=None,
                       help="torch.set_num_threads (default: torch's own choice, usually one per core)")
    for s in (b, pc, m, f):
        s.add_argument("--quick", action="store_true", help="tiny shapes and few rounds (smoke run)")
    for s in (b, pc, m, sub.choices["traffic"], f):
        s.add_argument("--out", help="write the results as JSON here")
        s.add_argument("--force", action="store_true", help="overwrite an existing --out file")
        s.add_argument("--os-allocator", action="store_true",
                       help="leave glibc's default of returning large freed blocks to the OS "
                            "(page faults on every large allocation; noisier)")
    args = p.parse_args(argv)
    if args.out and os.path.exists(args.out) and not args.force:
        p.error(f"--out {args.out} exists: refusing to overwrite it; choose another file or add --force")
    allocator = "system default (--os-allocator)" if args.os_allocator else (
        "freed memory kept in the process" if keep_freed_memory() else "system default")
    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            p.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = getattr(args, "device", "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available here")

    if args.what == "full":
        results = run_full(quick=args.quick, compile=not args.no_compile, device=device,
                           progress=lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True))
    elif args.what == "block":
        shapes = QUICK_SHAPES if args.quick else STAGE_SHAPES
        batch, rounds = (2, 3) if args.quick else (8, args.rounds)
        results = {"block": [_run_block(shapes, batch, rounds, not args.forward_only,
                                        args.channels_last, args.compile, device=device)]}
        results["targets"] = targets(results)
    elif args.what == "pieces":
        shapes = QUICK_SHAPES if args.quick else STAGE_SHAPES
        batch, rounds = (2, 3) if args.quick else (8, args.rounds)
        results = {"pieces": {"batch": batch, "rounds": rounds,
                              "rows": bench_pieces(shapes, batch, rounds, device=device)},
                   "ceilings": probe_ceilings(copy_mb=8 if args.quick else 64,
                                              matmul_n=256 if args.quick else 1024, device=device)}
    elif args.what == "models":
        size = 32 if args.quick else 224
        rounds = 3 if args.quick else args.rounds
        names = MODEL_NAMES if not args.compile else ("resnet50", "se_resnet50_fused")
        res = bench_models(args.batch, size, rounds, names=names, compiled=args.compile,
                           channels_last=args.channels_last, device=device)
        results = {"models": [res]}
        results["targets"] = targets(results)
    else:
        results = {"traffic": _traffic([])}
    results["allocator"] = allocator
    print(format_results(results))
    print(f"allocator: {allocator}")
    if args.out:
        _write(args.out, results, argv)
    return 0
