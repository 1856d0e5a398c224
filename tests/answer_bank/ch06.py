"""Chapter 6's answers: colour casts, the learning-rate schedule, paired differences over seeds."""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch

from senet_lib.train import lr_at

from . import correct, malformed, raises, wrong


def cast(images, gains):
    return (images * gains[:, :, None, None]).clamp(0, 1)


def cast_loops(images, gains):
    out = images.clone()
    for n in range(images.shape[0]):
        for c in range(3):
            out[n, c] = torch.clamp(images[n, c] * gains[n, c], 0.0, 1.0)
    return out


def lr(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * base_lr * (1 + math.cos(math.pi * t))


def lr_numpy(step, total_steps, base_lr, warmup_steps):
    warm = np.float32(base_lr) * (step + 1) / max(warmup_steps, 1)
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    cosine = np.float32(0.5 * base_lr) * (1 + np.cos(np.float32(np.pi * t)))   # float32 arithmetic
    return np.where(step < warmup_steps, warm, cosine)[()]                       # a NumPy scalar


def lr_tensor(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return torch.tensor(base_lr * (step + 1) / warmup_steps)
    t = torch.tensor((step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * base_lr * (1 + torch.cos(torch.pi * t))


def lr_zero_first(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    return lr(step, total_steps, base_lr, warmup_steps)


def lr_le(step, total_steps, base_lr, warmup_steps):
    if step <= warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return lr(step, total_steps, base_lr, warmup_steps)


def lr_cosine_from_0(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return 0.5 * base_lr * (1 + math.cos(math.pi * step / total_steps))


def lr_no_decay(step, total_steps, base_lr, warmup_steps):
    return base_lr * (step + 1) / warmup_steps if step < warmup_steps else base_lr


def lr_wrong_t(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / total_steps
    return 0.5 * base_lr * (1 + math.cos(math.pi * t))


def lr_linear_warm_wrong(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    return lr(step, total_steps, base_lr, warmup_steps)


def lr_fraction_first(step, total_steps, base_lr, warmup_steps):
    fraction = (step + 1) / warmup_steps                  # fails when there is no warm-up
    if step < warmup_steps:
        return base_lr * fraction
    return lr(step, total_steps, base_lr, warmup_steps)


def paired(plain, se):
    d = [s - p for p, s in zip(plain, se)]
    return statistics.fmean(d), statistics.stdev(d)


BANK = {
    "check_colour_cast": [
        correct("broadcast and clamp (the solution)", cast),
        correct("loops", cast_loops),
        correct("einsum and clip", lambda images, gains: torch.einsum("nchw,nc->nchw", images, gains).clip(0, 1)),
        correct("NumPy clip", lambda images, gains: torch.from_numpy(
            np.clip(images.numpy() * gains.numpy()[:, :, None, None], 0, 1))),
        correct("min and max", lambda images, gains: torch.minimum(
            images * gains.view(-1, 3, 1, 1), torch.ones(1)).maximum(torch.zeros(1))),
        wrong("not clipped", lambda images, gains: images * gains[:, :, None, None], "clip the result"),
        wrong("clipped first", lambda images, gains: images.clamp(0, 1) * gains[:, :, None, None], "clip the result"),
        wrong("image 0's gains", lambda images, gains: (images * gains[0][None, :, None, None]).clamp(0, 1),
              "gains of image 0"),
        wrong("[channel, image]", lambda images, gains: (images * gains.T[:, :, None, None]).clamp(0, 1),
              "[channel, image]"),
        wrong("one factor per image", lambda images, gains: (images * gains.mean(1)[:, None, None, None]).clamp(0, 1),
              "same factor"),
        wrong("added", lambda images, gains: (images + gains[:, :, None, None]).clamp(0, 1), "added the gains"),
        wrong("clipped to 255", lambda images, gains: (images * gains[:, :, None, None]).clamp(0, 255), "[0, 255]"),
        wrong("broadcast against W", lambda images, gains: (images * gains[:, None, None, :]).clamp(0, 1),
              "broadcast against W"),
        wrong("gains not reshaped", lambda images, gains: (images * gains).clamp(0, 1), "paired gains (N, 3) with"),
        malformed("None", lambda images, gains: None, "forget the return"),
        malformed("str", lambda images, gains: "clamp", "should be a torch.Tensor"),
        malformed("list", lambda images, gains: [cast(images, gains)], "Python list"),
        malformed("NaN", lambda images, gains: cast(images, gains) * float("nan"), "NaN"),
        malformed("dtype", lambda images, gains: (cast(images, gains) * 255).to(torch.uint8), "integer dtype"),
        malformed("dtype", lambda images, gains: cast(images, gains).double(), "torch.float64"),
        malformed("shape", lambda images, gains: cast(images, gains).permute(0, 2, 3, 1), "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_lr_schedule": [
        correct("if and cosine (the solution)", lr),
        correct("the library's lr_at", lr_at),
        correct("NumPy float32", lr_numpy),
        correct("0-d tensors", lr_tensor),
        wrong("first step 0", lr_zero_first, "first step has learning rate 0"),
        wrong("<= instead of <", lr_le, "above base_lr"),
        wrong("no decay", lr_no_decay, "does not decay"),
        wrong("cosine from step 0", lr_cosine_from_0, "counts t from step 0"),
        wrong("t over total_steps", lr_wrong_t, "check the cosine"),
        wrong("warm-up over warmup_steps + 1", lr_linear_warm_wrong, "check the warm-up"),
        malformed("None", lambda step, total, base, warm: None, "forget the return"),
        malformed("str", lambda step, total, base, warm: f"{lr(step, total, base, warm):.4f}", "not text"),
        malformed("list", lambda step, total, base, warm: [lr(s, total, base, warm) for s in range(total)],
                  "the rate at that one step"),
        malformed("NaN", lambda step, total, base, warm: lr(step, total, base, warm) * math.nan, "NaN"),
        malformed("dtype", lambda step, total, base, warm: step < warm, "bool"),
        malformed("shape", lambda step, total, base, warm: torch.full((2,), lr(step, total, base, warm)),
                  "the rate at that one step"),
        malformed("raises", raises, "ValueError"),
        malformed("raises", lr_fraction_first, "warmup_steps = 0"),
    ],
    "check_paired_difference": [
        correct("statistics (the solution)", paired),
        correct("NumPy, ddof=1", lambda plain, se: (np.mean(np.subtract(se, plain)), np.std(np.subtract(se, plain),
                                                                                       ddof=1))),
        correct("torch, a list", lambda plain, se: [(torch.tensor(se) - torch.tensor(plain)).mean(),
                                                   (torch.tensor(se) - torch.tensor(plain)).std()]),
        correct("by hand", lambda plain, se: (
            sum(s - p for p, s in zip(plain, se)) / len(se),
            math.sqrt(sum((s - p - sum(b - a for a, b in zip(plain, se)) / len(se)) ** 2
                          for p, s in zip(plain, se)) / (len(se) - 1)))),
        correct("a two-element array", lambda plain, se: np.array(paired(plain, se))),
        wrong("wrong sign", lambda plain, se: paired(se, plain), "wrong sign"),
        wrong("divided by n", lambda plain, se: (statistics.fmean(np.subtract(se, plain)),
                                                 float(np.std(np.subtract(se, plain)))), "divided by n"),
        wrong("unpaired spread", lambda plain, se: (statistics.fmean(se) - statistics.fmean(plain),
                                                    math.sqrt(statistics.variance(plain) + statistics.variance(se))),
              "independent"),
        wrong("standard error", lambda plain, se: (paired(plain, se)[0], paired(plain, se)[1] / math.sqrt(len(se))),
              "standard error"),
        wrong("(std, mean)", lambda plain, se: paired(plain, se)[::-1], "(std, mean)"),
        wrong("points", lambda plain, se: tuple(100 * v for v in paired(plain, se)), "points"),
        wrong("variance", lambda plain, se: (paired(plain, se)[0], paired(plain, se)[1] ** 2), "variance"),
        malformed("None", lambda plain, se: None, "forget the return"),
        malformed("str", lambda plain, se: "%.3f ± %.3f" % paired(plain, se), "return a pair"),
        malformed("list", lambda plain, se: [s - p for p, s in zip(plain, se)], "return a pair"),
        malformed("NaN", lambda plain, se: (math.nan, math.nan), "NaN"),
        malformed("dtype", lambda plain, se: (str(paired(plain, se)[0]), paired(plain, se)[1]), "not text"),
        malformed("shape", lambda plain, se: torch.tensor([paired(plain, se)]).repeat(2, 1), "return a pair"),
        malformed("raises", raises, "ValueError"),
        malformed("dtype", lambda plain, se: {"mean": paired(plain, se)[0], "std": paired(plain, se)[1]},
                  "return mean, std"),
    ],
}
