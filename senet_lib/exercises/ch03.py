"""Checkers for chapter 3, the excitation: the bottleneck MLP and its gates."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..cost import RESNET50_STAGES, analytic_se_params
from ._core import (
    Hint,
    _LearnerRaised,
    as_count,
    as_number,
    as_tensor,
    call,
    checker,
    close,
    describe,
    expect_close,
    expect_shape,
    same_number,
)

__all__ = ["check_excitation", "check_se_overhead", "check_fc_as_conv"]


@checker("Excitation from its weights")
def check_excitation(fn: Callable[..., torch.Tensor]) -> str:
    """``fn(z, w1, w2, b2)`` must return ``sigmoid(relu(z @ w1.T) @ w2.T + b2)``, shape ``(N, C)``,
    for ``z (N, C)``, ``w1 (C//r, C)``, ``w2 (C, C//r)``, ``b2 (C,)``. Hidden cases include a
    single descriptor (N = 1) and a one-unit bottleneck."""
    g = torch.Generator().manual_seed(3)
    shapes = [(4, 8, 2), (2, 16, 4), (3, 32, 2), (1, 6, 3), (3, 5, 1)]
    for n, c, hidden in shapes:
        z = torch.rand(n, c, generator=g) * 2
        w1 = torch.randn(hidden, c, generator=g)
        w2 = torch.randn(c, hidden, generator=g) * 1.5
        b2 = torch.randn(c, generator=g)
        h = torch.relu(z @ w1.T)
        logits = h @ w2.T + b2
        out = call(fn, z, w1, w2, b2)
        if isinstance(out, torch.Tensor) and out.dim() == 4 and tuple(out.shape[:2]) == (n, c):
            out = as_tensor(out, "your gates")
            if close(out.flatten(1), torch.sigmoid(logits)):
                raise Hint("your gates have shape (N, C, 1, 1): the excitation returns the (N, C) "
                           "gates; the reshape for broadcasting belongs to the scale step.")
        out = expect_shape(out, (n, c), "your gates",
                           "One gate per channel: (N, C). W1 maps C -> C/r, W2 maps C/r -> C.")
        if close(out, torch.sigmoid(logits)):
            continue
        if close(out, torch.softmax(logits, dim=1)) or close(out, torch.softmax(logits, dim=0)):
            raise Hint("your gates sum to 1: did you use softmax? SE gates are independent "
                       "sigmoids, so several channels can be fully on at once.")
        if close(out, logits):
            raise Hint("your gates are the raw logits (some negative or above 1): apply the sigmoid.")
        if close(out, torch.tanh(logits)):
            raise Hint("you used tanh: its gates lie in (-1, 1), so they can flip a channel's "
                       "sign. SE uses the sigmoid, with gates in (0, 1).")
        if close(out, torch.relu(logits)):
            raise Hint("you used ReLU as the gate: it is unbounded and exactly 0 for negative "
                       "logits. The final activation is the sigmoid.")
        if close(out, torch.nn.functional.hardsigmoid(logits)):
            raise Hint("you used the hard sigmoid, a piecewise-linear approximation: SE's gate is "
                       "the sigmoid, 1 / (1 + exp(-t)).")
        if close(out, torch.sigmoid((z @ w1.T) @ w2.T + b2)):
            raise Hint("the ReLU between the two linear layers is missing.")
        if close(out, torch.sigmoid(h @ w2.T)):
            raise Hint("you left out the bias b2 of the second layer.")
        if close(out, torch.relu(torch.sigmoid(z @ w1.T) @ w2.T + b2)):
            raise Hint("the activations are swapped: ReLU goes between the layers, sigmoid at the end.")
        if close(out, 1 - torch.sigmoid(logits)):
            raise Hint("you returned 1 - sigmoid: the gate is sigmoid(t) itself, near 1 for large t.")
        expect_close(out, torch.sigmoid(logits), "your gates",
                     hint="Order: z @ W1.T, ReLU, @ W2.T, + b2, sigmoid.")
    return f"matches sigmoid(W2 ReLU(W1 z) + b2) on {len(shapes)} hidden cases, including N = 1 and h = 1."


def _params(stages: Sequence[tuple[int, int]], r: int, bias1: bool = False, bias2: bool = False) -> int:
    return analytic_se_params(stages, r, bias1=bias1, bias2=bias2).total


@checker("Parameters SE adds to a network")
def check_se_overhead(fn: Callable[[Sequence[tuple[int, int]], int], int]) -> str:
    """``fn(stages, r)`` must return the weights (no biases) that SE blocks add to a network
    whose stage ``s`` has ``N_s`` blocks of width ``C_s`` (``stages`` lists ``(N_s, C_s)``);
    each SE block has ``max(1, C_s // r)`` hidden units. Hidden cases include widths that
    ``r`` does not divide and widths below ``r``."""
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
        got = as_number(call(fn, [tuple(s) for s in stages], r), "your count")
        if got == expected:
            continue
        case = f"for {stages}, r={r}"
        hid = [max(1, c // r) for _, c in stages]
        if any(same_number(got, v) for v in (sum(2 * n * c * c / r for n, c in stages),
                                              sum(2 * n * c * max(1, c / r) for n, c in stages))):
            raise Hint(f"{case} you said {got:g}: you used C / r, but a layer has a whole "
                       "number of units, max(1, C // r). The two differ when r does not divide C.")
        got = as_count(got, "your count")
        if got == sum(n * c * h for (n, c), h in zip(stages, hid, strict=True)):
            raise Hint(f"{case} you said {got}, half the answer: each SE block has two "
                       "weight matrices, C x C/r and C/r x C.")
        if got == sum(2 * c * h for (_, c), h in zip(stages, hid, strict=True)):
            raise Hint(f"{case} you counted one SE block per stage: stage s has N_s "
                       "blocks, each with its own SE block.")
        if got == sum(2 * c * n * max(1, n // r) for n, c in stages):  # read as (C_s, N_s)
            raise Hint(f"{case} you mixed up the pair: each entry is (N_s, C_s), "
                       "the number of blocks first, then their width.")
        if got in (_params(stages, r, bias2=True), _params(stages, r, bias1=True, bias2=True),
                   _params(stages, r, bias1=True)):
            raise Hint(f"{case} you counted biases: this table counts weights only.")
        if got == sum(2 * n * c * (c // r) for n, c in stages):
            raise Hint(f"{case}: a width below r gives C // r = 0, but an SE block "
                       "keeps at least one hidden unit (max(1, C // r)).")
        if got == sum(2 * n * c * max(1, -(-c // r)) for n, c in stages):
            raise Hint(f"{case}: you rounded C / r up; the hidden width rounds down, max(1, C // r).")
        if got == stages[-1][0] * 2 * stages[-1][1] * hid[-1] or got == sum(
                2 * n * c * h for (n, c), h in zip(stages[:-1], hid[:-1], strict=True)):
            raise Hint(f"{case} you left out a stage: sum over every (N_s, C_s) pair.")
        raise Hint(f"{case} you said {got!r}, but SE adds {expected} weights.")
    return (f"right for {len(cases)} hidden networks, including ResNet-50 at r=16 "
            f"({_params(resnet50, 16):,} weights).")


@checker("A fully connected layer as a 1x1 convolution")
def check_fc_as_conv(fn: Callable[[nn.Linear], nn.Module]) -> str:
    """``fn(linear)`` must return an ``nn.Conv2d`` with a 1x1 kernel that maps
    ``z[:, :, None, None]`` to ``linear(z)[:, :, None, None]`` for any ``z (N, C_in)``.
    Hidden layers: square, reducing, expanding; with and without bias."""
    g = torch.Generator().manual_seed(4)
    for c_in, c_out, bias in [(16, 4, True), (6, 6, True), (4, 16, False), (5, 5, False)]:
        with torch.random.fork_rng():  # leave the learner's global RNG state alone
            linear = nn.Linear(c_in, c_out, bias=bias)
        with torch.no_grad():  # weights from our own generator
            linear.weight.copy_(torch.randn(c_out, c_in, generator=g) / c_in ** 0.5)
            if bias:
                linear.bias.copy_(torch.rand(c_out, generator=g) + 0.5)
        z = torch.randn(5, c_in, generator=g)
        with torch.random.fork_rng():  # building a Conv2d draws random numbers: keep them local
            try:
                conv = call(fn, linear)
            except _LearnerRaised as e:
                if "must match the size of tensor" in str(e.exc) or "size mismatch" in str(e.exc):
                    raise Hint(f"for nn.Linear({c_in}, {c_out}) copying the weights failed ({e.exc}). "
                               "Conv2d's weight is (C_out, C_in, 1, 1), the order of Linear's "
                               "(C_out, C_in) weight: no transpose, only two axes added, "
                               "linear.weight[:, :, None, None].") from None
                raise
        if isinstance(conv, nn.Linear):
            raise Hint("you returned a Linear layer: build an nn.Conv2d(C_in, C_out, kernel_size=1).")
        if not isinstance(conv, nn.Conv2d):
            raise Hint(f"your function returned {describe(conv)}; expected an nn.Conv2d"
                       + (" (the layer itself, not a container or its weights)." if conv is not None
                          else ": did you forget the return statement?"))
        if tuple(conv.kernel_size) != (1, 1):
            raise Hint(f"your convolution has kernel_size {tuple(conv.kernel_size)}: it must be 1x1, "
                       "so that it mixes channels at each position and nothing else.")
        if (conv.in_channels, conv.out_channels) == (c_out, c_in) and c_in != c_out:
            raise Hint(f"your convolution maps {conv.in_channels} -> {conv.out_channels} channels, but the "
                       f"linear layer maps {c_in} -> {c_out}: in_channels is linear.in_features.")
        if (conv.in_channels, conv.out_channels) != (c_in, c_out):
            raise Hint(f"your convolution maps {conv.in_channels} -> {conv.out_channels} channels; it should "
                       f"map in_channels={c_in} -> out_channels={c_out}, as the linear layer does.")
        if conv.groups != 1:
            raise Hint(f"your convolution has groups={conv.groups}: a linear layer connects every input "
                       "to every output, groups=1.")
        padded = conv.padding != "valid" if isinstance(conv.padding, str) else tuple(conv.padding) != (0, 0)
        if padded:
            raise Hint(f"your convolution has padding {conv.padding}: a 1x1 convolution needs none "
                       "(padding=0), or a (N, C, 1, 1) input grows.")
        if conv.weight.is_meta:
            raise Hint("your convolution's weights are on the meta device: they have no values.")
        if conv.weight.dtype != linear.weight.dtype:
            raise Hint(f"your convolution's weights are {conv.weight.dtype}, the linear layer's "
                       f"{linear.weight.dtype}: keep the dtype (the layer's inputs are float32).")
        with torch.no_grad():
            try:
                out = call(conv, z[:, :, None, None])
            except _LearnerRaised as e:
                raise Hint(f"your convolution fails on a (N, {c_in}, 1, 1) input "
                           f"({type(e.exc).__name__}: {e.exc}).") from None
            expected = linear(z)[:, :, None, None]
            out = expect_shape(out, expected.shape, "your convolution's output")
            if close(out, expected):
                continue
            weight = as_tensor(conv.weight, "your convolution's weight").reshape(c_out, c_in)
            if c_in == c_out and close(weight, linear.weight.T):
                raise Hint("you transposed the weight: Linear stores (C_out, C_in), exactly the "
                           "order Conv2d's (C_out, C_in, 1, 1) weight uses; only add two axes.")
            if not close(weight, linear.weight):
                if torch.isnan(weight).any():
                    raise Hint("your convolution's weights contain NaN: copy linear.weight into them.")
                raise Hint("your convolution's weights are not the linear layer's: copy them "
                           "(conv.weight.copy_(linear.weight[:, :, None, None]) under torch.no_grad()); "
                           "a new layer starts with random weights.")
            if bias and conv.bias is None:
                raise Hint("your convolution has no bias, but the linear layer has one: create it "
                           "with bias=(linear.bias is not None) and copy linear.bias into it.")
            if not bias and conv.bias is not None:
                raise Hint("this linear layer has no bias, but your convolution adds one: "
                           "create it with bias=(linear.bias is not None).")
            if bias:
                raise Hint("the weights are right but the bias is not: copy linear.bias into "
                           "the convolution's bias.")
            expect_close(out, expected, "your convolution's output",
                         hint="Copy linear.weight[:, :, None, None] into conv.weight and the bias as is.")
    return "reproduces 4 hidden linear layers (square, reducing, expanding; with and without bias)."
