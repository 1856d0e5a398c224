"""Chapter 6's training step, timed: which way of running it is fastest, and which gives the same numbers.

The sweep's cost per run bounds how many seeds fit, so this measures the step the runs repeat
(:func:`senet_lib.train.train_step`: forward, cross-entropy, backward, SGD update) for plain and
SE ResNet-20 at chapter 6's settings (batch 128 of the 32 x 32 photo patches, lr 0.1, Nesterov
momentum, weight decay), in several configurations, interleaved round by round in one run::

    python -m senet_lib.bench.training --out senet_lib/results/bench_training.json

* ``eager``: what every shipped run did: eager, on one thread (each of ``--jobs 2``'s workers
  runs one thread), the reference;
* ``threads2``: eager on PyTorch's default threads (one per core; a ``--jobs 1`` run);
* ``channels_last``: images and weights stored channels-last, one thread;
* ``compile``: ``torch.compile`` (inductor) on the network, one thread; its compile time is
  recorded apart.

Per contender: the median seconds per step over the rounds, images per second, and its time over
``eager``'s for the same network, paired round by round with a 95 % interval
(:func:`senet_lib.bench.timing.paired_ratio`). Then the check that decides what the reruns may
use: from the same seed and the same batches, ``steps`` training steps and one evaluation batch
in each configuration, compared with ``eager`` bit for bit (the runs record their losses and
accuracies to the last digit, and a rerun must repeat chapter 6's runs exactly). ``verdict``
names the fastest configuration that is bitwise identical. Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from ..config import RunConfig, build_data, build_model
from ..records import environment
from ..train import random_flip, sgd, train_step
from .timing import interleaved, paired_ratio, summarize

__all__ = ["CONFIGS", "CHAPTER6", "bench_training", "identical", "main"]

#: Chapter 6's run (compare_photos.json): ResNet-20, 400 patches per class, batch 128.
CHAPTER6 = RunConfig(depth=20, per_class=400, test_per_class=100, epochs=12, batch_size=128)

#: The configurations compared: threads (None: PyTorch's default, one per core), memory format,
#: compiled. ``eager`` is how the shipped runs were trained (``--jobs 2``: one thread per run).
CONFIGS: dict[str, dict[str, Any]] = {
    "eager": {"threads": 1, "channels_last": False, "compile": False},
    "threads2": {"threads": None, "channels_last": False, "compile": False},
    "channels_last": {"threads": 1, "channels_last": True, "compile": False},
    "compile": {"threads": 1, "channels_last": False, "compile": True},
}


def _batches(cfg: RunConfig, n: int) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """The first ``n`` training batches chapter 6's loop draws for seed 0 (shuffled, flipped), and
    one test batch of 256 images."""
    train_ds, test_ds, _ = build_data(cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                         generator=gen)
    out = []
    for x, y in loader:
        out.append((random_flip(x, gen), y))
        if len(out) == n:
            break
    return out, test_ds.tensors[0][:256]


class _Stepper:
    """One contender: a network in one configuration, stepping through the batches in turn."""

    def __init__(self, cfg: RunConfig, attn: str, setting: dict[str, Any], batches, seed: int = 0) -> None:
        self.setting, self.batches, self.i = setting, batches, 0
        torch.manual_seed(seed)
        self.model = build_model(replace(cfg, attn=attn))
        layout = torch.channels_last if setting["channels_last"] else torch.preserve_format
        self.model.to(memory_format=layout).train()
        self.net: Any = torch.compile(self.model) if setting["compile"] else self.model  # a module, or compiled
        self.optimizer = sgd(self.model, cfg.lr, cfg.momentum, cfg.weight_decay)
        self.losses: list[float] = []

    def _threads(self) -> Callable[[], None]:
        before = torch.get_num_threads()
        if self.setting["threads"] is not None:
            torch.set_num_threads(self.setting["threads"])
        return lambda: torch.set_num_threads(before)

    def step(self) -> None:
        restore = self._threads()
        try:
            x, y = self.batches[self.i % len(self.batches)]
            if self.setting["channels_last"]:
                x = x.contiguous(memory_format=torch.channels_last)
            loss, _ = train_step(self.net, self.optimizer, x, y)
            self.losses.append(loss.item())
            self.i += 1
        finally:
            restore()

    def evaluate(self, images: torch.Tensor) -> torch.Tensor:
        restore = self._threads()
        try:
            self.net.eval()
            with torch.no_grad():
                x = images.contiguous(memory_format=torch.channels_last) if self.setting["channels_last"] else images
                return self.net(x)
        finally:
            self.net.train()
            restore()


def identical(cfg: RunConfig, attn: str, batches, test_images: torch.Tensor, steps: int,
              configs: dict[str, dict[str, Any]] = CONFIGS) -> dict[str, dict[str, Any]]:
    """For each configuration: ``steps`` steps from seed 0 on ``batches`` and the logits of
    ``test_images`` afterwards, against ``eager``'s: ``bitwise`` (every loss, weight and logit
    equal), the largest absolute difference of the weights, and of the losses."""
    runs = {}
    for name, setting in configs.items():
        s = _Stepper(cfg, attn, setting, batches)
        for _ in range(steps):
            s.step()
        runs[name] = (s.losses, {k: v.detach().contiguous() for k, v in s.model.state_dict().items()},
                      s.evaluate(test_images))
    ref_losses, ref_state, ref_logits = runs["eager"]
    out = {}
    for name, (losses, state, logits) in runs.items():
        weight_diff = max(float((state[k].double() - ref_state[k].double()).abs().max()) for k in ref_state)
        loss_diff = max(abs(a - b) for a, b in zip(losses, ref_losses, strict=True))
        out[name] = {"bitwise": losses == ref_losses and all(torch.equal(state[k], ref_state[k]) for k in ref_state)
                     and torch.equal(logits, ref_logits),
                     "max_abs_weight_diff": weight_diff, "max_abs_loss_diff": loss_diff,
                     "max_abs_logit_diff": float((logits - ref_logits).abs().max())}
    return out


def bench_training(cfg: RunConfig = CHAPTER6, *, rounds: int = 15, warmup: int = 2, check_steps: int = 5,
                   configs: dict[str, dict[str, Any]] = CONFIGS) -> dict[str, Any]:
    """Time one training step of plain and SE networks of ``cfg`` in every configuration, and
    check each configuration's numbers against eager's; returns the results dict."""
    batches, test_images = _batches(cfg, max(check_steps, rounds + warmup))
    compile_s: dict[str, float] = {}
    steppers: dict[str, _Stepper] = {}
    for attn in ("none", "se"):
        for name, setting in configs.items():
            s = _Stepper(cfg, attn, setting, batches)
            t0 = time.perf_counter()
            s.step()  # the first step: a compiled network compiles here
            if setting["compile"]:
                compile_s[f"{attn}/{name}"] = time.perf_counter() - t0
            steppers[f"{attn}/{name}"] = s
    load_before = os.getloadavg()
    times = interleaved({k: s.step for k, s in steppers.items()}, rounds=rounds, warmup=warmup, shuffle=0)
    load_after = os.getloadavg()
    med, iqr = summarize(times)
    rows = []
    for key, ts in times.items():
        attn, name = key.split("/")
        r = paired_ratio(ts, times[f"{attn}/eager"])
        rows.append({"network": "ResNet-20" if attn == "none" else "SE-ResNet-20", "config": name,
                     **configs[name], "median_ms": med[key], "iqr_ms": iqr[key],
                     "images_per_s": cfg.batch_size / (med[key] / 1e3),
                     "time_over_eager": {"median": r["median"], "low": r["low"], "high": r["high"]}})
    checks = {attn: identical(cfg, attn, batches, test_images, check_steps, configs) for attn in ("none", "se")}
    same = [n for n in configs if all(checks[a][n]["bitwise"] for a in checks)]
    speed = {n: sum(r["images_per_s"] for r in rows if r["config"] == n) for n in configs}
    fastest, fastest_same = max(speed, key=lambda n: speed[n]), max(same, key=lambda n: speed[n])
    return {
        "settings": {"network": "CIFAR-style ResNet-20, plain and SE (chapter 6)", "batch_size": cfg.batch_size,
                     "image_size": 32, "data": "photo patches, 400 per class (chapter 6's)", "lr": cfg.lr,
                     "rounds": rounds, "warmup": warmup, "check_steps": check_steps,
                     "default_threads": torch.get_num_threads()},
        "rows": rows, "compile_seconds": compile_s, "identical": checks,
        "load_average_1min": {"before": load_before[0], "after": load_after[0]},
        "verdict": {"fastest": fastest, "bitwise_identical_to_eager": same, "fastest_identical": fastest_same,
                    "images_per_s_before": {r["network"]: r["images_per_s"] for r in rows if r["config"] == "eager"},
                    "images_per_s_after": {r["network"]: r["images_per_s"] for r in rows
                                           if r["config"] == fastest_same}},
    }


def format_results(res: dict[str, Any]) -> str:
    """The results as text: a row per contender, the checks, the verdict."""
    lines = [f"training step, batch {res['settings']['batch_size']}, {res['settings']['rounds']} interleaved rounds "
             f"(load average {res['load_average_1min']['before']:.1f} -> {res['load_average_1min']['after']:.1f})"]
    for r in res["rows"]:
        t = r["time_over_eager"]
        same = all(res["identical"][a][r["config"]]["bitwise"] for a in res["identical"])
        lines.append(f"  {r['network']:<13} {r['config']:<14} {r['median_ms']:8.1f} ms  {r['images_per_s']:7.1f} img/s  "
                     f"x{t['median']:.3f} ({t['low']:.3f}-{t['high']:.3f}) of eager  "
                     f"{'bitwise = eager' if same else 'differs from eager'}")
    v = res["verdict"]
    lines.append(f"fastest: {v['fastest']}; fastest with eager's numbers bit for bit: {v['fastest_identical']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m senet_lib.bench.training [--rounds N] [--quick] [--no-compile] [--out FILE]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m senet_lib.bench.training", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--quick", action="store_true", help="ResNet-8 (width 8) on 8 patches per class, 2 rounds (smoke run)")
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    configs = {k: v for k, v in CONFIGS.items() if not (args.no_compile and v["compile"])}
    # width 8, not 4: PyTorch 2.14's CPU backward in channels-last crashes the process (double free)
    # on this library's 4-channel first stage
    cfg = replace(CHAPTER6, depth=8, width=8, per_class=8, batch_size=16) if args.quick else CHAPTER6
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    res = bench_training(cfg, rounds=2 if args.quick else args.rounds, warmup=1 if args.quick else 2,
                         check_steps=2 if args.quick else 5, configs=configs)
    res = {"command": shlex.join(["python", "-m", "senet_lib.bench.training", *argv]), "started_utc": started,
           "environment": environment(), **res, "wall_time_s": time.perf_counter() - t0}
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(json.dumps(res, indent=1) + "\n")
    print(format_results(res))
    return res


if __name__ == "__main__":
    main()
