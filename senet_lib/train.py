"""A short, readable training loop: SGD with momentum, warm-up + cosine schedule, weight decay.

:func:`train` trains a classifier for a number of epochs and returns a :class:`History`
with one entry per epoch (loss and accuracy on the training and the test data, learning
rate, seconds). Runs are reproducible: the same ``seed`` gives the same shuffling, the
same augmentation and the same numbers on the same CPU (PyTorch's CPU kernels used here
are deterministic; on a GPU small differences remain unless you enable
``torch.use_deterministic_algorithms``).

Progress is a tqdm text bar over all batches (``progress=False`` turns it off). In a
terminal it goes to stdout; in a notebook it is one output that updates in place, so
the executed pages of the book keep just its final state (see :class:`_DisplayLine`).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import _checks

__all__ = ["History", "train", "evaluate", "pick_device", "random_flip", "lr_at"]


@dataclass
class History:
    """Per-epoch record of a training run; ``history.epoch[i]`` goes with ``history.test_acc[i]``.

    Accuracies are fractions in ``[0, 1]``. ``to_dict()`` gives plain lists (JSON-ready,
    and ``pandas.DataFrame(history.to_dict())`` makes a table).
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        """The history as ``{column: list}``."""
        return asdict(self)

    def __len__(self) -> int:
        return len(self.epoch)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image of the batch ``(N, C, H, W)`` left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)


def lr_at(step: int, total_steps: int, base_lr: float, warmup_steps: int) -> float:
    """Learning rate at ``step``: linear warm-up to ``base_lr``, then cosine decay to 0."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * t))


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | None = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader`` (batches of ``(x (N,C,H,W), y (N,))``)."""
    device = pick_device(device)
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return total_loss / n, correct / n


class _DisplayLine:
    """A file-like target for tqdm that shows the bar as one updatable notebook output.

    tqdm writes ``"\\r" + bar`` to its file; in a Jupyter kernel plain text output would keep
    every state (a saved notebook and the rendered book would show dozens of lines). Here
    each state replaces the previous one through an IPython display handle
    (``update_display_data``), which JupyterLab, Colab and nbclient all honour, so the
    live page shows a moving bar and the saved page shows its final state only.
    """

    def __init__(self) -> None:
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, s: str) -> None:
        text = s.replace("\r", "").strip("\n")
        if text:
            self._handle.update(self._pretty(text))

    def flush(self) -> None:
        pass


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a terminal."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except ImportError:
        return False


def _progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm text bar: to stdout in a terminal, as one updatable output in a notebook.

    The text bar (not ``tqdm.auto``'s widget) is used on purpose: the widget needs
    ``ipywidgets`` and its saved state, without which the rendered book shows nothing
    or a placeholder.
    """
    from tqdm.std import tqdm

    out = _DisplayLine() if (enabled and _in_notebook()) else sys.stdout
    return tqdm(total=total, desc=desc, unit="batch", disable=not enabled, file=out,
                mininterval=0.5)


def train(
    model: nn.Module,
    train_data: Dataset,
    test_data: Dataset | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    warmup_epochs: float = 1.0,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = random_flip,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` in place with SGD (Nesterov momentum) and a warm-up + cosine schedule.

    Args:
        model: maps ``(N, C, H, W)`` images to ``(N, num_classes)`` logits.
        train_data, test_data: datasets of ``(image (C, H, W), label)`` pairs; the test data
            (optional) is evaluated after every epoch.
        epochs: passes over ``train_data``.
        batch_size: images per step; the last, smaller batch of an epoch is dropped.
        lr: peak learning rate, reached after ``warmup_epochs`` and decayed to 0 by a cosine.
        momentum, weight_decay: of SGD; weight decay is not applied to batch-norm and bias
            parameters (1-D tensors).
        augment: ``augment(x, generator)`` applied to each training batch; ``None`` for none.
        seed: seeds the shuffling and the augmentation (the model's initialisation is
            whatever it is when you pass it: seed before you build it).
        device: ``"cpu"``, ``"cuda"``, ...; default: CUDA if available.
        progress: show a tqdm bar.
        desc: the bar's label.

    Returns:
        A :class:`History`, one entry per epoch.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = _checks.positive_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if len(train_data) < batch_size:
        raise ValueError(
            f"batch_size={batch_size} is larger than the training set ({len(train_data)} samples): "
            "with the last incomplete batch dropped there would be nothing to train on"
        )
    device = pick_device(device)
    model.to(device)

    gen = torch.Generator().manual_seed(seed)  # shuffling and augmentation
    loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=gen)
    test_loader = (DataLoader(test_data, batch_size=256) if test_data is not None else None)

    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=momentum, nesterov=momentum > 0,
    )
    steps_per_epoch = len(loader)
    total_steps = epochs * steps_per_epoch
    warmup_steps = max(1, round(warmup_epochs * steps_per_epoch))

    history = History()
    step = 0
    with _progress_bar(total_steps, desc, progress) as bar:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            seen, loss_sum, correct = 0, 0.0, 0
            for x, y in loader:
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, lr, warmup_steps)
                x, y = x.to(device), y.to(device)
                if augment is not None:
                    x = augment(x, gen)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                seen += len(y)
                loss_sum += loss.item() * len(y)
                correct += (logits.argmax(1) == y).sum().item()
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss_sum / seen:.3f}",
                                acc=f"{correct / seen:.3f}", refresh=False)
            test_loss, test_acc = (evaluate(model, test_loader, device)
                                   if test_loader is not None else (math.nan, math.nan))
            history.epoch.append(epoch)
            history.train_loss.append(loss_sum / seen)
            history.train_acc.append(correct / seen)
            history.test_loss.append(test_loss)
            history.test_acc.append(test_acc)
            history.lr.append(optimizer.param_groups[0]["lr"])
            history.seconds.append(time.perf_counter() - start)
            if test_loader is not None:
                bar.set_postfix(epoch=epoch, loss=f"{loss_sum / seen:.3f}",
                                acc=f"{correct / seen:.3f}", test_acc=f"{test_acc:.3f}")
    model.eval()
    return history
