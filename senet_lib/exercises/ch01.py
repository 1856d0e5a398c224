"""Checkers for chapter 1, the SE block in a few lines."""

from __future__ import annotations

from typing import Callable

import torch

from ..block import SEBlock
from ._core import Hint, call, checker, expect_close, expect_shape

__all__ = ["check_se_forward", "check_se_param_count"]


def _reference(x, w1, w2, b2):
    z = x.mean(dim=(2, 3))
    s = torch.sigmoid(torch.relu(z @ w1.T) @ w2.T + b2)
    return x * s[:, :, None, None], s


@checker("SE forward pass from its weights")
def check_se_forward(fn: Callable[..., torch.Tensor]) -> str:
    """``fn(x, w1, w2, b2)`` must return the SE block's output for ``x (N, C, H, W)``,
    with ``w1 (C//r, C)``, ``w2 (C, C//r)`` and ``b2 (C,)``."""
    g = torch.Generator().manual_seed(1)
    for n, c, hidden, h, w in [(2, 8, 2, 5, 7), (1, 16, 4, 3, 3), (3, 32, 2, 6, 4)]:
        x = torch.randn(n, c, h, w, generator=g) + 0.5
        w1 = torch.randn(hidden, c, generator=g)
        w2 = torch.randn(c, hidden, generator=g)
        b2 = torch.randn(c, generator=g)
        expected, s = _reference(x, w1, w2, b2)
        out = expect_shape(call(fn, x, w1, w2, b2), x.shape, "your output",
                           "The block returns a tensor shaped like its input: x times the gates.")
        if torch.allclose(out, s[:, :, None, None].expand_as(x), atol=1e-5):
            raise Hint("you returned the gates broadcast to x's shape: multiply them with x.")
        z_max = x.amax(dim=(2, 3))
        s_max = torch.sigmoid(torch.relu(z_max @ w1.T) @ w2.T + b2)
        if torch.allclose(out, x * s_max[:, :, None, None], atol=1e-5):
            raise Hint("you squeezed with the maximum: SE averages each channel over H and W.")
        s_norelu = torch.sigmoid((x.mean(dim=(2, 3)) @ w1.T) @ w2.T + b2)
        if torch.allclose(out, x * s_norelu[:, :, None, None], atol=1e-5):
            raise Hint("the ReLU between the two linear layers is missing.")
        s_soft = torch.softmax(torch.relu(x.mean(dim=(2, 3)) @ w1.T) @ w2.T + b2, dim=1)
        if torch.allclose(out, x * s_soft[:, :, None, None], atol=1e-5):
            raise Hint("your gates sum to 1 across channels: did you use softmax? SE uses a sigmoid.")
        expect_close(out, expected, "your output", atol=1e-4,
                     hint="Check the order: mean over (H, W), W1, ReLU, W2 + b2, sigmoid, times x.")
    return "matches the SE block on 3 hidden inputs."


@checker("Parameters of an SE block")
def check_se_param_count(fn: Callable[[int, int], int]) -> str:
    """``fn(channels, reduction)`` must return the number of parameters of ``SEBlock(channels, reduction)``."""
    for c, r in [(64, 16), (256, 16), (2048, 16), (96, 8), (3, 16), (10, 4)]:
        expected = sum(p.numel() for p in SEBlock(c, r).parameters())
        got = call(fn, c, r)
        if isinstance(got, torch.Tensor):
            got = got.item()
        if got == expected:
            continue
        hidden = max(1, c // r)
        if c < r and got == 2 * 0 * c + c:
            raise Hint(f"for C={c}, r={r} you used C // r = 0 hidden units; the block keeps at least 1.")
        if got == 2 * hidden * c:
            raise Hint(f"for C={c}, r={r} you counted the two weight matrices but not fc2's bias ({c} values).")
        if got == 2 * hidden * c + c + hidden:
            raise Hint("fc1 has no bias in this block: only fc2 has one.")
        raise Hint(f"for C={c}, r={r} you said {got}, but the block has {expected} parameters.")
    return "right for 6 hidden (channels, reduction) pairs, including C < r."
