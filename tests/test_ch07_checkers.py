"""Chapter 7 checkers: the right answer passes, plausible wrong answers get their hint."""

from __future__ import annotations

import copy

import pytest
import torch
from checking import fails_with as _fails_with
from torch import nn

from senet_lib.exercises import check_gates_of, check_most_suppressed, check_specificity, check_without_se
from senet_lib.gates import class_specificity, record_feature_maps, record_gates
from senet_lib.removal import replace_se

# ---- a hook that records gates --------------------------------------------------------------


def _gates_via(attr: str, remove: bool = True):
    def gates_of(model, x, name):
        block = model.get_submodule(name)
        target = block if attr == "" else getattr(block, attr)
        seen = []
        handle = target.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
        try:
            with torch.no_grad():
                model.eval()(x)
        finally:
            if remove:
                handle.remove()
        return seen[0]

    return gates_of


def test_gates_of_passes():
    assert check_gates_of(_gates_via("gate")).passed
    assert check_gates_of(lambda model, x, name: record_gates(model, x, name)[name]).passed


@pytest.mark.parametrize("wrong,text", [
    (_gates_via("gate", remove=False), "handle.remove()"),
    (_gates_via(""), "you hooked the SE block itself"),
    (_gates_via("fc2"), "before the sigmoid"),
    (_gates_via("squeeze"), "channel means from the squeeze"),
])
def test_gates_of_rejects(wrong, text):
    _fails_with(check_gates_of(wrong), text)


def test_stub_is_pending_not_failed(monkeypatch):
    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")

    def stub(*args):
        raise NotImplementedError("Exercise")

    for check in (check_gates_of, check_most_suppressed, check_specificity, check_without_se):
        result = check(stub)
        assert result.pending and not result.passed


def test_strict_mode_raises(monkeypatch):
    from senet_lib.exercises import ExerciseCheckError

    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ExerciseCheckError, match="before the sigmoid"):
        check_gates_of(_gates_via("fc2"))


# ---- the most suppressed channel ------------------------------------------------------------


def _suppressed(model, image, name):
    return int(record_gates(model, image, name)[name][0].argmin())


def test_most_suppressed_passes():
    assert check_most_suppressed(_suppressed).passed
    # a 0-d tensor is fine too
    assert check_most_suppressed(
        lambda m, x, n: record_gates(m, x, n)[n][0].argmin()).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda m, x, n: int(record_gates(m, x, n)[n][0].argmax()), "most *amplified*"),
    (lambda m, x, n: float(record_gates(m, x, n)[n][0].min()), "gate value"),
    (lambda m, x, n: int(record_feature_maps(m, x, n)[0][0].mean(dim=(1, 2)).argmin()),
     "smallest mean activation"),
    (lambda m, x, n: record_gates(m, x, n)[n][0].argsort()[:2], "one channel index"),
])
def test_most_suppressed_rejects(wrong, text):
    _fails_with(check_most_suppressed(wrong), text)


# ---- class-specificity ----------------------------------------------------------------------


def _spec(gates, labels):
    classes = labels.unique()
    means = [gates[labels == k].mean(0) for k in classes]
    spread = torch.stack([((gates[labels == k] - m) ** 2).sum(1).mean().sqrt()
                          for k, m in zip(classes, means, strict=True)]).mean()
    d = torch.stack([(means[i] - means[j]).norm() for i in range(len(means))
                     for j in range(i + 1, len(means))]).mean()
    return float(d / spread)


def test_specificity_passes():
    assert check_specificity(_spec).passed
    assert check_specificity(class_specificity).passed


def _between(gates, labels):
    means = [gates[labels == k].mean(0) for k in labels.unique()]
    return torch.stack([(means[i] - means[j]).norm() for i in range(len(means))
                        for j in range(i + 1, len(means))]).mean()


def _overall(gates, labels):
    spread = ((gates - gates.mean(0)) ** 2).sum(1).mean().sqrt()
    return float(_between(gates, labels) / spread)


def _squared(gates, labels):
    classes = labels.unique()
    means = [gates[labels == k].mean(0) for k in classes]
    spread = torch.stack([((gates[labels == k] - m) ** 2).sum(1).mean().sqrt()
                          for k, m in zip(classes, means, strict=True)]).mean()
    sq = torch.stack([((means[i] - means[j]) ** 2).sum() for i in range(len(means))
                      for j in range(i + 1, len(means))]).mean()
    return float(sq / spread)


@pytest.mark.parametrize("wrong,text", [
    (lambda g, y: float(_between(g, y)), "distance between class means alone"),
    (_overall, "mean of *all* images"),
    (_squared, "squared distances"),
    (lambda g, y: _spec(g, y) * 2, "expected"),
    (lambda g, y: torch.tensor([1.0, 2.0]), "one number"),
])
def test_specificity_rejects(wrong, text):
    _fails_with(check_specificity(wrong), text)


# ---- removing SE blocks ---------------------------------------------------------------------


def _without(model, names, deep=True):
    new = copy.deepcopy(model) if deep else model
    for n in names:
        parent, _, child = n.rpartition(".")
        setattr(new.get_submodule(parent) if parent else new, child, nn.Identity())
    return new


def test_without_se_passes():
    assert check_without_se(_without).passed
    assert check_without_se(lambda m, names: replace_se(m, names)).passed


@pytest.mark.parametrize("wrong,text", [
    (lambda m, names: _without(m, names, deep=False), "copy it first"),
    (lambda m, names: _without(m, names[:1]), "expected nn.Identity"),
    (lambda m, names: _without(m, ["se1", "se2"]), "which was not in names"),
    (lambda m, names: replace_se(m, names, "mean",
                                           {n: torch.full((m.get_submodule(n).channels,), 0.5)
                                            for n in names}), "expected nn.Identity"),
])
def test_without_se_rejects(wrong, text):
    _fails_with(check_without_se(wrong), text)
