"""Checkers for chapter 3, the excitation: the bottleneck MLP and its gates."""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from ..cost import RESNET50_STAGES, analytic_se_params
from ._core import Hint, call, checker, expect_close, expect_shape

__all__ = ["check_excitation", "check_se_overhead", "check_fc_as_conv"]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-5)


@checker("Excitation from its weights")
def check_excitation(fn: Callable[..., torch.Tensor]) -> str:
    """``fn(z, w1, w2, b2)`` must return ``sigmoid(relu(z @ w1.T) @ w2.T + b2)``, shape ``(N, C)``,
    for ``z (N, C)``, ``w1 (C//r, C)``, ``w2 (C, C//r)``, ``b2 (C,)``."""
    g = torch.Generator().manual_seed(3)
    shapes = [(4, 8, 2), (2, 16, 4), (3, 32, 2)]
    for n, c, hidden in shapes:
        z = torch.rand(n, c, generator=g) * 2
        w1 = torch.randn(hidden, c, generator=g)
        w2 = torch.randn(c, hidden, generator=g) * 1.5
        b2 = torch.randn(c, generator=g)
        h = torch.relu(z @ w1.T)
        logits = h @ w2.T + b2
        out = expect_shape(call(fn, z, w1, w2, b2), (n, c), "your gates",
                           "One gate per channel: (N, C). W1 maps C -> C/r, W2 maps C/r -> C.")
        if _close(out, torch.sigmoid(logits)):
            continue
        if _close(out, torch.softmax(logits, dim=1)) or _close(out, torch.softmax(logits, dim=0)):
            raise Hint("your gates sum to 1: did you use softmax? SE gates are independent "
                       "sigmoids, so several channels can be fully on at once.")
        if _close(out, logits):
            raise Hint("your gates are the raw logits (some negative or above 1): apply the sigmoid.")
        if _close(out, torch.tanh(logits)):
            raise Hint("you used tanh: its gates lie in (-1, 1), so they can flip a channel's "
                       "sign. SE uses the sigmoid, with gates in (0, 1).")
        if _close(out, torch.relu(logits)):
            raise Hint("you used ReLU as the gate: it is unbounded and exactly 0 for negative "
                       "logits. The final activation is the sigmoid.")
        if _close(out, torch.sigmoid((z @ w1.T) @ w2.T + b2)):
            raise Hint("the ReLU between the two linear layers is missing.")
        if _close(out, torch.sigmoid(h @ w2.T)):
            raise Hint("you left out the bias b2 of the second layer.")
        if _close(out, torch.relu(torch.sigmoid(z @ w1.T) @ w2.T + b2)):
            raise Hint("the activations are swapped: ReLU goes between the layers, sigmoid at the end.")
        expect_close(out, torch.sigmoid(logits), "your gates",
                     hint="Order: z @ W1.T, ReLU, @ W2.T, + b2, sigmoid.")
    return f"matches sigmoid(W2 ReLU(W1 z) + b2) on {len(shapes)} hidden cases."


def _params(stages: Sequence[tuple[int, int]], r: int, bias1: bool = False, bias2: bool = False) -> int:
    return analytic_se_params(stages, r, bias1=bias1, bias2=bias2).total


@checker("Parameters SE adds to a network")
def check_se_overhead(fn: Callable[[Sequence[tuple[int, int]], int], int]) -> str:
    """``fn(stages, r)`` must return the weights (no biases) that SE blocks add to a network
    whose stage ``s`` has ``N_s`` blocks of width ``C_s`` (``stages`` lists ``(N_s, C_s)``);
    each SE block has ``max(1, C_s // r)`` hidden units."""
    resnet50 = [(s.blocks, s.channels) for s in RESNET50_STAGES]
    cases = [
        (resnet50, 16),
        ([(2, 64), (2, 128)], 4),
        ([(2, 100), (1, 30)], 16),
        ([(3, 8), (1, 256)], 16),
        (resnet50, 8),
    ]
    for stages, r in cases:
        expected = _params(stages, r)
        got = call(fn, list(stages), r)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, (int, float)) and got == expected:
            continue
        hid = [max(1, c // r) for _, c in stages]
        one_matrix = sum(n * c * h for (n, c), h in zip(stages, hid))
        if got == one_matrix:
            raise Hint(f"for {stages}, r={r} you said {got}, half the answer: each SE block has two "
                       "weight matrices, C x C/r and C/r x C.")
        if got == sum(2 * c * h for (_, c), h in zip(stages, hid)):
            raise Hint(f"for {stages}, r={r} you counted one SE block per stage: stage s has N_s "
                       "blocks, each with its own SE block.")
        if got == sum(2 * c * n * max(1, n // r) for n, c in stages):  # read as (C_s, N_s)
            raise Hint(f"for {stages}, r={r} you mixed up the pair: each entry is (N_s, C_s), "
                       "the number of blocks first, then their width.")
        if isinstance(got, (int, float)) and abs(got - sum(2 * n * c * c / r for n, c in stages)) < 1e-6:
            raise Hint(f"for {stages}, r={r} you said {got}: you used C / r, but a layer has a whole "
                       "number of units, max(1, C // r). The two differ when r does not divide C.")
        if got in (_params(stages, r, bias2=True), _params(stages, r, bias1=True, bias2=True)):
            raise Hint(f"for {stages}, r={r} you counted biases: this table counts weights only.")
        if got == sum(2 * n * c * (c // r) for n, c in stages):
            raise Hint(f"for {stages}, r={r}: a width below r gives C // r = 0, but an SE block "
                       "keeps at least one hidden unit (max(1, C // r)).")
        raise Hint(f"for {stages}, r={r} you said {got!r}, but SE adds {expected} weights.")
    return (f"right for {len(cases)} hidden networks, including ResNet-50 at r=16 "
            f"({_params(resnet50, 16):,} weights).")


@checker("A fully connected layer as a 1x1 convolution")
def check_fc_as_conv(fn: Callable[[nn.Linear], nn.Module]) -> str:
    """``fn(linear)`` must return an ``nn.Conv2d`` with a 1x1 kernel that maps
    ``z[:, :, None, None]`` to ``linear(z)[:, :, None, None]`` for any ``z (N, C_in)``."""
    g = torch.Generator().manual_seed(4)
    for c_in, c_out, bias in [(6, 6, True), (16, 4, True), (4, 16, False)]:
        with torch.random.fork_rng():  # leave the learner's global RNG state alone
            linear = nn.Linear(c_in, c_out, bias=bias)
        with torch.no_grad():  # weights from our own generator
            linear.weight.copy_(torch.randn(c_out, c_in, generator=g) / c_in ** 0.5)
            if bias:
                linear.bias.copy_(torch.rand(c_out, generator=g) + 0.5)
        z = torch.randn(5, c_in, generator=g)
        with torch.random.fork_rng():  # building a Conv2d draws random numbers: keep them local
            conv = call(fn, linear)
        if isinstance(conv, nn.Linear):
            raise Hint("you returned a Linear layer: build an nn.Conv2d(C_in, C_out, kernel_size=1).")
        if not isinstance(conv, nn.Conv2d):
            raise Hint(f"your function returned a {type(conv).__name__}; expected an nn.Conv2d.")
        if tuple(conv.kernel_size) != (1, 1):
            raise Hint(f"your convolution has kernel_size {tuple(conv.kernel_size)}: it must be 1x1, "
                       "so that it mixes channels at each position and nothing else.")
        with torch.no_grad():
            try:
                out = conv(z[:, :, None, None])
            except RuntimeError as e:
                raise Hint(f"your convolution fails on a (N, {c_in}, 1, 1) input ({e}); it should have "
                           f"in_channels={c_in} and out_channels={c_out}.") from None
            expected = linear(z)[:, :, None, None]
            out = expect_shape(out, expected.shape, "your convolution's output")
            if _close(out, expected):
                continue
            if c_in == c_out and _close(out, (z @ linear.weight + (linear.bias if bias else 0))[:, :, None, None]):
                raise Hint("you transposed the weight: Linear stores (C_out, C_in), exactly the "
                           "order Conv2d's (C_out, C_in, 1, 1) weight uses; only add two axes.")
            rest = (out - (z @ linear.weight.T)[:, :, None, None])[:, :, 0, 0]  # what the bias adds
            if not _close(rest, (linear.bias if bias else torch.zeros(c_out)).expand_as(rest)) and \
                    _close(rest, rest[:1].expand_as(rest)):
                if bias:
                    raise Hint("the weights are right but the bias is not: copy linear.bias into "
                               "the convolution's bias.")
                raise Hint("this linear layer has no bias, but your convolution adds one: "
                           "create it with bias=(linear.bias is not None).")
            expect_close(out, expected, "your convolution's output",
                         hint="Copy linear.weight[:, :, None, None] into conv.weight and the bias as is.")
    return "reproduces 3 hidden linear layers (square, reducing, expanding; with and without bias)."
