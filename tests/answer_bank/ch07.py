"""Chapter 7's answers: a hook that records gates, the most suppressed channel, class-specificity,
removing SE blocks from a copy."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from senet_lib.gates import class_specificity, record_gates
from senet_lib.removal import replace_se

from . import correct, malformed, raises, wrong


def gates_of(model, x, name):
    block = model.get_submodule(name)
    seen = []
    handle = block.gate.register_forward_hook(lambda module, inputs, output: seen.append(output.detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen[0]


def gates_of_pre_hook(model, x, name):
    """Record the block's input with a pre-hook, then ask the block for its gates."""
    block = model.get_submodule(name)
    inputs = {}
    handle = block.register_forward_pre_hook(lambda module, args: inputs.update(u=args[0]))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    with torch.no_grad():
        return block.gates(inputs["u"])


def gates_of_with(model, x, name):
    """The handle as a context manager (removes the hook on the way out)."""
    seen = {}
    with model.get_submodule(name).gate.register_forward_hook(lambda m, i, o: seen.update(g=o)), torch.no_grad():
        model(x)
    return seen["g"].numpy()


def _hook_and_return(model, x, name, module, keep=False):
    seen = []
    handle = module(model.get_submodule(name)).register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        if not keep:
            handle.remove()
    return seen[0]


def gates_no_finally(model, x, name):
    seen = []
    handle = model.get_submodule(name).gate.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen[0]


def gates_list(model, x, name):
    seen = []
    handle = model.get_submodule(name).gate.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen


def most_suppressed(model, image, name):
    return int(record_gates(model, image, name)[name][0].argmin())


def most_suppressed_numpy(model, image, name):
    return np.argmin(gates_of(model, image, name).numpy()[0])          # an np.int64


def most_suppressed_loop(model, image, name):
    g = gates_of(model, image, name)[0].tolist()
    best = 0
    for c, v in enumerate(g):
        if v < g[best]:
            best = c
    return best


def feature_means(model, image, name, after=False):
    block = model.get_submodule(name)
    seen = {}
    handle = block.register_forward_hook(lambda m, i, o: seen.update(u=i[0], y=o))
    try:
        with torch.no_grad():
            model(image)
    finally:
        handle.remove()
    return (seen["y"] if after else seen["u"])[0].mean(dim=(1, 2))


def specificity(gates, labels):
    classes = labels.unique()
    means = torch.stack([gates[labels == k].mean(0) for k in classes])
    spread = torch.stack([((gates[labels == k] - m) ** 2).sum(1).mean().sqrt()
                          for k, m in zip(classes, means)]).mean()
    i, j = torch.triu_indices(len(classes), len(classes), offset=1)
    return float((means[i] - means[j]).norm(dim=1).mean() / spread)


def specificity_numpy(gates, labels):
    g, y = gates.numpy().astype(np.float64), labels.numpy()
    classes = np.unique(y)
    means = np.array([g[y == k].mean(axis=0) for k in classes])
    pairs = [np.linalg.norm(means[a] - means[b]) for a in range(len(classes)) for b in range(a + 1, len(classes))]
    spread = np.mean([np.sqrt(((g[y == k] - means[a]) ** 2).sum(axis=1).mean()) for a, k in enumerate(classes)])
    return np.mean(pairs) / spread                                     # an np.float64


def specificity_cdist(gates, labels):
    classes = labels.unique()
    means = torch.stack([gates[labels == k].mean(0) for k in classes])
    d = torch.cdist(means[None], means[None])[0]
    k = len(classes)
    between = d.sum() / (k * (k - 1))                                   # each pair counted twice
    within = torch.stack([(gates[labels == c] - m).norm(dim=1).pow(2).mean().sqrt()
                          for c, m in zip(classes, means)]).mean()
    return between / within                                              # a 0-d tensor


def _spec_variant(gates, labels, *, squared=False, msd=False, total=False, self_pairs=False, overall=False):
    classes = labels.unique()
    means = torch.stack([gates[labels == k].mean(0) for k in classes])
    k = len(classes)
    pairs = [(a, b) for a in range(k) for b in range(k)] if self_pairs else \
        [(a, b) for a in range(k) for b in range(a + 1, k)]
    dists = torch.stack([((means[a] - means[b]) ** 2).sum() if squared else (means[a] - means[b]).norm()
                         for a, b in pairs])
    between = dists.sum() if total else dists.mean()
    if overall:
        within = ((gates - gates.mean(0)) ** 2).sum(1).mean().sqrt()
    else:
        ms = torch.stack([((gates[labels == c] - m) ** 2).sum(1).mean() for c, m in zip(classes, means)])
        within = ms.mean() if msd else ms.sqrt().mean()
    return float(between / within)


def without_se(model, names):
    new = copy.deepcopy(model)
    for name in names:
        parent, _, child = name.rpartition(".")
        setattr(new.get_submodule(parent) if parent else new, child, nn.Identity())
    return new


def without_se_walk(model, names):
    """Walk the dotted path by hand, replacing in the last parent's _modules."""
    new = copy.deepcopy(model)
    for name in names:
        *path, last = name.split(".")
        parent = new
        for part in path:
            parent = getattr(parent, part)
        parent._modules[last] = nn.Identity()
    return new


def without_se_no_copy(model, names):
    for name in names:
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    return model


def without_se_shallow(model, names):
    new = copy.copy(model)
    for name in names:
        parent, _, child = name.rpartition(".")
        setattr(new.get_submodule(parent) if parent else new, child, nn.Identity())
    return new


def without_se_dotted_setattr(model, names):
    new = copy.deepcopy(model)
    for name in names:
        setattr(new, name, nn.Identity())
    return new


def without_se_deleted(model, names):
    new = copy.deepcopy(model)
    for name in names:
        parent, _, child = name.rpartition(".")
        delattr(new.get_submodule(parent) if parent else new, child)
    return new


def without_se_all(model, names):
    return replace_se(model, [n for n, m in model.named_modules() if type(m).__name__ == "SEBlock"])


def without_se_relu(model, names):
    new = copy.deepcopy(model)
    for name in names:
        parent, _, child = name.rpartition(".")
        setattr(new.get_submodule(parent) if parent else new, child, nn.ReLU())
    return new


def without_se_reset(model, names):
    new = without_se(model, names)
    for m in new.modules():
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    return new


def without_se_new_head(model, names):
    new = without_se(model, names)
    new.fc = nn.Linear(new.fc.in_features, 3)        # a head for another task
    return new


def without_se_nan(model, names):
    new = without_se(model, names)
    with torch.no_grad():
        for p in new.parameters():
            p.fill_(float("nan"))
    return new


BANK = {
    "check_gates_of": [
        correct("hook on block.gate, finally (the solution)", gates_of),
        correct("pre-hook on the block, then block.gates", gates_of_pre_hook),
        correct("the handle as a context manager, a NumPy array", gates_of_with),
        wrong("hook never removed", lambda model, x, name: _hook_and_return(model, x, name, lambda b: b.gate, keep=True),
              "still attached"),
        wrong("removed, but not in a finally", gates_no_finally, "forward pass fails"),
        wrong("hooked the block itself", lambda model, x, name: _hook_and_return(model, x, name, lambda b: b),
              "hooked the SE block itself"),
        wrong("hooked fc2", lambda model, x, name: _hook_and_return(model, x, name, lambda b: b.fc2),
              "before the sigmoid"),
        wrong("hooked the squeeze", lambda model, x, name: _hook_and_return(model, x, name, lambda b: b.squeeze),
              "channel means"),
        wrong("hooked fc1", lambda model, x, name: _hook_and_return(model, x, name, lambda b: b.fc1),
              "bottleneck's units"),
        wrong("returned the list", gates_list, "the list your hook filled"),
        malformed("None", lambda model, x, name: None, "forget the return"),
        malformed("str", lambda model, x, name: name, "should be a torch.Tensor"),
        malformed("list", lambda model, x, name: gates_of(model, x, name).tolist(), "Python list"),
        malformed("NaN", lambda model, x, name: gates_of(model, x, name) * float("nan"), "NaN"),
        malformed("dtype", lambda model, x, name: (gates_of(model, x, name) > 0.5).long(), "integer dtype"),
        malformed("shape", lambda model, x, name: gates_of(model, x, name).T, "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_most_suppressed": [
        correct("record_gates and argmin (the solution)", most_suppressed),
        correct("np.argmin, an np.int64", most_suppressed_numpy),
        correct("a loop", most_suppressed_loop),
        correct("a 0-d tensor", lambda model, image, name: gates_of(model, image, name)[0].argmin()),
        wrong("1-based index", lambda model, image, name: most_suppressed(model, image, name) + 1, "numbered from 0"),
        wrong("argmax", lambda model, image, name: int(gates_of(model, image, name)[0].argmax()), "amplified"),
        wrong("smallest activation", lambda model, image, name: int(feature_means(model, image, name).argmin()),
              "smallest mean activation"),
        wrong("smallest after scaling", lambda model, image, name: int(feature_means(model, image, name, True)
                                                                        .argmin()), "after scaling"),
        wrong("the gate value", lambda model, image, name: float(gates_of(model, image, name)[0].min()), "gate value"),
        wrong("all the gates", lambda model, image, name: gates_of(model, image, name)[0], "the gates themselves"),
        malformed("None", lambda model, image, name: None, "forget the return"),
        malformed("str", lambda model, image, name: f"channel {most_suppressed(model, image, name)}", "not text"),
        malformed("list", lambda model, image, name: [most_suppressed(model, image, name)], "not a number"),
        malformed("NaN", lambda model, image, name: float("nan"), "NaN"),
        malformed("dtype", lambda model, image, name: True, "bool"),
        malformed("shape", lambda model, image, name: torch.tensor([1, 2]), "one channel index"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_specificity": [
        correct("triu pairs (the solution)", specificity),
        correct("NumPy, an np.float64", specificity_numpy),
        correct("cdist over all ordered pairs, a 0-d tensor", specificity_cdist),
        correct("the library's class_specificity", class_specificity),
        wrong("between only", lambda g, y: float(torch.stack([
            (a - b).norm() for i, a in enumerate(torch.stack([g[y == k].mean(0) for k in y.unique()]))
            for b in torch.stack([g[y == k].mean(0) for k in y.unique()])[i + 1:]]).mean()), "distance between class means alone"),
        wrong("overall spread", lambda g, y: _spec_variant(g, y, overall=True), "*all* images"),
        wrong("squared distances", lambda g, y: _spec_variant(g, y, squared=True), "squared distances"),
        wrong("mean squared spread", lambda g, y: _spec_variant(g, y, msd=True), "square root"),
        wrong("summed pairs", lambda g, y: _spec_variant(g, y, total=True), "summed the distances"),
        wrong("self pairs", lambda g, y: _spec_variant(g, y, self_pairs=True), "with itself"),
        malformed("None", lambda g, y: None, "forget the return"),
        malformed("str", lambda g, y: f"{specificity(g, y):.3f}", "not text"),
        malformed("list", lambda g, y: [specificity(g, y)], "not a number"),
        malformed("NaN", lambda g, y: float("nan"), "NaN"),
        malformed("dtype", lambda g, y: specificity(g, y) > 0, "bool"),
        malformed("shape", lambda g, y: torch.stack([g[y == k].mean(0) for k in y.unique()]), "one number"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_without_se": [
        correct("deepcopy and setattr on the parent (the solution)", without_se),
        correct("the parent's _modules, walked by hand", without_se_walk),
        correct("the library's replace_se", lambda model, names: replace_se(model, names)),
        wrong("no copy", without_se_no_copy, "in the model it was given"),
        wrong("copy.copy", without_se_shallow, "shallow copy"),
        wrong("setattr with a dotted name", without_se_dotted_setattr, "for a dotted name"),
        wrong("deleted instead", without_se_deleted, "instead of deleting it"),
        wrong("every SE block", without_se_all, "which was not in names"),
        wrong("ReLU instead of Identity", without_se_relu, "expected nn.Identity"),
        wrong("weights reset", without_se_reset, "every weight stays"),
        malformed("None", lambda model, names: None, "forget the return"),
        malformed("str", lambda model, names: str(model), "return the new model"),
        malformed("list", lambda model, names: [without_se(model, names)], "return the new model"),
        malformed("NaN", without_se_nan, "NaN"),
        malformed("dtype", lambda model, names: without_se(model, names).double(), "keep the dtype"),
        malformed("shape", without_se_new_head, "shape"),
        malformed("raises", raises, "ValueError"),
    ],
}
