"""Chapter 4's answers: the scale, how input-dependent the gates are, the block as a composition."""

from __future__ import annotations

import torch

from . import correct, malformed, raises, wrong


def scale_loops(x, s):
    out = x.clone()
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[n, c] = x[n, c] * s[n, c]
    return out


def dependence_loops(gates):
    n, c = gates.shape
    total = 0.0
    for k in range(c):
        column = [gates[i, k].item() for i in range(n)]
        mean = sum(column) / n
        total += (sum((v - mean) ** 2 for v in column) / n) ** 0.5
    return total / c


def compose(x, block):
    s = block.gate(block.fc2(block.relu(block.fc1(block.squeeze(x)))))
    return x * s[:, :, None, None]


def compose_excite(x, block):
    return torch.einsum("nchw,nc->nchw", x, block.excite(block.squeeze(x)))


def compose_sequential(x, block):
    s = torch.nn.Sequential(block.fc1, block.relu, block.fc2, block.gate)(block.squeeze(x))
    return x * s.view(*s.shape, 1, 1)


def compose_own_mean_sigmoid(x, block):
    s = torch.sigmoid(block.fc2(block.relu(block.fc1(x.mean(dim=(2, 3))))))
    return x * s[:, :, None, None]


def compose_own_sigmoid(x, block):
    s = torch.sigmoid(block.fc2(block.relu(block.fc1(block.squeeze(x)))))
    return x * s[:, :, None, None]


def compose_no_relu(x, block):
    return x * block.gate(block.fc2(block.fc1(block.squeeze(x))))[:, :, None, None]


BANK = {
    "check_scale": [
        correct("s[:, :, None, None] (the solution)", lambda x, s: x * s[:, :, None, None]),
        correct("view", lambda x, s: x * s.view(s.shape[0], s.shape[1], 1, 1)),
        correct("einsum", lambda x, s: torch.einsum("nchw,nc->nchw", x, s)),
        correct("loops over images and channels", scale_loops),
        correct("unsqueeze twice, in place on x", lambda x, s: x.mul_(s.unsqueeze(-1).unsqueeze(-1))),
        correct("NumPy", lambda x, s: torch.from_numpy(x.numpy() * s.numpy()[:, :, None, None])),
        wrong("gates broadcast against W", lambda x, s: x * s, "broadcast against W instead of C"),
        wrong("one axis too few", lambda x, s: x * s[:, :, None], "broadcast against H instead of C"),
        wrong("gates returned", lambda x, s: s[:, :, None, None].expand_as(x), "returned the gates"),
        wrong("added", lambda x, s: x + s[:, :, None, None], "added the gates"),
        wrong("divided", lambda x, s: x / s[:, :, None, None], "divided"),
        wrong("1 - s", lambda x, s: x * (1 - s[:, :, None, None]), "1 - s"),
        wrong("batch-mean gates", lambda x, s: x * s.mean(0)[None, :, None, None], "averaged the gates over the batch"),
        wrong("image 0's gates", lambda x, s: x * s[0][None, :, None, None], "gates of image 0"),
        wrong("residual added", lambda x, s: x + x * s[:, :, None, None], "residual"),
        malformed("None", lambda x, s: None, "forget the return"),
        malformed("str", lambda x, s: "x * s", "should be a torch.Tensor"),
        malformed("list", lambda x, s: [x[:, c] * s[:, c, None, None] for c in range(x.shape[1])], "Python list"),
        malformed("NaN", lambda x, s: x * s[:, :, None, None] / 0 * 0, "NaN"),
        malformed("dtype", lambda x, s: (x * s[:, :, None, None]).double(), "torch.float64"),
        malformed("dtype", lambda x, s: (x * s[:, :, None, None]).float(), "dtype torch.float32, but x is torch.float64"),
        malformed("shape", lambda x, s: (x * s[:, :, None, None]).sum(0), "shape"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_input_dependence": [
        correct("std over dim 0, mean, .item() (the solution)", lambda g: g.std(dim=0, correction=0).mean().item()),
        correct("a 0-d tensor", lambda g: g.std(dim=0, unbiased=False).mean()),
        correct("NumPy (an np.float32)", lambda g: g.numpy().std(axis=0).mean()),
        correct("loops", dependence_loops),
        correct("float64", lambda g: float(((g.double() - g.double().mean(0)) ** 2).mean(0).sqrt().mean())),
        wrong("across channels", lambda g: g.std(dim=1, correction=0).mean().item(), "across channels"),
        wrong("sample std", lambda g: g.std(dim=0).mean().item(), "sample standard deviation"),
        wrong("mean of variances", lambda g: g.var(dim=0, correction=0).mean().item(), "averaged variances"),
        wrong("sqrt of mean variance", lambda g: g.var(dim=0, correction=0).mean().sqrt().item(),
              "then took the square root"),
        wrong("one std of everything", lambda g: g.std().item(), "all N*C gates"),
        wrong("the largest std", lambda g: g.std(dim=0, correction=0).max().item(), "largest"),
        wrong("mean gate", lambda g: g.mean().item(), "mean gate"),
        malformed("None", lambda g: None, "forget the return"),
        malformed("str", lambda g: f"{g.std(dim=0, correction=0).mean().item():.4f}", "not text"),
        malformed("list", lambda g: g.std(dim=0, correction=0).tolist(), "one number"),
        malformed("NaN", lambda g: g.std(dim=0, correction=0).mean().item() * float("nan"), "NaN"),
        malformed("dtype", lambda g: bool(g.std(dim=0, correction=0).mean() > 0), "bool"),
        malformed("shape", lambda g: g.std(dim=0, correction=0), "average the per-channel"),
        malformed("raises", raises, "ValueError"),
    ],
    "check_se_compose": [
        correct("the parts in order (the solution)", compose),
        correct("block.excite and einsum", compose_excite),
        correct("an nn.Sequential of the parts", compose_sequential),
        correct("float64 inside, cast back", lambda x, block: compose(x.double(), block.double()).to(x.dtype)),
        wrong("own mean and sigmoid", compose_own_mean_sigmoid, "use block.squeeze and block.gate"),
        wrong("own sigmoid", compose_own_sigmoid, "use block.gate"),
        wrong("no ReLU", compose_no_relu, "skipped block.relu"),
        wrong("gates returned", lambda x, block: block.gate(block.fc2(block.relu(block.fc1(block.squeeze(x))))),
              "(N, C) gates"),
        wrong("softmax", lambda x, block: x * torch.softmax(block.fc2(block.relu(block.fc1(block.squeeze(x)))), 1)
              [:, :, None, None], "softmax"),
        wrong("no gate", lambda x, block: x * block.fc2(block.relu(block.fc1(block.squeeze(x))))[:, :, None, None],
              "skipped block.gate"),
        wrong("residual added", lambda x, block: x + compose(x, block), "residual"),
        wrong("gates broadcast against W", lambda x, block: x * block.gate(block.fc2(block.relu(block.fc1(
            block.squeeze(x))))), "s[:, :, None, None]"),
        wrong("calls block(x)", lambda x, block: block(x), "calling block(x) is what this exercise rebuilds"),
        malformed("None", lambda x, block: None, "forget the return"),
        malformed("str", lambda x, block: repr(block), "should be a torch.Tensor"),
        malformed("list", lambda x, block: list(compose(x, block)), "Python list"),
        malformed("NaN", lambda x, block: compose(x, block) * float("nan"), "NaN"),
        malformed("dtype", lambda x, block: compose(x, block).double(), "torch.float64"),
        malformed("shape", lambda x, block: compose(x, block)[:, :, :-1], "shape"),
        malformed("raises", raises, "ValueError"),
    ],
}
