"""Chapter 2's answers: the squeeze, standard-deviation pooling and the receptive field."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from senet_lib.spatial import receptive_field

from . import correct, malformed, raises, wrong


def squeeze_loops(x):
    n, c, h, w = x.shape
    out = torch.zeros(n, c)
    for i in range(n):
        for k in range(c):
            total = 0.0
            for a in range(h):
                for b in range(w):
                    total += x[i, k, a, b].item()
            out[i, k] = total / (h * w)
    return out


def std_loops(x):
    n, c, _h, _w = x.shape
    out = torch.zeros(n, c)
    for i in range(n):
        for k in range(c):
            values = x[i, k].flatten().tolist()
            mean = sum(values) / len(values)
            out[i, k] = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return out


def rf_backwards(layers):
    """From the output back to the input: one pixel, then each layer widens it."""
    size = 1
    for k, s in reversed(layers):
        size = (size - 1) * s + k
    return size


def rf_numpy(layers):
    k = np.array([k for k, _ in layers])
    jumps = np.cumprod([1] + [s for _, s in layers[:-1]])
    return 1 + np.sum((k - 1) * jumps)                  # an np.int64


def rf_one_based_too_small(layers):
    rf, jump = 0, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf


def rf_jump_too_early(layers):
    rf, jump = 1, 1
    for k, s in layers:
        jump *= s
        rf += (k - 1) * jump
    return rf


BANK = {
    "check_squeeze": [
        correct("sum / (H * W) (the solution)", lambda x: x.sum(dim=(2, 3)) / (x.shape[2] * x.shape[3])),
        correct("mean over (2, 3)", lambda x: x.mean(dim=(2, 3))),
        correct("adaptive average pooling, flattened", lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1)),
        correct("loops", squeeze_loops),
        correct("NumPy array", lambda x: x.numpy().mean(axis=(2, 3))),
        correct("einsum in float64", lambda x: torch.einsum("nchw->nc", x.double()) / (x.shape[2] * x.shape[3])),
        correct("flatten then mean", lambda x: x.flatten(2).mean(-1)),
        wrong("max", lambda x: x.amax(dim=(2, 3)), "maximum"),
        wrong("sum", lambda x: x.sum(dim=(2, 3)), "divide by the number of positions"),
        wrong("divided by H + W", lambda x: x.sum(dim=(2, 3)) / (x.shape[2] + x.shape[3]), "wrong count"),
        wrong("wrong axes", lambda x: x.mean(dim=(1, 2)), "wrong axes"),
        wrong("keepdim", lambda x: x.mean(dim=(2, 3), keepdim=True), "(N, C, 1, 1)"),
        wrong("batch mean too", lambda x: x.mean(dim=(2, 3)).mean(dim=0, keepdim=True).expand(x.shape[0], -1),
              "batch"),
        wrong("one spatial axis", lambda x: x.mean(dim=3), "one spatial axis"),
        wrong("mean of everything", lambda x: x.mean(), "whole tensor"),
        malformed("None", lambda x: None, "forget the return"),
        malformed("str", lambda x: "mean", "should be a torch.Tensor"),
        malformed("list", lambda x: x.mean(dim=(2, 3)).tolist(), "Python list"),
        malformed("NaN", lambda x: x.mean(dim=(2, 3)) * float("nan"), "NaN"),
        malformed("dtype", lambda x: x.mean(dim=(2, 3)).long(), "integer dtype"),
        malformed("dtype", lambda x: x.mean(dim=(2, 3)).to(torch.bfloat16), "torch.bfloat16"),
        malformed("shape", lambda x: x.mean(dim=(2, 3)).T, "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_std_pool": [
        correct("centred squares (the solution)", lambda x: ((x - x.mean(dim=(2, 3), keepdim=True)) ** 2)
                .mean(dim=(2, 3)).sqrt()),
        correct("unbiased=False", lambda x: x.std(dim=(2, 3), unbiased=False)),
        correct("E[x^2] - E[x]^2", lambda x: ((x ** 2).mean(dim=(2, 3)) - x.mean(dim=(2, 3)) ** 2).clamp_min(0).sqrt()),
        correct("loops", std_loops),
        correct("NumPy std (ddof 0)", lambda x: torch.from_numpy(x.numpy().std(axis=(2, 3)))),
        correct("flattened, var then sqrt", lambda x: x.flatten(2).var(-1, correction=0).sqrt()),
        wrong("variance", lambda x: x.var(dim=(2, 3), correction=0), "variance"),
        wrong("sample std", lambda x: x.std(dim=(2, 3)), "sample standard deviation"),
        wrong("the mean", lambda x: x.mean(dim=(2, 3)), "mean of each channel"),
        wrong("not centred", lambda x: (x ** 2).mean(dim=(2, 3)).sqrt(), "subtract the mean"),
        wrong("wrong axes", lambda x: x.std(dim=(1, 3), correction=0), "wrong axes"),
        wrong("std of one axis, averaged", lambda x: x.std(dim=3, correction=0).mean(dim=2), "one spatial axis"),
        wrong("keepdim", lambda x: x.std(dim=(2, 3), correction=0, keepdim=True), "(N, C, 1, 1)"),
        malformed("None", lambda x: None, "forget the return"),
        malformed("str", lambda x: "std", "should be a torch.Tensor"),
        malformed("list", lambda x: [x.std(dim=(2, 3), correction=0)], "Python list"),
        malformed("NaN", lambda x: (x - 10).sqrt().mean(dim=(2, 3)), "NaN"),
        malformed("dtype", lambda x: x.std(dim=(2, 3), correction=0).half(), "torch.float16"),
        malformed("shape", lambda x: x.std(dim=(2, 3), correction=0).flatten(), "reshape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_receptive_field": [
        correct("rf and jump forwards (the solution)", lambda layers: receptive_field(layers)[-1]),
        correct("backwards from one output pixel", rf_backwards),
        correct("NumPy cumprod (an np.int64)", rf_numpy),
        correct("a whole float", lambda layers: float(rf_backwards(layers))),
        wrong("strides ignored", lambda layers: 1 + sum(k - 1 for k, _ in layers), "ignored the strides"),
        wrong("sum of kernel sizes", lambda layers: sum(k for k, _ in layers), "sum of the kernel sizes"),
        wrong("own stride too early", rf_jump_too_early, "its own stride"),
        wrong("started from 0", rf_one_based_too_small, "start from 1"),
        wrong("product of kernels", lambda layers: int(np.prod([k for k, _ in layers])), "product"),
        wrong("pairs read as (stride, kernel)", lambda layers: rf_backwards([(s, k) for k, s in layers]),
              "(stride, kernel_size)"),
        wrong("every layer's field", lambda layers: receptive_field(layers), "one int"),
        malformed("None", lambda layers: None, "forget the return"),
        malformed("str", lambda layers: str(rf_backwards(layers)), "not text"),
        malformed("list", lambda layers: [rf_backwards(layers)], "one int"),
        malformed("NaN", lambda layers: float("nan"), "NaN"),
        malformed("dtype", lambda layers: rf_backwards(layers) + 0.5, "whole number"),
        malformed("shape", lambda layers: torch.tensor([rf_backwards(layers), 1]), "one int"),
        malformed("raises", raises, "ValueError"),
    ],
}
