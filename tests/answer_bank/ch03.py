"""Chapter 3's answers: the excitation, the parameters SE adds, a linear layer as a 1x1 convolution."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from senet_lib.networks import linear_as_conv1x1

from . import correct, malformed, raises, wrong


def excitation_loops(z, w1, w2, b2):
    n, c = z.shape
    k = w1.shape[0]
    out = torch.empty(n, c)
    for i in range(n):
        hidden = [max(0.0, sum(w1[j, m].item() * z[i, m].item() for m in range(c))) for j in range(k)]
        for m in range(c):
            t = sum(w2[m, j].item() * hidden[j] for j in range(k)) + b2[m].item()
            out[i, m] = 1 / (1 + np.exp(-t))
    return out


def excitation_modules(z, w1, w2, b2):
    fc1 = nn.Linear(w1.shape[1], w1.shape[0], bias=False)
    fc2 = nn.Linear(w2.shape[1], w2.shape[0])
    with torch.no_grad():
        fc1.weight.copy_(w1)
        fc2.weight.copy_(w2)
        fc2.bias.copy_(b2)
        return nn.Sequential(fc1, nn.ReLU(), fc2, nn.Sigmoid())(z)


def overhead_comprehension(stages, r):
    return sum(n * 2 * c * max(1, c // r) for n, c in stages)


def overhead_numpy(stages, r):
    a = np.array(stages)
    blocks, widths = a[:, 0], a[:, 1]
    return (blocks * 2 * widths * np.maximum(1, widths // r)).sum()       # an np.int64


def overhead_per_stage(stages, r):
    per_stage = []
    for blocks, channels in stages:
        hidden = max(1, channels // r)
        per_stage.append(blocks * (channels * hidden + hidden * channels))
    return float(sum(per_stage))


def conv_solution(linear):
    conv = nn.Conv2d(linear.in_features, linear.out_features, kernel_size=1, bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def conv_state_dict(linear):
    conv = nn.Conv2d(linear.in_features, linear.out_features, 1, bias=linear.bias is not None)
    state = {"weight": linear.weight.detach().reshape(*linear.weight.shape, 1, 1)}
    if linear.bias is not None:
        state["bias"] = linear.bias.detach()
    conv.load_state_dict(state)
    return conv


def conv_parameters(linear):
    conv = nn.Conv2d(linear.in_features, linear.out_features, (1, 1), bias=linear.bias is not None)
    conv.weight = nn.Parameter(linear.weight.detach().clone().unsqueeze(-1).unsqueeze(-1))
    if linear.bias is not None:
        conv.bias = nn.Parameter(linear.bias.detach().clone())
    return conv


def conv_transposed(linear):
    conv = conv_solution(linear)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.T[:, :, None, None])
    return conv


def conv_no_copy(linear):
    return nn.Conv2d(linear.in_features, linear.out_features, 1, bias=linear.bias is not None)


def conv_bias_always(linear):
    conv = nn.Conv2d(linear.in_features, linear.out_features, 1)
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def conv_bias_not_copied(linear):
    conv = conv_solution(linear)
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.zero_()
    return conv


def conv_swapped_channels(linear):
    return nn.Conv2d(linear.out_features, linear.in_features, 1)


def conv_nan(linear):
    conv = conv_solution(linear)
    with torch.no_grad():
        conv.weight.fill_(float("nan"))
    return conv


def gates(z, w1, w2, b2):
    return torch.sigmoid(torch.relu(z @ w1.T) @ w2.T + b2)


BANK = {
    "check_excitation": [
        correct("matrix products (the solution)", gates),
        correct("loops", excitation_loops),
        correct("F.linear", lambda z, w1, w2, b2: torch.sigmoid(F.linear(F.relu(F.linear(z, w1)), w2, b2))),
        correct("einsum", lambda z, w1, w2, b2: torch.sigmoid(
            torch.einsum("ck,nk->nc", w2, torch.einsum("kc,nc->nk", w1, z).clamp(min=0)) + b2)),
        correct("nn.Linear layers with the weights copied", excitation_modules),
        correct("1x1 convolutions", lambda z, w1, w2, b2: torch.sigmoid(F.conv2d(
            F.relu(F.conv2d(z[:, :, None, None], w1[:, :, None, None])), w2[:, :, None, None], b2)).flatten(1)),
        correct("float64 inside", lambda z, w1, w2, b2: gates(z.double(), w1.double(), w2.double(),
                                                              b2.double()).float()),
        correct("float64 returned", lambda z, w1, w2, b2: gates(z.double(), w1.double(), w2.double(), b2.double())),
        wrong("softmax", lambda z, w1, w2, b2: torch.softmax(torch.relu(z @ w1.T) @ w2.T + b2, dim=1), "softmax"),
        wrong("raw logits", lambda z, w1, w2, b2: torch.relu(z @ w1.T) @ w2.T + b2, "raw logits"),
        wrong("tanh", lambda z, w1, w2, b2: torch.tanh(torch.relu(z @ w1.T) @ w2.T + b2), "tanh"),
        wrong("ReLU gate", lambda z, w1, w2, b2: torch.relu(torch.relu(z @ w1.T) @ w2.T + b2), "ReLU as the gate"),
        wrong("hard sigmoid", lambda z, w1, w2, b2: F.hardsigmoid(torch.relu(z @ w1.T) @ w2.T + b2), "hard sigmoid"),
        wrong("no ReLU", lambda z, w1, w2, b2: torch.sigmoid((z @ w1.T) @ w2.T + b2), "ReLU between"),
        wrong("no bias", lambda z, w1, w2, b2: torch.sigmoid(torch.relu(z @ w1.T) @ w2.T), "bias b2"),
        wrong("activations swapped", lambda z, w1, w2, b2: torch.relu(torch.sigmoid(z @ w1.T) @ w2.T + b2), "swapped"),
        wrong("weights not transposed", lambda z, w1, w2, b2: torch.sigmoid(torch.relu(z @ w1) @ w2 + b2),
              "transpose"),
        wrong("gates reshaped for the scale", lambda z, w1, w2, b2: gates(z, w1, w2, b2)[:, :, None, None],
              "(N, C, 1, 1)"),
        malformed("None", lambda z, w1, w2, b2: None, "forget the return"),
        malformed("str", lambda z, w1, w2, b2: "sigmoid", "should be a torch.Tensor"),
        malformed("list", lambda z, w1, w2, b2: [gates(z, w1, w2, b2)], "Python list"),
        malformed("NaN", lambda z, w1, w2, b2: gates(z, w1, w2, b2) * float("nan"), "NaN"),
        malformed("dtype", lambda z, w1, w2, b2: gates(z, w1, w2, b2).round().int(), "integer dtype"),
        malformed("dtype", lambda z, w1, w2, b2: gates(z, w1, w2, b2).half(), "torch.float16"),
        malformed("shape", lambda z, w1, w2, b2: gates(z, w1, w2, b2).T, "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_se_overhead": [
        correct("loop (the solution)", overhead_comprehension),
        correct("NumPy arrays (an np.int64)", overhead_numpy),
        correct("per stage, a whole float", overhead_per_stage),
        correct("a tensor", lambda stages, r: torch.tensor([2 * n * c * max(1, c // r) for n, c in stages]).sum()),
        wrong("one matrix per block", lambda stages, r: sum(n * c * max(1, c // r) for n, c in stages), "half the answer"),
        wrong("one block per stage", lambda stages, r: sum(2 * c * max(1, c // r) for n, c in stages), "one SE block per stage"),
        wrong("pair read as (C, N)", lambda stages, r: sum(n * 2 * c * max(1, c // r) for c, n in stages),
              "mixed up the pair"),
        wrong("C / r", lambda stages, r: sum(2 * n * c * c / r for n, c in stages), "C / r"),
        wrong("biases counted", lambda stages, r: sum(n * (2 * c * max(1, c // r) + c) for n, c in stages), "biases"),
        wrong("C // r = 0", lambda stages, r: sum(2 * n * c * (c // r) for n, c in stages), "at least one hidden unit"),
        wrong("ceil", lambda stages, r: sum(2 * n * c * max(1, -(-c // r)) for n, c in stages), "rounded C / r up"),
        wrong("last stage left out", lambda stages, r: sum(2 * n * c * max(1, c // r) for n, c in stages[:-1]),
              "left out a stage"),
        malformed("None", lambda stages, r: None, "forget the return"),
        malformed("str", lambda stages, r: f"{overhead_comprehension(stages, r):,}", "not text"),
        malformed("list", lambda stages, r: [2 * n * c * max(1, c // r) for n, c in stages], "one number"),
        malformed("NaN", lambda stages, r: float("nan"), "NaN"),
        malformed("dtype", lambda stages, r: overhead_comprehension(stages, r) > 0, "bool"),
        malformed("shape", lambda stages, r: torch.tensor([2 * n * c * max(1, c // r) for n, c in stages]), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_fc_as_conv": [
        correct("copy_ under no_grad (the solution)", conv_solution),
        correct("load_state_dict", conv_state_dict),
        correct("new Parameters", conv_parameters),
        correct("the library's linear_as_conv1x1", linear_as_conv1x1),
        wrong("weight transposed", conv_transposed, "no transpose"),
        wrong("weights not copied", conv_no_copy, "not the linear layer's"),
        wrong("a bias where the linear layer has none", conv_bias_always, "no bias, but your convolution adds one"),
        wrong("bias not copied", conv_bias_not_copied, "the bias is not"),
        wrong("channels swapped", conv_swapped_channels, "in_channels is linear.in_features"),
        wrong("3x3 kernel", lambda linear: nn.Conv2d(linear.in_features, linear.out_features, 3, padding=1),
              "kernel_size (3, 3)"),
        wrong("returns the linear layer", lambda linear: linear, "returned a Linear layer"),
        wrong("padding", lambda linear: nn.Conv2d(linear.in_features, linear.out_features, 1, padding=1), "padding"),
        malformed("None", lambda linear: None, "forget the return"),
        malformed("str", lambda linear: "Conv2d", "expected an nn.Conv2d"),
        malformed("list", lambda linear: [conv_solution(linear)], "expected an nn.Conv2d"),
        malformed("NaN", conv_nan, "NaN"),
        malformed("dtype", lambda linear: conv_solution(linear).double(), "torch.float64"),
        malformed("shape", lambda linear: nn.Conv2d(linear.in_features, linear.out_features + 1, 1), "channels"),
        malformed("raises", raises, "ValueError"),
    ],
}
