"""Checkers for chapter 4, the scale: broadcasting gates and composing the block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..block import SEBlock
from ._core import (
    Hint,
    _LearnerRaised,
    as_number,
    call,
    checker,
    close,
    describe,
    expect_close,
    expect_dtype,
    expect_shape,
    same_number,
)

__all__ = ["check_scale", "check_input_dependence", "check_se_compose"]


_BROADCAST_HINT = (
    "s has shape (N, C); PyTorch lines shapes up from the right, so x * s pairs s with (H, W), "
    "not (N, C). Reshape s to (N, C, 1, 1), e.g. s[:, :, None, None], so each gate multiplies "
    "a whole channel."
)


def _broadcast_mistake(out: Any, x: torch.Tensor, s: torch.Tensor) -> str:
    """The hint for gates that were broadcast against the wrong axes of x (silently), or ""."""
    n, c, h, w = x.shape
    if n == 1 and w == c and close(out, x * s[:, None, None, :]):
        return (f"for x {tuple(x.shape)} and s {tuple(s.shape)} your gates multiplied the image's "
                "columns (broadcast against W instead of C), not its channels: " + _BROADCAST_HINT)
    if n == 1 and h == c and close(out, x * s[:, None, :, None]):
        return (f"for x {tuple(x.shape)} and s {tuple(s.shape)} your gates multiplied the image's "
                "rows (broadcast against H instead of C; s[:, :, None] has one axis too few): "
                + _BROADCAST_HINT)
    return ""


@checker("Scale: broadcasting the gates")
def check_scale(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """``fn(x, s)`` must return ``x`` with channel ``c`` of image ``n`` multiplied by
    ``s[n, c]``, for ``x (N, C, H, W)`` and ``s (N, C)``: shape and dtype of ``x``.

    Hidden cases: a batch of one with W == C and one with H == C (there a missing broadcast
    runs without error), larger batches, a float64 map (the dtype is kept).
    """
    g = torch.Generator().manual_seed(5)
    # The first two cases are where a missing broadcast runs silently (W == C, then H == C):
    # a function that fails on one of them may still reveal its mistake on the other.
    shapes = [(1, 4, 3, 4), (1, 5, 5, 3), (2, 3, 5, 6), (3, 8, 4, 4), (2, 16, 2, 7), (2, 6, 3, 5)]
    failed = ""
    for i, (n, c, h, w) in enumerate(shapes):
        if i == 2 and failed:
            raise Hint(failed)
        dtype = torch.float64 if i == len(shapes) - 1 else torch.float32
        x = (torch.rand(n, c, h, w, generator=g) + 0.5).to(dtype)
        s = (torch.rand(n, c, generator=g) * 0.9 + 0.05).to(dtype)
        try:
            out = call(fn, x, s)
        except _LearnerRaised as e:
            if isinstance(e.exc, RuntimeError) and "size of tensor" in str(e.exc):
                failed = f"your function failed for x {tuple(x.shape)} and s {tuple(s.shape)}: " + _BROADCAST_HINT
                if i < 2:
                    continue
                raise Hint(failed) from None
            raise
        mistake = _broadcast_mistake(out, x, s)
        if mistake:
            raise Hint(mistake)
        out = expect_shape(out, x.shape, "your output",
                           "Scaling keeps the feature map's shape: only the channels' sizes change.")
        ref = x * s[:, :, None, None]
        if close(out, ref):
            expect_dtype(out, x.dtype, "your output", "x")
            continue
        if close(out, s[:, :, None, None].expand_as(x)):
            raise Hint("you returned the gates broadcast to x's shape: multiply them with x.")
        if close(out, x + s[:, :, None, None]):
            raise Hint("you added the gates: the scale step multiplies each channel by its gate.")
        if close(out, x / s[:, :, None, None]):
            raise Hint("you divided by the gates: multiply, so that a gate near 0 suppresses a channel.")
        if close(out, x * (1 - s[:, :, None, None])):
            raise Hint("you multiplied by 1 - s: a gate of 1 should keep the channel unchanged.")
        if close(out, x * s.mean(dim=0)[None, :, None, None]):
            raise Hint("you averaged the gates over the batch: each image has its own gates.")
        if close(out, x * s[0][None, :, None, None]):
            raise Hint("every image got the gates of image 0: image n is scaled by s[n].")
        if close(out, x + x * s[:, :, None, None]):
            raise Hint("you added x to the scaled map: the residual connection belongs to the "
                       "network around the block, not to the scale step.")
        expect_close(out, ref, "your output", hint="y[n, c, i, j] = s[n, c] * x[n, c, i, j].")
    return (f"right for {len(shapes)} hidden shapes, including two where a missing broadcast "
            "hides and a float64 map.")


@checker("How input-dependent are the gates?")
def check_input_dependence(fn: Callable[[torch.Tensor], float]) -> str:
    """``fn(gates)`` for ``gates (N, C)`` must return the population standard deviation over
    the ``N`` images of each channel's gate, averaged over the ``C`` channels (one number;
    a 0-d tensor or NumPy scalar is fine). Hidden cases include identical gates for every
    image (the answer is 0) and two images."""
    g = torch.Generator().manual_seed(6)
    cases = [torch.sigmoid(torch.randn(n, c, generator=g) * k + torch.randn(c, generator=g) * 2)
             for n, c, k in [(6, 10, 1.0), (20, 32, 0.3), (3, 64, 2.0), (2, 5, 1.0)]]
    cases.append(torch.full((5, 8), 0.5))  # every image gets the same gates: the answer is 0
    for gates in cases:
        expected = gates.double().std(dim=0, correction=0).mean().item()
        out = call(fn, gates)
        if isinstance(out, (torch.Tensor, np.ndarray)) and (
                out.numel() if isinstance(out, torch.Tensor) else out.size) > 1:
            raise Hint(f"you returned {describe(out)}: average the per-channel standard "
                       "deviations to one number.")
        got = as_number(out, "your answer")
        scale = max(gates.double().std().item(), 1e-3)

        def near(v: torch.Tensor, got: float = got, scale: float = scale) -> bool:
            return same_number(got, float(v), rel=1e-4, abs_=1e-6 * scale)

        if near(torch.tensor(expected)):
            continue
        if near(gates.std(dim=1, correction=0).mean()) or near(gates.std(dim=1).mean()):
            raise Hint("you took the spread across channels (dim 1) for each image: the question "
                       "is how a channel's gate changes from image to image, so take it over dim 0.")
        if near(gates.std(dim=0, correction=1).mean()):
            raise Hint("you used the sample standard deviation (dividing by N - 1): use the "
                       "population one, correction=0 (unbiased=False).")
        if near(gates.var(dim=0, correction=0).mean()):
            raise Hint("you averaged variances: take the square root per channel (std), then average.")
        if near(gates.var(dim=0, correction=0).mean().sqrt()):
            raise Hint("you averaged the variances, then took the square root: take the square root "
                       "per channel (the std), then average over channels.")
        if near(gates.std(correction=0)) or near(gates.std()):
            raise Hint("you took one standard deviation over all N*C gates: channels with different "
                       "typical gates then look 'input-dependent'. Take the std per channel over "
                       "the images, then average.")
        if near(gates.std(dim=0, correction=0).amax()):
            raise Hint("you took the largest per-channel standard deviation: average them over channels.")
        if near(gates.mean()):
            raise Hint("you returned the mean gate: the task asks how much gates vary between images.")
        raise Hint(f"for gates of shape {tuple(gates.shape)} you said {got:.4g}, expected {expected:.4g}.")
    return (f"right on {len(cases)} hidden gate tables, including two images and one where every "
            "image gets the same gates (0).")


class _PartsOnly(SEBlock):
    """An SEBlock whose shortcuts are switched off, so that the learner composes the parts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("calling block(x) is what this exercise rebuilds: compose "
                           "block.squeeze, block.fc1, block.relu, block.fc2, block.gate and the scale step")

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("block.gates(x) is off for this exercise: compute the gates from "
                           "block.squeeze, block.fc1, block.relu, block.fc2 and block.gate")


@checker("The SE block as a composition")
def check_se_compose(fn: Callable[[torch.Tensor, SEBlock], torch.Tensor]) -> str:
    """``fn(x, block)`` must compute what ``SEBlock.forward`` computes, from the block's parts
    (``block.squeeze``, ``fc1``, ``relu``, ``fc2``, ``gate``), shape and dtype of ``x``.

    Hidden blocks: with and without each bias, a one-unit bottleneck, and one built with
    ``pool="max"`` and ``gate="hard_sigmoid"`` (the ablation knobs), which only an answer that
    uses ``block.squeeze`` and ``block.gate`` gets right.
    """
    g = torch.Generator().manual_seed(7)
    configs = [(16, 4, False, True, "avg", "sigmoid"), (8, 2, True, True, "avg", "sigmoid"),
               (32, 16, False, False, "avg", "sigmoid"), (8, 16, False, True, "avg", "sigmoid"),
               (12, 4, False, True, "max", "hard_sigmoid")]
    for c, r, bias1, bias2, pool, gate in configs:
        with torch.random.fork_rng():  # leave the learner's global RNG state alone
            block = _PartsOnly(c, r, bias1=bias1, bias2=bias2, pool=pool, gate=gate)
        with torch.no_grad():  # weights from our own generator, small enough not to saturate
            for p in block.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        x = torch.rand(2, c, 5, 6, generator=g) + 0.2
        knobs = pool != "avg"
        with torch.no_grad():
            def output(squeeze: Callable, act: Callable, relu: bool = True, block: _PartsOnly = block,
                       x: torch.Tensor = x) -> torch.Tensor:
                hidden = block.fc1(squeeze(x))
                return x * act(block.fc2(torch.relu(hidden) if relu else hidden))[:, :, None, None]

            z = block.squeeze(x)
            logits = block.fc2(torch.relu(block.fc1(z)))
            s = block.gate(logits)
            ref = x * s[:, :, None, None]
            try:
                out = call(fn, x, block)
            except _LearnerRaised as e:
                if "must match the size of tensor" in str(e.exc):
                    raise Hint(f"your function failed for x {tuple(x.shape)}: the gates are (N, C); "
                               + _BROADCAST_HINT) from None
                raise
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (2, c):
            raise Hint("you returned the (N, C) gates: the block's output is x scaled by them.")
        out = expect_shape(out, x.shape, "your output", "The SE block returns a tensor shaped like x.")
        if close(out, ref):
            expect_dtype(out, x.dtype, "your output", "x")
            continue
        mean = lambda t: t.mean(dim=(2, 3))
        if knobs and close(out, output(mean, torch.sigmoid)):
            raise Hint(f"this hidden block was built with pool={pool!r} and gate={gate!r}: you wrote the "
                       "mean and the sigmoid yourself; use block.squeeze and block.gate, which follow "
                       "the block's settings.")
        if knobs and close(out, output(mean, block.gate)):
            raise Hint(f"this hidden block squeezes with pool={pool!r}: use block.squeeze instead of "
                       "writing the mean yourself.")
        if knobs and close(out, output(block.squeeze, torch.sigmoid)):
            raise Hint(f"this hidden block gates with gate={gate!r}: use block.gate instead of "
                       "torch.sigmoid.")
        if close(out, s[:, :, None, None].expand_as(x)):
            raise Hint("you returned the gates broadcast to x's shape: multiply them with x.")
        if not knobs and close(out, output(lambda t: t.amax(dim=(2, 3)), block.gate)):
            raise Hint("you squeezed with the maximum: use block.squeeze (the mean over H and W).")
        if close(out, x * torch.softmax(logits, dim=1)[:, :, None, None]):
            raise Hint("your gates sum to 1 across channels: did you use softmax? Use block.gate (sigmoid).")
        if close(out, output(block.squeeze, block.gate, relu=False)):
            raise Hint("you skipped block.relu between fc1 and fc2.")
        if close(out, x * logits[:, :, None, None]):
            raise Hint("you skipped block.gate: x is scaled by the gates, not by fc2's raw output.")
        if close(out, x + ref):
            raise Hint("you added x to the scaled map: a residual connection belongs to the network "
                       "around the block (chapter 5), not to the SE block itself.")
        expect_close(out, ref, "your output",
                     hint="squeeze -> fc1 -> relu -> fc2 -> gate -> multiply x by the gates.")
    return (f"matches SEBlock.forward for {len(configs)} hidden blocks (with and without biases, "
            "one hidden unit, a max-pool and hard-sigmoid block).")
