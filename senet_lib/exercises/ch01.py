"""Checkers for chapter 1, the SE block in a few lines."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..block import SEBlock
from ._core import (
    Hint,
    _LearnerRaised,
    as_count,
    as_number,
    call,
    checker,
    close,
    expect_close,
    expect_dtype,
    expect_shape,
    same_number,
)

__all__ = ["check_se_forward", "check_se_param_count"]


def _gates(z: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor, *, relu: bool = True,
           bias: bool = True, final: str = "sigmoid") -> torch.Tensor:
    h = z @ w1.T
    h = torch.relu(h) if relu else h
    logits = h @ w2.T + (b2 if bias else 0)
    return {"sigmoid": torch.sigmoid, "softmax": lambda t: torch.softmax(t, dim=1), "tanh": torch.tanh,
            "none": lambda t: t}[final](logits)


_BROADCAST = ("s has shape (N, C); PyTorch lines shapes up from the right, so x * s pairs s with "
              "(H, W), not (N, C). Give the gates two trailing axes, s[:, :, None, None] (or "
              "s.view(N, C, 1, 1)), so that each one multiplies a whole channel.")


@checker("SE forward pass from its weights")
def check_se_forward(fn: Callable[..., torch.Tensor]) -> str:
    """``fn(x, w1, w2, b2)`` must return the SE block's output ``x * s`` for ``x (N, C, H, W)``,
    with ``w1 (C//r, C)``, ``w2 (C, C//r)`` and ``b2 (C,)``: ``z`` the mean of ``x`` over
    ``(H, W)``, ``s = sigmoid(relu(z @ w1.T) @ w2.T + b2)``, shape and dtype of ``x``.

    Hidden cases: a batch of one whose width equals C (there ``x * s`` runs without error but
    scales columns), a bottleneck of one unit, batches of 2 and 3, H != W.
    """
    g = torch.Generator().manual_seed(1)
    cases = [(1, 6, 3, 5, 6), (2, 8, 2, 5, 7), (1, 16, 4, 3, 3), (3, 32, 2, 6, 4), (2, 5, 1, 4, 6)]
    for n, c, hidden, h, w in cases:
        x = torch.randn(n, c, h, w, generator=g) + 0.5
        w1 = torch.randn(hidden, c, generator=g)
        w2 = torch.randn(c, hidden, generator=g)
        b2 = torch.randn(c, generator=g)
        z = x.mean(dim=(2, 3))
        s = _gates(z, w1, w2, b2)
        expected = x * s[:, :, None, None]
        try:
            out = call(fn, x, w1, w2, b2)
        except _LearnerRaised as e:
            if "must match the size of tensor" in str(e.exc):
                raise Hint(f"for x of shape {tuple(x.shape)} your function failed with "
                           f"'{e.exc}'. " + _BROADCAST) from None
            raise
        if close(out, s) or close(out, s[:, :, None, None]):
            raise Hint("you returned the gates s: the block's output is x multiplied by them.")
        if n == 1 and w == c and close(out, x * s[:, None, None, :]):
            raise Hint(f"for x of shape {tuple(x.shape)} (width {w} = C) your gates multiplied the "
                       "columns of each channel, not the channels: " + _BROADCAST)
        out = expect_shape(out, x.shape, "your output",
                           "The block returns a tensor shaped like its input: x times the gates.")
        if close(out, expected):
            expect_dtype(out, x.dtype, "your output", "x")
            continue
        if close(out, s[:, :, None, None].expand_as(x)):
            raise Hint("you returned the gates broadcast to x's shape: multiply them with x.")
        if close(out, x * _gates(x.amax(dim=(2, 3)), w1, w2, b2)[:, :, None, None]):
            raise Hint("you squeezed with the maximum: SE averages each channel over H and W.")
        if close(out, x * _gates(x.sum(dim=(2, 3)), w1, w2, b2)[:, :, None, None]):
            raise Hint("you squeezed with the sum: divide by H * W, SE averages each channel.")
        if close(out, x * _gates(z, w1, w2, b2, relu=False)[:, :, None, None]):
            raise Hint("the ReLU between the two linear layers is missing.")
        if close(out, x * _gates(z, w1, w2, b2, final="softmax")[:, :, None, None]):
            raise Hint("your gates sum to 1 across channels: did you use softmax? SE uses a sigmoid.")
        if close(out, x * _gates(z, w1, w2, b2, final="tanh")[:, :, None, None]):
            raise Hint("you used tanh: its gates lie in (-1, 1) and can flip a channel's sign; SE "
                       "uses the sigmoid, with gates in (0, 1).")
        if close(out, x * _gates(z, w1, w2, b2, final="none")[:, :, None, None]):
            raise Hint("the sigmoid is missing: you scaled x by the raw logits.")
        if close(out, x * _gates(z, w1, w2, b2, bias=False)[:, :, None, None]):
            raise Hint("you left out the bias b2 of the second layer (added before the sigmoid).")
        if close(out, x + s[:, :, None, None]):
            raise Hint("you added the gates to x: the scale step multiplies each channel by its gate.")
        if close(out, x + expected):
            raise Hint("you added x to the scaled map: the residual connection belongs to the "
                       "network around the block, not to the SE block.")
        expect_close(out, expected, "your output",
                     hint="Check the order: mean over (H, W), W1, ReLU, W2 + b2, sigmoid, times x.")
    return f"matches the SE block on {len(cases)} hidden inputs, including a one-unit bottleneck."


@checker("Parameters of an SE block")
def check_se_param_count(fn: Callable[[int, int], int]) -> str:
    """``fn(channels, reduction)`` must return the number of parameters of
    ``SEBlock(channels, reduction)``: ``fc1`` (``h x C``, no bias), ``fc2`` (``C x h`` and a bias
    of ``C``), ``h = max(1, C // r)``; includes ``C < r`` and ``r`` not dividing ``C``."""
    cases = [(64, 16), (256, 16), (2048, 16), (96, 8), (3, 16), (10, 4), (20, 8)]
    for c, r in cases:
        expected = sum(p.numel() for p in SEBlock(c, r).parameters())
        got = as_number(call(fn, c, r), "your count")
        case = f"for C={c}, r={r}"
        if got == expected:
            continue
        hidden = max(1, c // r)
        if c % r and any(same_number(got, 2 * c * h + c) for h in (c / r, max(1.0, c / r))):
            raise Hint(f"{case} you said {got:g}: you used C / r = {c / r:g} hidden units, but a layer "
                       f"has a whole number of units, max(1, C // r) = {hidden}.")
        got = as_count(got, "your count")
        if c < r and got == c:
            raise Hint(f"{case} you used C // r = 0 hidden units; the block keeps at least 1, max(1, C // r).")
        if got == 2 * hidden * c:
            raise Hint(f"{case} you counted the two weight matrices but not fc2's bias ({c} values).")
        if got == 2 * hidden * c + c + hidden:
            raise Hint(f"{case}: fc1 has no bias in this block: only fc2 has one.")
        if got == 2 * hidden * c + 2 * c:
            raise Hint(f"{case} you counted fc2's bias twice (or gave fc1 a bias of C): the block has "
                       f"one bias, fc2's, of C = {c} values.")
        if c % r and got == 2 * -(-c // r) * c + c:
            raise Hint(f"{case} you rounded C / r up: the hidden width rounds down, max(1, C // r) = {hidden}.")
        if got == hidden * c + c or got == hidden * c:
            raise Hint(f"{case} you counted one weight matrix: there are two, fc1 (C -> h) and fc2 (h -> C).")
        if got == 2 * c * r * c + c:
            raise Hint(f"{case} you multiplied by r: the bottleneck has C // r hidden units, fewer than C.")
        raise Hint(f"{case} you said {got}, but the block has {expected} parameters.")
    return f"right for {len(cases)} hidden (channels, reduction) pairs, including C < r and r not dividing C."
