"""The command line: ``python -m senet_lib.bench {block,pieces,models,traffic,compile,full}``.

``full`` runs everything the book's chapter 9 shows and writes one JSON file with the machine,
the versions and the command itself; the committed results file is its output::

    python -m senet_lib.bench full --out senet_lib/results/bench_cpu.json

The JSON file holds ``command``, ``date``, ``environment`` (:func:`senet_lib.records.environment`)
and ``settings``, then one entry per part:

* ``block``: a list of configurations (forward or forward+backward, eager or compiled,
  contiguous or channels_last), each with one row per stage shape: ``median_ms`` and ``iqr_ms``
  per implementation, ``ratios`` (SEBlock's time over each other implementation's, median over
  rounds of the per-round ratio) and their ``ratio_ci95``, the traffic model's ``bytes``;
* ``pieces`` and ``ceilings``: the block's pieces alone and the roofline's two ceilings;
* ``models``: ResNet-50 against SE-ResNet-50 per (batch, eager / compiled, memory format),
  with ``ratios`` (median over rounds of the per-round ratio) and their ``ratio_ci95``;
* ``gates_in_network``: each SE block's excitation timed where SE-ResNet-50 computes it, and
  again right after (see :func:`~senet_lib.bench.models.gate_times_in_network`);
* ``traffic``: bytes per image of SE-ResNet-50's SE blocks, and the bandwidth the measured extra
  time implies; ``paper``: the paper's figures; ``targets``: the library's targets (listed in
  :mod:`senet_lib.bench`), met or not.

``compile`` writes chapter 9's compile seconds (:func:`~senet_lib.bench.blocks.compile_seconds`:
after a throwaway compile, each contender compiled once per round, in rotated orders)::

    python -m senet_lib.bench compile --out senet_lib/results/bench_compile.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import torch

from ..cost import RESNET50_STAGES, implied_bandwidth, se_network_bytes
from ..networks import se_resnet50
from ..records import environment
from .blocks import QUICK_SHAPES, STAGE_SHAPES, bench_block, bench_pieces, compile_seconds, probe_ceilings
from .imports import bench_imports
from .models import MODEL_NAMES, bench_models, gate_times_in_network
from .timing import keep_freed_memory

__all__ = ["main", "run_full", "targets", "PAPER"]

#: The paper's cost figures (Hu et al., TPAMI 2020), for comparison beside ours.
PAPER = {
    "gflops": {"resnet50": 3.86, "se_resnet50": 3.87},
    "cpu_inference_ms_batch1": {"resnet50": 164, "se_resnet50": 167},
    "gpu_training_ms_batch256_8gpus": {"resnet50": 190, "se_resnet50": 209},
    "ratios": {"cpu_inference": 167 / 164, "gpu_training": 209 / 190, "gflops": 3.87 / 3.86},
}

#: SEBlock's time over the faster of timm's and torchvision's blocks, forward+backward, eager,
#: at every stage shape: at most this (see :mod:`senet_lib.bench`).
BLOCK_TARGET = 1.0
#: SE-ResNet-50's batch-1 latency over ResNet-50's, eager, CPU: at most this.
MODEL_TARGET = 1.03
#: ``import senet_lib`` over ``import torch``, each in a fresh interpreter: at most this.
IMPORT_TARGET = 1.2
#: The block contenders the block target compares with.
RIVALS = ("timm", "torchvision")


def _block_label(cfg: dict) -> str:
    return (f"{cfg['mode']}, {'compiled' if cfg['compiled'] else 'eager'}, {cfg['memory_format']}")


def _run_block(shapes, batch, rounds, backward, channels_last, compiled, names=None,
               device="cpu") -> dict:
    rows = bench_block(shapes, batch=batch, rounds=rounds, backward=backward,
                       channels_last=channels_last, compiled=compiled, names=names, device=device)
    return {"mode": "forward+backward" if backward else "forward", "compiled": compiled,
            "memory_format": "channels_last" if channels_last else "contiguous",
            "rounds": rounds, "rows": rows}


def _parity(name: str, value: float, ci: list[float], **extra) -> dict:
    """A "no slower than" target between contenders doing the same work: met unless the whole 95 %
    interval of the paired ratio lies above 1 (the run shows ours slower)."""
    return {"name": name, "value": value, "target": 1.0, "ci95": ci, "met": ci[0] <= 1.0,
            "decided": True, "rule": "no slower: met unless the 95 % interval lies above 1", **extra}


def _target(name: str, value: float, ci: list[float] | None, target: float, **extra) -> dict:
    """One target, met or not; with an interval, whether the run can tell (the whole 95 %
    interval on one side of the target)."""
    entry = {"name": name, "value": value, "target": target, "met": value <= target, **extra}
    if ci is not None:
        entry["ci95"] = ci
        entry["decided"] = ci[1] <= target or ci[0] > target
    return entry


def targets(results: dict) -> list[dict]:
    """The library's speed targets, read off one run's results (a report: no test asserts them)."""
    out = []
    for cfg in results.get("block", []):
        if cfg["mode"] == "forward+backward" and not cfg["compiled"]:
            per_shape = []  # (ratio, interval) against the faster rival, at each shape
            for row in cfg["rows"]:
                rivals = [k for k in RIVALS if k in row.get("ratios", {})]
                if not rivals:
                    break
                faster = min(rivals, key=lambda k: row["median_ms"][k])
                per_shape.append((row["ratios"][faster], row["ratio_ci95"][faster]))
            else:
                if per_shape:
                    worst, ci = max(per_shape)
                    out.append(_target(
                        f"SEBlock / faster of timm, torchvision ({_block_label(cfg)}), worst stage",
                        worst, ci, BLOCK_TARGET, per_shape=[r for r, _ in per_shape]))
        if not cfg["compiled"] and cfg["rows"] and all("classic" in r.get("ratios", {}) for r in cfg["rows"]):
            worst = max(cfg["rows"], key=lambda r: r["ratio_ci95"]["classic"][0])
            out.append(_parity(f"SEBlock / the classic nn.Sequential ({_block_label(cfg)}), worst stage",
                               worst["ratios"]["classic"], worst["ratio_ci95"]["classic"],
                               per_shape=[r["ratios"]["classic"] for r in cfg["rows"]]))
    for res in results.get("models", []):
        if (res["batch"] == 1 and not res["compiled"] and res["memory_format"] == "contiguous"
                and res.get("device", "cpu") == "cpu" and "senet_lib" in res["ratios"]):
            r = res["ratios"]
            out.append(_target("SE-ResNet-50 / ResNet-50, batch-1 latency, eager", r["senet_lib"],
                               res.get("ratio_ci95", {}).get("senet_lib"), MODEL_TARGET,
                               beside={k: v for k, v in r.items() if k != "senet_lib"}))
            if "senet_lib_vs_timm" in res:
                v = res["senet_lib_vs_timm"]
                out.append(_parity("SE-ResNet-50 / ResNet-50 over timm's seresnet50 / resnet50, batch 1, "
                                   "eager, paired round by round", v["median"], v["ci95"]))
    if "imports" in results:
        r = results["imports"]["senet_lib_vs_torch"]
        out.append(_target("import senet_lib / import torch, fresh interpreter", r["median"],
                           [r["low"], r["high"]], IMPORT_TARGET))
    return out


def _traffic(models: list[dict]) -> dict:
    """Bytes per image of SE-ResNet-50's SE blocks, and the bandwidth the measured extra time
    implies. ``folded``: the bytes if the rescale were folded into the residual addition
    (chapter 9's lesson; the library's SE-ResNet-50 rescales, then adds)."""
    out: dict = {"stages": [list(s) for s in RESNET50_STAGES], "dtype_bytes": 4,
                 "se_blocks": se_network_bytes(RESNET50_STAGES),
                 "folded": se_network_bytes(RESNET50_STAGES, fused=True)}
    per_image = out["se_blocks"]["per_image"]
    implied = []
    for res in models:
        med = res["median_ms"]
        if res["size"] != 224 or "se_resnet50" not in med or "resnet50" not in med:
            continue
        extra_s = (med["se_resnet50"] - med["resnet50"]) * 1e-3 / res["batch"]
        implied.append({"batch": res["batch"], "compiled": res["compiled"],
                        "memory_format": res["memory_format"], "extra_ms_per_image": extra_s * 1e3,
                        "bytes_per_image": per_image,
                        "implied_GBps": implied_bandwidth(per_image, extra_s) if extra_s > 0 else None})
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
                                  "load_average_at_start": environment()["load_average_1_5_15_min"],
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
                               names=("resnet50", "se_resnet50"), device=device))
    say(f"models, batch {big}, eager")
    # throughput: the library's pair only (timm's pair is timed at batch 1), to stay within budget
    models.append(bench_models(big, size, rounds=2 if quick else 9, warmup=1,
                               names=("resnet50", "se_resnet50"), device=device))
    if compile:
        for b, r in ((1, 3 if quick else 30), (big, 3 if quick else 7)):
            say(f"models, batch {b}, compiled")
            # the first (compiling) call is the warm-up for the graph; one more warms the caches
            models.append(bench_models(b, size, rounds=r, compiled=True, warmup=1,
                                       names=("resnet50", "se_resnet50"), device=device))
    results["models"] = models
    say("imports, each in a fresh interpreter")
    results["imports"] = bench_imports(rounds=2 if quick else 12, warmup=1)
    results["traffic"] = _traffic(models)
    results["paper"] = PAPER
    results["targets"] = targets(results)
    results["elapsed_s"] = time.perf_counter() - t0
    return results


# ------------------------------------------------------------------------------------ printing


def _table(rows: list[dict], key: str = "median_ms") -> str:
    names = list(rows[0][key])
    lines = [f"{'shape (N, C, H, W)':>20} " + " ".join(f"{n:>12}" for n in names)]
    for r in rows:
        shape = "x".join(str(s) for s in r["shape"])
        lines.append(f"{shape:>20} " + " ".join(f"{r[key][n]:>9.3f} ms" for n in names))
        for k, v in r.get("ratios", {}).items():
            low, high = r["ratio_ci95"][k]
            lines.append(f"{'':>20}   senet_lib / {k}: {v:.3f} (95 % interval {low:.3f} to {high:.3f})")
    return "\n".join(lines)


def format_results(results: dict) -> str:
    """A readable report of :func:`run_full`'s results."""
    out = []
    if "imports" in results:
        imp = results["imports"]
        r = imp["senet_lib_vs_torch"]
        out.append(f"\nImports, fresh interpreter, {imp['rounds']} interleaved rounds: "
                   + ", ".join(f"{k} {v:.0f} ms" for k, v in imp["median_ms"].items())
                   + f"\n  senet_lib / torch: {r['median']:.3f} (95 % interval {r['low']:.3f} to {r['high']:.3f})")
    if "compile" in results:
        c = results["compile"]
        out.append(f"\ntorch.compile, first call (seconds; median of {c['repeats']} rounds in rotated orders, "
                   f"after a {c['warm_up_s']:.1f} s warm-up compile)")
        out.append(_table(c["rows"], key="compile_s").replace(" ms", " s "))
    for cfg in results.get("block", []):
        out.append(f"\nSE block, {_block_label(cfg)}, {cfg['rounds']} rounds; ratios paired round by round")
        out.append(_table(cfg["rows"]))
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
    for res in results.get("attention", []):
        out.append(f"\nAttention blocks in {res['network']}, batch {res['batch']}, {res['size']}x{res['size']}, "
                   f"{res['rounds']} rounds; block / plain paired round by round")
        out.append(f"  {'plain':>10}: {res['median_ms']['plain']:8.2f} ms  {res['params']['plain']:>10,} params")
        for k, v in res["ratio"].items():
            lo, hi = res["ratio_ci95"][k]
            out.append(f"  {k:>10}: {res['median_ms'][k]:8.2f} ms  {res['params'][k]:>10,} params  "
                       f"ratio {v:.3f} (95 % interval {lo:.3f} to {hi:.3f})")
    if "gates_in_network" in results:
        g = results["gates_in_network"]
        out.append(f"\nSE excitations of SE-ResNet-50 (batch 1), per forward pass: "
                   f"{g['in_place_ms']:.2f} ms where the network computes them, "
                   f"{g['again_ms']:.2f} ms computed again at once (warm caches)")
    if "traffic" in results:
        t = results["traffic"]
        out.append(f"\nSE blocks of SE-ResNet-50, bytes per image (fp32): "
                   f"{t['se_blocks']['per_image'] / 1e6:.1f} MB "
                   f"({t['folded']['per_image'] / 1e6:.1f} MB if the rescale were folded into the addition)")
        for e in t["implied"]:
            bw = f"{e['implied_GBps']:.1f} GB/s" if e["implied_GBps"] else "n/a (no extra time)"
            out.append(f"  batch {e['batch']:>2} {'compiled' if e['compiled'] else 'eager':>8} "
                       f"{e['memory_format']:>13}: +{e['extra_ms_per_image']:.2f} ms/image -> {bw}")
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
            rule = t.get("rule", f"target <= {t['target']}")
            out.append(f"  {t['name']}: {t['value']:.3f} ({rule}: "
                       f"{'met' if t['met'] else 'NOT met'}{band}){beside}")
    if "elapsed_s" in results:
        out.append(f"\nelapsed: {results['elapsed_s']:.0f} s")
    return "\n".join(out)


def _write(path: str, results: dict, argv: list[str]) -> None:
    results = {"command": " ".join(["python -m senet_lib.bench"] + argv),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "environment": environment(), **results}
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m senet_lib.bench",
                                description="Side-by-side timings of SE blocks and SE networks.")
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("block", help="SEBlock vs timm's, torchvision's and the classic sequence")
    b.add_argument("--rounds", type=int, default=15)
    b.add_argument("--forward-only", action="store_true")
    b.add_argument("--channels-last", action="store_true")
    b.add_argument("--compile", action="store_true", help="torch.compile every contender")
    pc = sub.add_parser("pieces", help="pooling, the FCs, the multiply, the merge, the convs alone")
    pc.add_argument("--rounds", type=int, default=15)
    m = sub.add_parser("models", help="ResNet-50 vs SE-ResNet-50, and timm's pair")
    m.add_argument("--batch", type=int, default=1)
    m.add_argument("--rounds", type=int, default=40)
    m.add_argument("--compile", action="store_true")
    m.add_argument("--channels-last", action="store_true")
    im = sub.add_parser("imports", help="import senet_lib vs import torch, each in a fresh interpreter")
    im.add_argument("--rounds", type=int, default=15)
    at = sub.add_parser("attention", help="chapter 10: a network with SE / ECA / CBAM / gather-excite "
                                          "against the same network without a block")
    at.add_argument("--rounds", type=int, default=30)
    sub.add_parser("traffic", help="the memory-traffic model of SE-ResNet-50's SE blocks (no timing)")
    cp = sub.add_parser("compile", help="torch.compile's seconds for each SE block's first call, "
                                        "after a warm-up compile, in rotated orders")
    cp.add_argument("--repeats", type=int, default=None,
                    help="rounds per shape (default: one per contender, each first once)")
    cp.add_argument("--forward-only", action="store_true")
    f = sub.add_parser("full", help="everything, one JSON (the committed results file)")
    f.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs")
    for s in (b, pc, m, cp, f):
        s.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                       help="where to run (default cpu; the committed file is CPU's)")
        s.add_argument("--threads", type=int, default=None,
                       help="torch.set_num_threads (default: torch's own choice, usually one per core)")
    for s in (b, pc, m, at, cp, f):
        s.add_argument("--quick", action="store_true", help="tiny shapes and few rounds (smoke run)")
    for s in (b, pc, m, im, at, sub.choices["traffic"], cp, f):
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
    elif args.what == "compile":
        shapes = QUICK_SHAPES if args.quick else STAGE_SHAPES
        results = {"compile": compile_seconds(shapes, batch=2 if args.quick else 8,
                                              backward=not args.forward_only,
                                              repeats=1 if args.quick else args.repeats, device=device)}
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
        names = MODEL_NAMES if not args.compile else ("resnet50", "se_resnet50")
        res = bench_models(args.batch, size, rounds, names=names, compiled=args.compile,
                           channels_last=args.channels_last, device=device)
        results = {"models": [res]}
        results["targets"] = targets(results)
    elif args.what == "attention":
        from .attention import NETWORKS, bench_attention

        rounds = 3 if args.quick else args.rounds
        results = {"attention": [bench_attention(net, rounds=rounds, batch=2 if args.quick else None)
                                 for net in NETWORKS]}
    elif args.what == "imports":
        results = {"imports": bench_imports(rounds=args.rounds)}
        results["targets"] = targets(results)
    else:
        results = {"traffic": _traffic([])}
    results["allocator"] = allocator
    print(format_results(results))
    print(f"allocator: {allocator}")
    if args.out:
        _write(args.out, results, argv)
    return 0
