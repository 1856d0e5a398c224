"""Checkers for chapter 4, the scale: broadcasting gates and composing the block."""

from __future__ import annotations

from typing import Callable

import torch

from ..block import SEBlock
from ._core import Hint, _LearnerRaised, call, checker, expect_close, expect_shape

__all__ = ["check_scale", "check_input_dependence", "check_se_compose"]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-5)


_BROADCAST_HINT = (
    "the gates were not broadcast over H and W. s has shape (N, C); PyTorch aligns shapes from "
    "the right, so x * s lines s up with (H, W), not (N, C). Reshape s to (N, C, 1, 1), e.g. "
    "s[:, :, None, None]."
)


@checker("Scale: broadcasting the gates")
def check_scale(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """``fn(x, s)`` must return ``x`` with channel ``c`` of image ``n`` multiplied by
    ``s[n, c]``, for ``x (N, C, H, W)`` and ``s (N, C)``."""
    g = torch.Generator().manual_seed(5)
    # The first case has N == 1 and W == C: there, x * s runs without error but
    # multiplies columns instead of channels, the silent form of the bug.
    shapes = [(1, 4, 3, 4), (2, 3, 5, 6), (3, 8, 4, 4), (2, 16, 2, 7)]
    for n, c, h, w in shapes:
        x = torch.rand(n, c, h, w, generator=g) + 0.5
        s = torch.rand(n, c, generator=g) * 0.9 + 0.05
        try:
            out = call(fn, x, s)
        except _LearnerRaised as e:
            if isinstance(e.exc, RuntimeError) and "size of tensor" in str(e.exc):
                raise Hint(f"your function failed for x {tuple(x.shape)} and s {tuple(s.shape)}: "
                           + _BROADCAST_HINT) from None
            raise
        if isinstance(out, torch.Tensor) and out.shape == x.shape and n == 1 and _close(
                out, x * s[:, None, None, :]):
            raise Hint(f"for x {tuple(x.shape)} and s {tuple(s.shape)} your function multiplied "
                       "the image's columns, not its channels: " + _BROADCAST_HINT)
        out = expect_shape(out, x.shape, "your output",
                           "Scaling keeps the feature map's shape: only the channels' sizes change.")
        ref = x * s[:, :, None, None]
        if _close(out, ref):
            continue
        if _close(out, s[:, :, None, None].expand_as(x)):
            raise Hint("you returned the gates broadcast to x's shape: multiply them with x.")
        if _close(out, x + s[:, :, None, None]):
            raise Hint("you added the gates: the scale step multiplies each channel by its gate.")
        if _close(out, x / s[:, :, None, None]):
            raise Hint("you divided by the gates: multiply, so that a gate near 0 suppresses a channel.")
        if _close(out, x * (1 - s[:, :, None, None])):
            raise Hint("you multiplied by 1 - s: a gate of 1 should keep the channel unchanged.")
        if _close(out, x * s.mean(dim=0)[None, :, None, None]):
            raise Hint("you averaged the gates over the batch: each image has its own gates.")
        expect_close(out, ref, "your output", hint="y[n, c, i, j] = s[n, c] * x[n, c, i, j].")
    return f"right for {len(shapes)} hidden shapes, including one where a missing broadcast hides."


@checker("How input-dependent are the gates?")
def check_input_dependence(fn: Callable[[torch.Tensor], float]) -> str:
    """``fn(gates)`` for ``gates (N, C)`` must return the population standard deviation over
    the ``N`` images of each channel's gate, averaged over the ``C`` channels (one float)."""
    g = torch.Generator().manual_seed(6)
    cases = [torch.sigmoid(torch.randn(n, c, generator=g) * k + torch.randn(c, generator=g) * 2)
             for n, c, k in [(6, 10, 1.0), (20, 32, 0.3), (3, 64, 2.0)]]
    cases.append(torch.full((5, 8), 0.5))  # every image gets the same gates: the answer is 0
    for gates in cases:
        expected = gates.std(dim=0, correction=0).mean().item()
        got = call(fn, gates)
        if isinstance(got, torch.Tensor):
            if got.numel() != 1:
                raise Hint(f"you returned a tensor of shape {tuple(got.shape)}: average the "
                           "per-channel standard deviations to one number.")
            got = got.item()
        if not isinstance(got, (int, float)):
            raise Hint(f"return one number (a float), not a {type(got).__name__}.")
        if abs(got - expected) <= 1e-5:
            continue

        def near(v: torch.Tensor) -> bool:
            return abs(got - v.item()) <= 1e-5

        if near(gates.std(dim=1, correction=0).mean()) or near(gates.std(dim=1).mean()):
            raise Hint("you took the spread across channels (dim 1) for each image: the question "
                       "is how a channel's gate changes from image to image, so take it over dim 0.")
        if near(gates.std(dim=0, correction=1).mean()):
            raise Hint("you used the sample standard deviation (dividing by N - 1): use the "
                       "population one, correction=0 (unbiased=False).")
        if near(gates.var(dim=0, correction=0).mean()):
            raise Hint("you averaged variances: take the square root per channel (std), then average.")
        if near(gates.std(correction=0)) or near(gates.std()):
            raise Hint("you took one standard deviation over all N*C gates: channels with different "
                       "typical gates then look 'input-dependent'. Take the std per channel over "
                       "the images, then average.")
        if near(gates.mean()):
            raise Hint("you returned the mean gate: the task asks how much gates vary between images.")
        raise Hint(f"for gates of shape {tuple(gates.shape)} you said {got:.4g}, expected {expected:.4g}.")
    return "right on 4 hidden gate tables, including one where every image gets the same gates (0)."


class _PartsOnly(SEBlock):
    """An SEBlock whose shortcuts are switched off, so that the learner composes the parts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        raise RuntimeError("calling block(x) is what this exercise rebuilds: compose "
                           "block.squeeze, block.fc1, block.relu, block.fc2, block.gate and the scale step")

    def gates(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        raise RuntimeError("block.gates(x) is off for this exercise: compute the gates from "
                           "block.squeeze, block.fc1, block.relu, block.fc2 and block.gate")


@checker("The SE block as a composition")
def check_se_compose(fn: Callable[[torch.Tensor, SEBlock], torch.Tensor]) -> str:
    """``fn(x, block)`` must compute what ``SEBlock.forward`` computes, from the block's parts."""
    g = torch.Generator().manual_seed(7)
    configs = [(16, 4, False, True), (8, 2, True, True), (32, 16, False, False)]
    for c, r, bias1, bias2 in configs:
        with torch.random.fork_rng():  # leave the learner's global RNG state alone
            block = _PartsOnly(c, r, bias1=bias1, bias2=bias2)
        with torch.no_grad():  # weights from our own generator, small enough not to saturate
            for p in block.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        x = torch.rand(2, c, 5, 6, generator=g) + 0.2
        with torch.no_grad():
            z = x.mean(dim=(2, 3))
            logits = block.fc2(torch.relu(block.fc1(z)))
            s = torch.sigmoid(logits)
            ref = x * s[:, :, None, None]
            out = call(fn, x, block)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (2, c):
            raise Hint("you returned the (N, C) gates: the block's output is x scaled by them.")
        out = expect_shape(out, x.shape, "your output", "The SE block returns a tensor shaped like x.")
        if _close(out, ref):
            continue
        if _close(out, s[:, :, None, None].expand_as(x)):
            raise Hint("you returned the gates broadcast to x's shape: multiply them with x.")
        s_max = torch.sigmoid(block.fc2(torch.relu(block.fc1(x.amax(dim=(2, 3)))))).detach()
        if _close(out, x * s_max[:, :, None, None]):
            raise Hint("you squeezed with the maximum: use block.squeeze (the mean over H and W).")
        if _close(out, x * torch.softmax(logits, dim=1)[:, :, None, None]):
            raise Hint("your gates sum to 1 across channels: did you use softmax? Use block.gate (sigmoid).")
        if _close(out, x * torch.sigmoid(block.fc2(block.fc1(z)))[:, :, None, None].detach()):
            raise Hint("you skipped block.relu between fc1 and fc2.")
        if _close(out, x + ref):
            raise Hint("you added x to the scaled map: a residual connection belongs to the network "
                       "around the block (chapter 5), not to the SE block itself.")
        expect_close(out, ref.detach(), "your output",
                     hint="squeeze -> fc1 -> relu -> fc2 -> gate -> multiply x by the gates.")
    return f"matches SEBlock.forward for {len(configs)} hidden blocks (with and without biases)."
