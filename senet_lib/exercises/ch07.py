"""Checkers for chapter 7, channel attention on real photographs."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Callable

import torch
from torch import nn

from ..block import SEBlock
from ..gates import class_specificity, record_feature_maps
from ..removal import replace_se
from ._core import Hint, call, checker, expect_close, expect_shape

__all__ = ["check_gates_of", "check_most_suppressed", "check_specificity", "check_without_se"]


def _hidden_model(seed: int) -> nn.Sequential:
    """A small network with two SE blocks named ``"se1"`` and ``"se2"``, weights from ``seed``."""
    torch.manual_seed(seed)
    model = nn.Sequential(OrderedDict(
        stem=nn.Conv2d(3, 16, 3, padding=1), relu1=nn.ReLU(), se1=SEBlock(16, 4),
        body=nn.Conv2d(16, 24, 3, stride=2, padding=1), relu2=nn.ReLU(), se2=SEBlock(24, 4),
        pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(24, 5),
    ))
    with torch.no_grad():  # larger excitation weights: gates spread over (0, 1)
        for se in (model.se1, model.se2):
            se.fc1.weight.mul_(4.0)
            se.fc2.weight.mul_(4.0)
    return model.eval()


class _TrackedHandle:
    """A hook handle that remembers whether it was removed (so the checker can tell)."""

    def __init__(self, handle) -> None:
        self.handle, self.removed = handle, False

    def remove(self) -> None:
        self.removed = True
        self.handle.remove()

    def __enter__(self) -> "_TrackedHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _track_hooks(model: nn.Module) -> list[_TrackedHandle]:
    """Make every module of ``model`` hand out tracked handles; the list fills as hooks are added."""
    handles: list[_TrackedHandle] = []
    for m in model.modules():
        for method in ("register_forward_hook", "register_forward_pre_hook"):
            def tracked(*args, _register=getattr(m, method), **kwargs):
                handles.append(_TrackedHandle(_register(*args, **kwargs)))
                return handles[-1]
            setattr(m, method, tracked)
    return handles


@checker("A hook that records gates")
def check_gates_of(fn: Callable[[nn.Module, torch.Tensor, str], torch.Tensor]) -> str:
    """``fn(model, x, name)`` must return the ``(N, C)`` gates of the SE block ``name`` for
    images ``x``, recorded with a forward hook that is removed afterwards."""
    for seed, name, n in [(0, "se1", 3), (1, "se2", 2), (2, "se2", 4)]:
        model = _hidden_model(seed)
        x = torch.randn(n, 3, 12, 12, generator=torch.Generator().manual_seed(seed))
        block = model.get_submodule(name)
        feats: dict[str, torch.Tensor] = {}
        h = block.register_forward_hook(lambda m, i, o: feats.update(x=i[0].detach()))
        with torch.no_grad():
            model(x)
        h.remove()
        expected = block.gates(feats["x"])
        handles = _track_hooks(model)
        out = call(fn, model, x, name)
        left = sum(not h.removed for h in handles)
        if left:
            raise Hint(f"{left} hook(s) are still attached after your function returned: keep the "
                       "handle that register_forward_hook returns and call handle.remove() "
                       "(in a finally: block, so it also happens if the forward pass fails).")
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            raise Hint(f"your result has shape {tuple(out.shape)}, a feature map: you hooked the SE "
                       "block itself, whose output is the rescaled map. Hook its gate sub-module "
                       "(block.gate), whose output is the (N, C) gates.")
        out = expect_shape(out, expected.shape, "your gates",
                           "One row per image, one column per channel of that block.")
        if (out < 0).any() or (out > 1).any():
            raise Hint("some of your values lie outside (0, 1): you recorded before the sigmoid "
                       "(fc2's output?). Hook block.gate, the sigmoid.")
        if torch.allclose(out, block.squeeze(feats["x"]), atol=1e-5):
            raise Hint("these are the channel means from the squeeze, not the gates: hook block.gate.")
        expect_close(out, expected, "your gates", atol=1e-5,
                     hint="Record the output of block.gate during model(x), in eval mode.")
    return "the right (N, C) gates for 3 hidden models and blocks, and no hook left behind."


@checker("The most suppressed channel of a photo")
def check_most_suppressed(fn: Callable[[nn.Module, torch.Tensor, str], int]) -> str:
    """``fn(model, image, name)`` must return the index of the channel whose gate is the
    smallest in SE block ``name`` for the single image ``image (1, 3, H, W)``."""
    for seed, name in [(3, "se1"), (4, "se2"), (5, "se2"), (6, "se1")]:
        model = _hidden_model(seed)
        image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        before, gates, _ = record_feature_maps(model, image, name)
        g = gates[0]
        expected = int(g.argmin())
        out = call(fn, model, image, name)
        if isinstance(out, torch.Tensor):
            if out.numel() != 1:
                raise Hint(f"return one channel index (an int), not a tensor of shape {tuple(out.shape)}.")
            out = out.item()
        if isinstance(out, float) and not float(out).is_integer():
            raise Hint(f"you returned {out:.4f}, a gate value: return the channel's index (argmin), "
                       "not its gate.")
        if not isinstance(out, (int, float)):
            raise Hint(f"return the channel index as an int, got {type(out).__name__}.")
        out = int(out)
        if out == expected:
            continue
        if out == int(g.argmax()):
            raise Hint("that is the most *amplified* channel (largest gate): you want the smallest.")
        if out == int(before[0].mean(dim=(1, 2)).argmin()):
            raise Hint("that channel has the smallest mean activation, but suppression is decided "
                       "by the gate: take the argmin of the gates.")
        raise Hint(f"block {name!r}: you said channel {out} (gate {g[out]:.3f} if it exists), "
                   f"but another channel has a smaller gate.")
    return "found the most suppressed channel in 4 hidden cases."


def _spec_cases():
    gen = torch.Generator().manual_seed(7)
    out = []
    for n_cls, per, c, shift in [(3, 6, 8, 0.3), (4, 5, 16, 0.05), (2, 10, 4, 1.0)]:
        labels = torch.arange(n_cls).repeat_interleave(per)
        gates = torch.rand(n_cls * per, c, generator=gen) * 0.5 + 0.25
        gates = gates + shift * torch.rand(n_cls, c, generator=gen)[labels]
        perm = torch.randperm(len(labels), generator=gen)   # classes interleaved, not in blocks
        out.append((gates[perm], labels[perm]))
    return out


@checker("Class-specificity of a block's gates")
def check_specificity(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> str:
    """``fn(gates (N, C), labels (N,))`` must return the chapter's class-specificity: the mean
    distance between class-mean gate vectors over the mean within-class RMS spread."""
    for gates, labels in _spec_cases():
        expected = class_specificity(gates, labels)
        out = call(fn, gates, labels)
        if isinstance(out, torch.Tensor):
            if out.numel() != 1:
                raise Hint(f"return one number, not a tensor of shape {tuple(out.shape)}.")
            out = out.item()
        if not isinstance(out, (int, float)):
            raise Hint(f"return a float, got {type(out).__name__}.")
        if abs(out - expected) <= 1e-4 * max(1.0, abs(expected)):
            continue
        classes = labels.unique()
        means = torch.stack([gates[labels == k].mean(0) for k in classes]).double()
        pair = torch.stack([(means[i] - means[j]).norm() for i in range(len(classes))
                            for j in range(i + 1, len(classes))]).mean().item()
        if abs(out - pair) < 1e-4:
            raise Hint("that is the distance between class means alone: divide by the within-class "
                       "spread, or a network with larger gate variations would look more specific.")
        overall = ((gates.double() - gates.double().mean(0)) ** 2).sum(1).mean().sqrt().item()
        if abs(out - pair / overall) < 1e-4:
            raise Hint("you divided by the spread around the mean of *all* images; use the spread of "
                       "each class around its own mean, averaged over classes.")
        sq = torch.stack([((means[i] - means[j]) ** 2).sum() for i in range(len(classes))
                          for j in range(i + 1, len(classes))]).mean().item()
        within = expected and pair / expected
        if within and abs(out - sq / within) < 1e-4:
            raise Hint("you averaged squared distances between class means: take the (Euclidean) "
                       "norm of each difference before averaging.")
        raise Hint(f"you returned {out:.4f}, expected {expected:.4f}. Check: class means, mean pairwise "
                   "distance, RMS distance of each class's rows to its mean, averaged over classes.")
    return "matches senet_lib.gates.class_specificity on 3 hidden sets of gates."


@checker("Removing SE blocks without touching the model")
def check_without_se(fn: Callable[[nn.Module, list], nn.Module]) -> str:
    """``fn(model, names)`` must return a copy of ``model`` whose SE blocks ``names`` are
    ``nn.Identity``, leaving ``model`` itself unchanged."""
    for seed, names in [(8, ["se2"]), (9, ["se1", "se2"])]:
        model = _hidden_model(seed)
        original = copy.deepcopy(model)
        x = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(seed))
        out = call(fn, model, list(names))
        changed = [n for n in names if not isinstance(model.get_submodule(n), SEBlock)]
        if changed:
            raise Hint(f"your function replaced {changed} in the model it was given: copy it first "
                       "(copy.deepcopy(model)) and edit the copy, so the trained model stays intact.")
        if not isinstance(out, nn.Module):
            raise Hint(f"return the new model (an nn.Module), got {type(out).__name__}.")
        if out is model:
            raise Hint("you returned the model you were given: return a modified copy.")
        for n in names:
            sub = out.get_submodule(n)
            if not isinstance(sub, nn.Identity):
                raise Hint(f"in your copy, {n!r} is a {type(sub).__name__}, expected nn.Identity.")
        kept = [n for n, m in original.named_modules() if isinstance(m, SEBlock) and n not in names]
        for n in kept:
            if not isinstance(out.get_submodule(n), SEBlock):
                raise Hint(f"you also replaced {n!r}, which was not in names.")
        expected = replace_se(original, names)
        with torch.no_grad():
            expect_close(out.eval()(x), expected(x), "your copy's output", atol=1e-5,
                         hint="Only the named SE blocks should change; every weight stays as it was.")
    return "the copies lose exactly the named SE blocks, and the models passed in are unchanged."
