"""Made once with the harness as it was at commit 5e58173 (its experiment code that of fe2c783,
before the experiment layer's redesign, issue 21), so that the new runner can be checked against it:

    .venv/bin/python tests/data/old_harness/make.py

It writes, next to itself, with the old code (``senet_lib.experiments`` / ``ablations`` of that
commit) and one torch thread:

* ``compare.json`` + ``compare_ckpt/``: ``python -m senet_lib.experiments compare`` (tiny settings);
* ``sweep.json`` + ``sweep_ckpt/``: ``sweep --studies <all>``: every arm of ``ARMS``, its seed-0
  checkpoint in the old format (the ``r2`` one records ``architecture.reduction`` 16 and
  ``knobs.reduction`` 2, which the old loader refused);
* ``histories.json``: every arm's full per-epoch history for both seeds (the old
  ``experiments._train_one``), the old sweep files keeping only the test accuracies;
* ``partial.json``: a sweep with ``--reuse compare.json`` and ``--checkpoint-dir``, interrupted
  after three trained runs (the shape of ``sweep20_photos.json`` while it runs: ``reused``,
  ``reused_from``, ``checkpoints_not_saved``, ``complete: false``).

The new code does not run this file; the tests read what it wrote.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

import torch

from senet_lib import ablations, experiments

torch.set_num_threads(1)
TINY = ["--dataset", "photos", "--seeds", "0", "1", "--epochs", "2", "--depth", "8", "--width", "4",
        "--per-class", "4", "--test-per-class", "3", "--batch-size", "8", "--threads", "1",
        "--no-progress"]


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def main() -> None:
    for p in ("compare.json", "sweep.json", "partial.json", "histories.json"):
        (HERE / p).unlink(missing_ok=True)
    for d in ("compare_ckpt", "sweep_ckpt", "partial_ckpt"):
        shutil.rmtree(HERE / d, ignore_errors=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    experiments.main(["compare", *TINY, "--out", rel(HERE / "compare.json"),
                      "--checkpoint-dir", rel(HERE / "compare_ckpt")])
    experiments.main(["sweep", "--studies", *ablations.STUDIES, *TINY, "--out", rel(HERE / "sweep.json"),
                      "--checkpoint-dir", rel(HERE / "sweep_ckpt")])
    # every arm's whole history (the sweep file keeps only test_acc)
    settings = experiments.Settings(seeds=(0, 1), epochs=2, depth=8, width=4, per_class=4,
                                    test_per_class=3, batch_size=8, threads=1)
    histories = {}
    for arm, knobs in ablations.ARMS.items():
        for seed in settings.seeds:
            _, hist, *_ = experiments._train_one(settings, seed, dict(knobs), arm, False, 1)
            h = hist.to_dict()
            h.pop("seconds")
            histories[f"{arm}/{seed}"] = h
    (HERE / "histories.json").write_text(json.dumps(
        {"made_by": "tests/data/old_harness/make.py", "commit": commit, "settings": settings.to_json(),
         "histories": histories}, indent=1) + "\n")
    # a partial sweep, as an interrupted run leaves it
    real, calls = ablations._sweep_run, []

    def dies_after_three(*a, **k):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(a[1:3])
        return real(*a, **k)

    ablations._sweep_run = dies_after_three
    try:
        experiments.main(["sweep", "--studies", "reduction", "context", *TINY,
                          "--out", rel(HERE / "partial.json"), "--checkpoint-dir", rel(HERE / "partial_ckpt"),
                          "--reuse", rel(HERE / "compare.json")])
    except KeyboardInterrupt:
        pass
    finally:
        ablations._sweep_run = real
    (HERE / "made_at.json").write_text(json.dumps({"commit": commit}) + "\n")  # the files stay as written


if __name__ == "__main__":
    main()
