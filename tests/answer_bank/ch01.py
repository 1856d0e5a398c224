"""Chapter 1's answers: the SE forward pass from its weights, and the parameter count."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from senet_lib import SEBlock

from . import correct, malformed, raises, wrong


def _gates(x, w1, w2, b2):
    return torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2)


def forward_loops(x, w1, w2, b2):
    n, c, h, w = x.shape
    out = torch.empty_like(x)
    for i in range(n):
        z = [sum(x[i, k].flatten().tolist()) / (h * w) for k in range(c)]
        hidden = [max(0.0, sum(w1[j, k].item() * z[k] for k in range(c))) for j in range(w1.shape[0])]
        for k in range(c):
            logit = sum(w2[k, j].item() * hidden[j] for j in range(w1.shape[0])) + b2[k].item()
            out[i, k] = x[i, k] * torch.sigmoid(torch.tensor(logit))
    return out


def forward_einsum(x, w1, w2, b2):
    z = torch.einsum("nchw->nc", x) / (x.shape[2] * x.shape[3])
    s = torch.sigmoid(torch.einsum("ck,nk->nc", w2, torch.relu(torch.einsum("kc,nc->nk", w1, z))) + b2)
    return torch.einsum("nchw,nc->nchw", x, s)


def forward_conv1x1(x, w1, w2, b2):
    z = F.adaptive_avg_pool2d(x, 1)                                 # (N, C, 1, 1)
    h = F.relu(F.conv2d(z, w1[:, :, None, None]))
    return x * torch.sigmoid(F.conv2d(h, w2[:, :, None, None], b2))


def forward_numpy_float64(x, w1, w2, b2):
    xn, w1n, w2n, b2n = (t.numpy().astype(np.float64) for t in (x, w1, w2, b2))
    s = 1 / (1 + np.exp(-(np.maximum(xn.mean(axis=(2, 3)) @ w1n.T, 0) @ w2n.T + b2n)))
    return torch.from_numpy(xn * s[:, :, None, None]).to(x.dtype)


def forward_linear_view(x, w1, w2, b2):
    n, c = x.shape[:2]
    s = torch.sigmoid(F.linear(F.relu(F.linear(x.flatten(2).mean(-1), w1)), w2, b2))
    return x * s.view(n, c, 1, 1)


BANK = {
    "check_se_forward": [
        correct("vectorised (the solution)", lambda x, w1, w2, b2: x * _gates(x, w1, w2, b2)[:, :, None, None]),
        correct("loops over images and channels", forward_loops),
        correct("einsum", forward_einsum),
        correct("1x1 convolutions instead of matrices", forward_conv1x1),
        correct("NumPy in float64, cast back", forward_numpy_float64),
        correct("F.linear and view", forward_linear_view),
        wrong("softmax gates", lambda x, w1, w2, b2: x * torch.softmax(
            torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2, 1)[:, :, None, None], "softmax"),
        wrong("max squeeze", lambda x, w1, w2, b2: x * torch.sigmoid(
            torch.relu(x.amax((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None], "maximum"),
        wrong("sum squeeze", lambda x, w1, w2, b2: x * torch.sigmoid(
            torch.relu(x.sum((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None], "sum"),
        wrong("no ReLU", lambda x, w1, w2, b2: x * torch.sigmoid(
            (x.mean((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None], "ReLU"),
        wrong("no bias", lambda x, w1, w2, b2: x * torch.sigmoid(
            torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T)[:, :, None, None], "bias b2"),
        wrong("tanh gates", lambda x, w1, w2, b2: x * torch.tanh(
            torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None], "tanh"),
        wrong("no sigmoid", lambda x, w1, w2, b2: x * (
            torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T + b2)[:, :, None, None], "sigmoid is missing"),
        wrong("gates broadcast against W", lambda x, w1, w2, b2: x * _gates(x, w1, w2, b2), "not (N, C)"),
        wrong("returns the gates", _gates, "you returned the gates"),
        wrong("adds the gates", lambda x, w1, w2, b2: x + _gates(x, w1, w2, b2)[:, :, None, None], "added the gates"),
        wrong("adds a residual", lambda x, w1, w2, b2: x + x * _gates(x, w1, w2, b2)[:, :, None, None],
              "residual"),
        wrong("w1 not transposed", lambda x, w1, w2, b2: x * torch.sigmoid(
            torch.relu(x.mean((2, 3)) @ w1) @ w2 + b2)[:, :, None, None], "transpose"),
        malformed("None", lambda x, w1, w2, b2: None, "forget the return"),
        malformed("str", lambda x, w1, w2, b2: "x * s", "should be a torch.Tensor"),
        malformed("list", lambda x, w1, w2, b2: (x * _gates(x, w1, w2, b2)[:, :, None, None]).tolist(),
                  "Python list"),
        malformed("NaN", lambda x, w1, w2, b2: x * float("nan"), "NaN"),
        malformed("dtype", lambda x, w1, w2, b2: (x * _gates(x, w1, w2, b2)[:, :, None, None]).double(),
                  "torch.float64"),
        malformed("dtype", lambda x, w1, w2, b2: x.half() * _gates(x, w1, w2, b2).half()[:, :, None, None],
                  "torch.float16"),
        malformed("shape", lambda x, w1, w2, b2: (x * _gates(x, w1, w2, b2)[:, :, None, None]).flatten(1),
                  "reshape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_se_param_count": [
        correct("formula (the solution)", lambda c, r: 2 * c * max(1, c // r) + c),
        correct("counting a built block", lambda c, r: sum(p.numel() for p in SEBlock(c, r).parameters())),
        correct("NumPy integer", lambda c, r: np.int64(c) * max(1, c // r) * 2 + np.int64(c)),
        correct("a float that is whole", lambda c, r: float(2 * c * max(1, c // r) + c)),
        correct("a 0-d tensor", lambda c, r: torch.tensor(2 * c * max(1, c // r) + c)),
        wrong("C // r = 0 for C < r", lambda c, r: 2 * (c // r) * c + c, "0 hidden units"),
        wrong("bias left out", lambda c, r: 2 * max(1, c // r) * c, "fc2's bias"),
        wrong("fc1 given a bias", lambda c, r: 2 * max(1, c // r) * c + c + max(1, c // r), "fc1 has no bias"),
        wrong("bias counted twice", lambda c, r: 2 * max(1, c // r) * c + 2 * c, "twice"),
        wrong("ceil instead of floor", lambda c, r: 2 * max(1, -(-c // r)) * c + c, "rounded C / r up"),
        wrong("C / r", lambda c, r: 2 * c * (c / r) + c, "C / r"),
        wrong("one weight matrix", lambda c, r: max(1, c // r) * c + c, "one weight matrix"),
        wrong("times r", lambda c, r: 2 * c * c * r + c, "multiplied by r"),
        malformed("None", lambda c, r: None, "forget the return"),
        malformed("str", lambda c, r: f"{2 * c * max(1, c // r) + c}", "not text"),
        malformed("list", lambda c, r: [c * max(1, c // r), c * max(1, c // r) + c], "list"),
        malformed("NaN", lambda c, r: float("nan"), "NaN"),
        malformed("dtype", lambda c, r: True, "bool"),
        malformed("dtype", lambda c, r: 2 * c * max(1, c // r) + c + 0.5, "whole number"),
        malformed("shape", lambda c, r: torch.tensor([2 * c * max(1, c // r), c]), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
}
