"""A short, readable training loop: SGD with momentum, warm-up + cosine schedule, weight decay.

:func:`train` trains a classifier for a number of epochs and returns a :class:`History`
with one entry per epoch (loss and accuracy on the training and the test data, learning
rate, seconds). Each step is :func:`train_step`: forward, cross-entropy, backward, update.
Runs are reproducible: the same ``seed`` gives the same shuffling, the same augmentation and
the same numbers on the same CPU (PyTorch's CPU kernels used here are deterministic; on a GPU
small differences remain unless you enable ``torch.use_deterministic_algorithms``).

Scoring a trained model: :func:`evaluate` (a ``DataLoader``), :func:`outputs`, :func:`predict`,
:func:`accuracy` (tensors in memory); :func:`throughput` times the training step. What differs
under ``torchrun`` is in :mod:`senet_lib.distributed`, the progress bar in
:mod:`senet_lib.progress`, the choice of device in :mod:`senet_lib.device`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import _checks, distributed
from .device import pick_device
from .progress import progress_bar

__all__ = ["History", "train", "train_step", "sgd", "evaluate", "outputs", "predict", "accuracy",
           "throughput", "random_flip", "lr_at"]


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

    def append(self, **row: float) -> None:
        """Add one epoch's row: a value for every column."""
        if set(row) != set(self.to_dict()):
            raise ValueError(f"a row needs the columns {list(self.to_dict())}, got {sorted(row)}")
        for name, value in row.items():
            getattr(self, name).append(value)


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


def sgd(model: nn.Module, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    """SGD with Nesterov momentum; weight decay on the weights (tensors of 2 or more dimensions),
    not on batch-norm and bias parameters."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=momentum, nesterov=momentum > 0,
    )


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               *, amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One step on the batch ``x (N, C, H, W)``, ``y (N,)``: forward, cross-entropy, backward,
    update. Returns the batch's mean loss (a scalar) and its logits ``(N, K)``, detached.
    ``amp``: the forward pass in bfloat16 (``torch.autocast``), the loss in float32."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = net(x)
        loss = F.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


# --------------------------------------------------------------------------------------------
# Scoring a model. Every score runs the model through `outputs` (eval mode, no gradients,
# modes restored) and takes the top-1 class as `argmax(1)`: `evaluate` for a DataLoader
# (loss too, as the training loop reports it), `predict` and `accuracy` for tensors in memory.
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def outputs(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """The outputs ``(N, K)`` of ``model`` for ``images (N, C, H, W)``, ``batch_size`` at a time.

    The model runs in eval mode without gradients; every module's train/eval mode is restored
    afterwards (also when the forward pass raises).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    images = _checks.feature_map("images", images)
    if len(images) == 0:
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    batch_size = _checks.positive_int("batch_size", batch_size)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    finally:
        for m, mode in modes:
            m.training = mode


def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Top-1 class ``(N,)`` of ``model`` (eval mode) for ``images (N, C, H, W)``."""
    return outputs(model, images, batch_size=batch_size).argmax(1)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
             batch_size: int = 256) -> float:
    """Top-1 accuracy (a fraction in ``[0, 1]``) of ``model`` (eval mode) on ``images (N, C, H, W)``
    with integer ``labels (N,)``."""
    images = _checks.feature_map("images", images)
    labels = _checks.class_labels(labels, len(images))
    return float((predict(model, images, batch_size=batch_size) == labels.to(images.device)).double().mean())


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | None = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader`` (batches of ``(x (N,C,H,W), y (N,))``)."""
    device = pick_device(device)
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = outputs(model, x, batch_size=len(x))
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    if n == 0:
        raise ValueError("loader gave no examples: cannot evaluate on an empty dataset")
    return total_loss / n, correct / n


def _check_arguments(model, train_data, epochs, batch_size, lr, amp, channels_last) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _checks.positive_int("epochs", epochs)
    _checks.positive_int("batch_size", batch_size)
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if len(train_data) < batch_size:
        raise ValueError(
            f"batch_size={batch_size} is larger than the training set ({len(train_data)} samples): "
            "with the last incomplete batch dropped there would be nothing to train on"
        )
    _checks.boolean("amp", amp)
    _checks.boolean("channels_last", channels_last)
    if batch_size % distributed.world():
        raise ValueError(f"batch_size={batch_size} must be divisible by the number of processes "
                         f"({distributed.world()}): each process takes batch_size / "
                         f"{distributed.world()} images per step")


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
    amp: bool = False,
    channels_last: bool = False,
) -> History:
    """Train ``model`` in place with SGD (Nesterov momentum) and a warm-up + cosine schedule.

    Args:
        model: maps ``(N, C, H, W)`` images to ``(N, num_classes)`` logits.
        train_data, test_data: datasets of ``(image (C, H, W), label)`` pairs; the test data
            (optional) is evaluated after every epoch.
        epochs: passes over ``train_data``.
        batch_size: images per step; the last, smaller batch of an epoch is dropped.
        lr: peak learning rate, reached after ``warmup_epochs`` and decayed to 0 by a cosine.
        momentum, weight_decay: of SGD (:func:`sgd`).
        augment: ``augment(x, generator)`` applied to each training batch; ``None`` for none.
        seed: seeds the shuffling and the augmentation (the model's initialisation is
            whatever it is when you pass it: seed before you build it).
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default (``None`` / ``"auto"``): the best there is.
        progress: show a tqdm bar.
        desc: the bar's label.
        amp: compute the forward pass in bfloat16 (``torch.autocast``); the weights stay float32.
        channels_last: store images and weights channels-last (faster convolutions on GPUs).

    Under ``torchrun`` (a running process group) training is data-parallel
    (:mod:`senet_lib.distributed`): ``batch_size`` is the global batch, split evenly across the
    processes; each process draws its share of every epoch with a ``DistributedSampler`` seeded
    by ``seed`` and augments with a generator seeded from ``seed`` and its rank; gradients are
    averaged, so every process holds the same weights. Batch norm becomes ``SyncBatchNorm`` on
    CUDA; on the CPU (gloo) each process normalises with its own share. The history covers the
    global batch.

    Returns:
        A :class:`History`, one entry per epoch.
    """
    _check_arguments(model, train_data, epochs, batch_size, lr, amp, channels_last)
    device = pick_device(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    net = distributed.data_parallel(model, device)
    gen = torch.Generator().manual_seed(seed + 1_000_003 * distributed.rank())  # shuffle, augment
    loader = distributed.train_loader(train_data, batch_size, gen, seed)
    test_loader = DataLoader(test_data, batch_size=256) if test_data is not None else None
    optimizer = sgd(model, lr, momentum, weight_decay)
    total_steps = epochs * len(loader)
    warmup_steps = max(1, round(warmup_epochs * len(loader)))

    history, step = History(), 0
    with progress_bar(total_steps, desc, progress and distributed.rank() == 0) as bar:
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
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                loss, logits = train_step(net, optimizer, x, y, amp=amp)
                step += 1
                seen += len(y)
                loss_sum += loss.item() * len(y)
                correct += (logits.argmax(1) == y).sum().item()
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                                refresh=False)
            # sums over all processes (floats under torchrun)
            seen_all, loss_all, correct_all = distributed.all_reduce_sum(seen, loss_sum, correct, device=device)
            test_loss, test_acc = (evaluate(model, test_loader, device) if test_loader is not None
                                   else (math.nan, math.nan))
            history.append(epoch=epoch, train_loss=loss_all / seen_all, train_acc=correct_all / seen_all,
                           test_loss=test_loss, test_acc=test_acc, lr=optimizer.param_groups[0]["lr"],
                           seconds=time.perf_counter() - start)
            if test_loader is not None:
                bar.set_postfix(epoch=epoch, loss=f"{loss_all / seen_all:.3f}",
                                acc=f"{correct_all / seen_all:.3f}", test_acc=f"{test_acc:.3f}")
    model.eval()
    return history


def throughput(model: nn.Module, *, batch_size: int = 128, steps: int = 3, warmup: int = 1,
               image_size: int = 32, num_classes: int = 10, device: str | torch.device | None = "cpu",
               amp: bool = False) -> float:
    """Training images per second of ``model``: ``steps`` calls of :func:`train_step` (after
    ``warmup`` untimed ones) on random ``(batch_size, 3, image_size, image_size)`` batches, the
    work :func:`train` does per step. The model's weights change."""
    batch_size = _checks.positive_int("batch_size", batch_size)
    steps = _checks.positive_int("steps", steps)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    device = pick_device(device)
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for i in range(warmup + steps):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        train_step(model, optimizer, x, y, amp=amp)
    sync()
    return steps * batch_size / (time.perf_counter() - t0)
