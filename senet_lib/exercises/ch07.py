"""Checkers for chapter 7, channel attention on real photographs."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..block import SEBlock
from ..gates import class_specificity, record_feature_maps
from ..removal import replace_se
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

__all__ = ["check_gates_of", "check_most_suppressed", "check_specificity", "check_without_se"]


class _Fails(nn.Module):
    """A layer whose forward pass fails: the model's forward fails after the SE blocks ran."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("a hidden layer after the SE blocks failed (the checker's test of clean-up)")


def _hidden_model(seed: int, fails: bool = False) -> nn.Sequential:
    """A small network with SE blocks named ``"se1"``, ``"se2"`` and, nested in a stage,
    ``"stage.se"``; weights from ``seed``. With ``fails``, its forward pass raises after them."""
    with torch.random.fork_rng():  # the learner's global random state is theirs
        torch.manual_seed(seed)
        model = nn.Sequential(OrderedDict(
            stem=nn.Conv2d(3, 16, 3, padding=1), relu1=nn.ReLU(), se1=SEBlock(16, 4),
            body=nn.Conv2d(16, 24, 3, stride=2, padding=1), relu2=nn.ReLU(), se2=SEBlock(24, 4),
            stage=nn.Sequential(OrderedDict(conv=nn.Conv2d(24, 20, 3, padding=1), relu=nn.ReLU(),
                                            se=SEBlock(20, 4))),
            pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=_Fails() if fails else nn.Linear(20, 5),
        ))
    with torch.no_grad():  # larger excitation weights: gates spread over (0, 1)
        for se in (m for m in model.modules() if isinstance(m, SEBlock)):  # se1, se2 and stage.se
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

    def __enter__(self) -> _TrackedHandle:
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


def _hooks_left(model: nn.Module, handles: list[_TrackedHandle]) -> int:
    """Hooks the learner's code attached to ``model`` and did not remove: every hook registered on
    its modules goes through the tracked methods (PyTorch has no public way to list a module's
    hooks, and its private dictionaries are not ours to read)."""
    return sum(not h.removed for h in handles)


_LEFT_HINT = ("keep the handle that register_forward_hook returns and call handle.remove() in a "
              "finally: block, so that it also happens when the forward pass fails.")


def _block_input(model: nn.Module, x: torch.Tensor, name: str) -> torch.Tensor:
    block = model.get_submodule(name)
    seen: dict[str, torch.Tensor] = {}
    h = block.register_forward_pre_hook(lambda m, i: seen.update(x=i[0].detach()))
    try:
        with torch.no_grad():
            model(x)
    except RuntimeError:
        pass  # a failing model: the blocks before the failure ran
    finally:
        h.remove()
    return seen["x"]


@checker("A hook that records gates")
def check_gates_of(fn: Callable[[nn.Module, torch.Tensor, str], torch.Tensor]) -> str:
    """``fn(model, x, name)`` must return the ``(N, C)`` gates of the SE block ``name`` for
    images ``x``, recorded with a forward hook that is removed afterwards, even when the
    forward pass fails. Hidden cases: top-level and nested block names (``"stage.se"``), a
    single image, and a model whose forward pass fails after the SE blocks (there the
    function may raise or return; its hook must be gone)."""
    cases = [(0, "se1", 3), (1, "se2", 2), (2, "stage.se", 4), (3, "se2", 1)]
    for seed, name, n in cases:
        model = _hidden_model(seed)
        x = torch.randn(n, 3, 12, 12, generator=torch.Generator().manual_seed(seed))
        block = model.get_submodule(name)
        assert isinstance(block, SEBlock)  # as _hidden_model makes them
        z_in = _block_input(model, x, name)
        with torch.no_grad():
            expected = block.gates(z_in)
            logits = block.fc2(block.relu(block.fc1(block.squeeze(z_in))))
        handles = _track_hooks(model)
        out = call(fn, model, x, name)
        left = _hooks_left(model, handles)
        if left:
            raise Hint(f"{left} hook(s) are still attached after your function returned: " + _LEFT_HINT)
        if isinstance(out, (list, tuple)) and len(out) == 1 and isinstance(out[0], torch.Tensor):
            raise Hint("you returned the list your hook filled: return the tensor in it (seen[0]).")
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            raise Hint(f"your result has shape {tuple(out.shape)}, a feature map: you hooked the SE "
                       "block itself, whose output is the rescaled map. Hook its gate sub-module "
                       "(block.gate), whose output is the (N, C) gates.")
        if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == n and out.shape[1] == block.hidden:
            raise Hint(f"your result has shape {tuple(out.shape)}: {block.hidden} columns are the bottleneck's "
                       "units (fc1 or relu); hook block.gate, whose output has one column per channel.")
        out = expect_shape(out, expected.shape, "your gates",
                           "One row per image, one column per channel of that block (did you hook "
                           "another block?).")
        if close(out, expected):
            continue
        if close(out, logits):
            raise Hint("you recorded the logits before the sigmoid (fc2's output): hook block.gate, "
                       "whose output is in (0, 1).")
        if close(out, block.squeeze(z_in)):
            raise Hint("these are the channel means from the squeeze, not the gates: hook block.gate.")
        expect_close(out, expected, "your gates",
                     hint="Record the output of block.gate during model(x), in eval mode.")
    model = _hidden_model(4, fails=True)
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    handles = _track_hooks(model)
    try:
        call(fn, model, x, "se2")
    except _LearnerRaised:
        pass  # raising is right here: the model's forward pass failed
    left = _hooks_left(model, handles)
    if left:
        raise Hint(f"when the model's forward pass fails, {left} hook(s) stay attached: " + _LEFT_HINT)
    return (f"the right (N, C) gates for {len(cases)} hidden models and blocks (nested names too), and "
            "no hook left behind, even when the forward pass fails.")


def _index(out: Any, gates: torch.Tensor) -> int:
    """The learner's channel index as an int, or a hint."""
    if isinstance(out, (torch.Tensor, np.ndarray)) and (out.numel() if isinstance(out, torch.Tensor)
                                                        else out.size) > 1:
        t = as_tensor(out, "your answer")
        if t.numel() == gates.numel() and t.dtype.is_floating_point:
            raise Hint(f"you returned {describe(out)}, the gates themselves: return the index of the "
                       "smallest one (argmin), an int.")
        raise Hint(f"return one channel index (an int), not {describe(out)}.")
    value = as_number(out, "your channel index")
    if isinstance(value, float) and not value.is_integer():
        raise Hint(f"you returned {value:.4f}, a gate value: return the channel's index (argmin), "
                   "not its gate.")
    return as_count(value, "your channel index")


@checker("The most suppressed channel of a photo")
def check_most_suppressed(fn: Callable[[nn.Module, torch.Tensor, str], int]) -> str:
    """``fn(model, image, name)`` must return the index (0-based, an ``int``; a NumPy integer or
    a one-element tensor is fine) of the channel whose gate is the smallest in SE block ``name``
    for the single image ``image (1, 3, H, W)``. Hidden cases include a nested block name."""
    cases = [(3, "se1"), (4, "se2"), (5, "stage.se"), (6, "se1"), (7, "se2")]
    for seed, name in cases:
        model = _hidden_model(seed)
        image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        before, gates, after = record_feature_maps(model, image, name)
        g = gates[0]
        expected = int(g.argmin())
        got = _index(call(fn, model, image, name), g)
        if got == expected:
            continue
        if got == expected + 1:
            raise Hint(f"block {name!r}: you said channel {got}, one more than the answer: channels are "
                       "numbered from 0, as argmin returns them (no + 1).")
        if got == int(g.argmax()):
            raise Hint("that is the most *amplified* channel (largest gate): you want the smallest.")
        low_after = got == int(after[0].mean(dim=(1, 2)).argmin())
        low_before = got == int(before[0].mean(dim=(1, 2)).argmin())
        if low_after or low_before:
            which = ("before and after scaling" if low_after and low_before else
                     "after scaling (gate times activation)" if low_after else "before scaling")
            raise Hint(f"that channel has the smallest mean activation {which}, but suppression is "
                       "decided by the gate alone: take the argmin of the gates.")
        gate = f"gate {g[got]:.3f}" if 0 <= got < len(g) else f"which does not exist: it has {len(g)} channels"
        raise Hint(f"block {name!r}: you said channel {got} ({gate}), but channel {expected} has the "
                   f"smallest gate, {g[expected]:.3f}.")
    return f"found the most suppressed channel in {len(cases)} hidden cases."


def _spec_cases():
    gen = torch.Generator().manual_seed(7)
    out = []
    for n_cls, per, c, shift in [(3, 6, 8, 0.3), (4, 5, 16, 0.05), (2, 10, 4, 1.0)]:
        labels = torch.arange(n_cls).repeat_interleave(per)
        gates = torch.rand(n_cls * per, c, generator=gen) * 0.5 + 0.25
        gates = gates + shift * torch.rand(n_cls, c, generator=gen)[labels]
        perm = torch.randperm(len(labels), generator=gen)   # classes interleaved, not in blocks
        out.append((gates[perm], labels[perm]))
    # classes of different sizes, with labels that are not 0..K-1
    labels = torch.tensor([2, 7, 7, 2, 5, 7, 5, 2, 7, 5, 7, 2])
    gates = torch.rand(len(labels), 6, generator=gen) * 0.4 + 0.3 + 0.2 * (labels[:, None] == 7)
    out.append((gates, labels))
    return out


def _spec_parts(gates: torch.Tensor, labels: torch.Tensor):
    classes = labels.unique()
    g = gates.double()
    means = torch.stack([g[labels == k].mean(0) for k in classes])
    i, j = torch.triu_indices(len(classes), len(classes), offset=1)
    dist = (means[i] - means[j]).norm(dim=1)
    msd = torch.stack([((g[labels == k] - m) ** 2).sum(1).mean() for k, m in zip(classes, means, strict=True)])
    return classes, means, dist, msd


@checker("Class-specificity of a block's gates")
def check_specificity(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> str:
    """``fn(gates (N, C), labels (N,))`` must return the chapter's class-specificity: the mean
    distance between class-mean gate vectors over the mean within-class RMS spread (one
    number). Hidden cases: 2 to 4 classes, interleaved labels, and classes of different sizes
    labelled 2, 5 and 7."""
    for gates, labels in _spec_cases():
        expected = class_specificity(gates, labels)
        out = call(fn, gates, labels)
        if isinstance(out, (torch.Tensor, np.ndarray)) and (out.numel() if isinstance(out, torch.Tensor)
                                                            else out.size) > 1:
            raise Hint(f"return one number, not {describe(out)}.")
        got = as_number(out, "your specificity")

        def near(v: float, got: float = got) -> bool:
            return same_number(got, v, rel=1e-4, abs_=1e-7)

        if near(expected):
            continue
        classes, _means, dist, msd = _spec_parts(gates, labels)
        between, within = dist.mean().item(), msd.sqrt().mean().item()
        k = len(classes)
        if near(between):
            raise Hint("that is the distance between class means alone: divide by the within-class "
                       "spread, or a network with larger gate variations would look more specific.")
        overall = ((gates.double() - gates.double().mean(0)) ** 2).sum(1).mean().sqrt().item()
        if near(between / overall):
            raise Hint("you divided by the spread around the mean of *all* images; use the spread of "
                       "each class around its own mean, averaged over classes.")
        if near((dist ** 2).mean().item() / within):
            raise Hint("you averaged squared distances between class means: take the (Euclidean) "
                       "norm of each difference before averaging.")
        if near(between / msd.mean().item()):
            raise Hint("your within-class spread is a mean squared distance: take its square root "
                       "(the RMS distance) for each class, then average.")
        if near(between / msd.mean().sqrt().item()):
            raise Hint("you averaged the squared spreads over classes before the square root: take "
                       "each class's RMS distance, then average those.")
        if k > 2 and near(dist.sum().item() / within):
            raise Hint("you summed the distances over pairs of classes: take their mean.")
        if k > 1 and near(dist.sum().item() * 2 / (k * k) / within):
            raise Hint("your mean over pairs includes each class with itself (distance 0): average "
                       "over the pairs k < l only.")
        per_channel = torch.stack([gates.double()[labels == c].std(0, correction=0) for c in classes])
        if near(between / per_channel.mean().item()):
            raise Hint("your spread is the per-channel standard deviation averaged over channels: the "
                       "chapter uses the RMS distance of each gate vector from its class mean.")
        raise Hint(f"you returned {got:.4f}, expected {expected:.4f}. Check: class means, mean pairwise "
                   "distance, RMS distance of each class's rows to its mean, averaged over classes.")
    return "matches senet_lib.gates.class_specificity on 4 hidden sets of gates."


def _module(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


@checker("Removing SE blocks without touching the model")
def check_without_se(fn: Callable[[nn.Module, list], nn.Module]) -> str:
    """``fn(model, names)`` must return a copy of ``model`` whose SE blocks ``names`` are
    ``nn.Identity``, leaving ``model`` itself unchanged. Hidden cases: one block, two blocks,
    a nested block name (``"stage.se"``)."""
    for seed, names in [(8, ["se2"]), (9, ["se1", "stage.se"]), (10, ["stage.se"])]:
        model = _hidden_model(seed)
        original = copy.deepcopy(model)
        x = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(seed))
        out = call(fn, model, list(names))
        changed = [n for n in names if not isinstance(_module(model, n), SEBlock)]
        if changed:
            shallow = isinstance(out, nn.Module) and out is not model and any(
                # the learner's model may have more or fewer children: pair up those both have
                a is b for a, b in zip(out.children(), model.children(), strict=False))
            why = (" copy.copy makes a shallow copy whose sub-modules are the model's own; use "
                   "copy.deepcopy(model).") if shallow else ""
            raise Hint(f"your function replaced {changed} in the model it was given: copy it first "
                       "(copy.deepcopy(model)) and edit the copy, so the trained model stays intact." + why)
        if not isinstance(out, nn.Module):
            raise Hint(f"return the new model (an nn.Module), not {describe(out)}"
                       + (": did you forget the return statement?" if out is None else "."))
        if out is model:
            raise Hint("you returned the model you were given: return a modified copy.")
        for n in names:
            sub = _module(out, n)
            if sub is None:
                raise Hint(f"your copy has no module {n!r} any more: replace it with nn.Identity() "
                           "instead of deleting it, so the layers around it still connect.")
            if not isinstance(sub, nn.Identity):
                if "." in n and (n in vars(out).get("_modules", {}) or n in vars(out)):
                    raise Hint(f"setattr(copy, {n!r}, ...) added a new attribute called {n!r} and left "
                               "the block in place: for a dotted name set the last part on its parent, "
                               f"setattr(copy.get_submodule({n.rpartition('.')[0]!r}), "
                               f"{n.rpartition('.')[2]!r}, nn.Identity()).")
                raise Hint(f"in your copy, {n!r} is {describe(sub)}, expected nn.Identity.")
        kept = [n for n, m in original.named_modules() if isinstance(m, SEBlock) and n not in names]
        for n in kept:
            if not isinstance(_module(out, n), SEBlock):
                raise Hint(f"you also replaced {n!r}, which was not in names.")
        dtypes = {p.dtype for p in out.parameters()}
        if dtypes - {torch.float32}:
            raise Hint(f"your copy's parameters are {sorted(map(str, dtypes))}, the model's torch.float32: "
                       "keep the dtype (the images it will see are float32).")
        expected = replace_se(original, names)
        with torch.no_grad():
            try:
                got = call(out.eval(), x)
            except _LearnerRaised as e:
                raise Hint(f"your copy fails on an input ({type(e.exc).__name__}: {e.exc}).") from None
            expect_close(got, expected(x), "your copy's output",
                         hint="Only the named SE blocks should change; every weight stays as it was.")
    return "the copies lose exactly the named SE blocks (nested names too), and the models passed in are unchanged."
