"""A tiny task built from the shipped photographs, to watch SE gates learn (chapter 4).

The task: given a small random crop, say which photograph it came from. It is cheap
(a few hundred training steps of a three-layer network take seconds on a CPU) and
made only of real images, nothing downloaded. Its point is not accuracy but what
training does to an SE block's gates: a freshly initialised block gives nearly the
same gates to every image; after training they depend on the image.

* :func:`photo_crops`: the data set, ``x (N, 3, size, size)`` and labels ``y (N,)``; with
  ``split="train"`` or ``"test"`` the crops come from disjoint column ranges of each photo
  (:func:`senet_lib.data.split_regions`), so training and held-out crops share no pixel.
* :class:`TinySENet`: conv, conv, SE block, global pooling, linear classifier.
* :func:`train`: a few hundred Adam steps; returns the loss curve.
* :func:`collect_gates`: the SE block's ``(N, C)`` gates for a batch.
* :func:`input_dependence`: one number for how much gates vary from image to image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .block import SEBlock
from .data import split_regions
from .gates import record_gates
from .photos import photo_tensor

__all__ = ["DEFAULT_PHOTOS", "photo_crops", "TinySENet", "train", "collect_gates",
           "input_dependence"]

#: Four photographs that differ in colour and texture.
DEFAULT_PHOTOS: tuple[str, ...] = ("chelsea", "coffee", "rocket", "flower")


def photo_crops(
    names: Sequence[str] = DEFAULT_PHOTOS,
    per_photo: int = 256,
    crop: int = 16,
    photo_size: int = 128,
    seed: int = 0,
    split: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random square crops of photographs, labelled by the photo they come from.

    Each photo is resized and centre-cropped to ``photo_size x photo_size``
    (:func:`senet_lib.photos.photo_tensor`); ``per_photo`` crops of side ``crop`` are
    taken at uniformly random positions, half of them flipped left-right.

    ``split`` chooses where the crops may lie: ``None`` anywhere in the photo; ``"train"``
    only in the left columns and ``"test"`` only in the right ones, the column ranges of
    :func:`senet_lib.data.split_regions` (60 % / 40 %, as chapter 6's patches), so that a
    training crop and a test crop never share a pixel. A crop is never cut by the boundary.

    Returns:
        ``x`` of shape ``(len(names) * per_photo, 3, crop, crop)``, values in ``[0, 1]``,
        and ``y`` of shape ``(len(names) * per_photo,)`` with the index of the photo in
        ``names``; examples are ordered photo by photo.
    """
    if isinstance(names, str) or len(names) < 2:
        raise ValueError(f"names must list at least two photo names, got {names!r}")
    per_photo = _checks.positive_int("per_photo", per_photo)
    crop = _checks.positive_int("crop", crop)
    photo_size = _checks.positive_int("photo_size", photo_size)
    if crop > photo_size:
        raise ValueError(f"crop ({crop}) must not exceed photo_size ({photo_size})")
    if split is None:
        c0, c1 = 0, photo_size
    elif split in ("train", "test"):
        c0, c1 = split_regions(photo_size)[split]
        if c1 - c0 < crop:
            raise ValueError(f"the {split} region of a {photo_size}-pixel photo is {c1 - c0} columns wide, "
                             f"narrower than crop ({crop}): use a larger photo_size or a smaller crop")
    else:
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for label, name in enumerate(names):
        img = photo_tensor(name, photo_size)[0]  # (3, S, S)
        tops = torch.randint(0, photo_size - crop + 1, (per_photo,), generator=g)
        lefts = torch.randint(c0, c1 - crop + 1, (per_photo,), generator=g)
        flips = torch.rand(per_photo, generator=g) < 0.5
        for t, l, f in zip(tops.tolist(), lefts.tolist(), flips.tolist(), strict=True):
            patch = img[:, t:t + crop, l:l + crop]
            xs.append(patch.flip(-1) if f else patch)
        ys.append(torch.full((per_photo,), label, dtype=torch.long))
    return torch.stack(xs), torch.cat(ys)


class TinySENet(nn.Module):
    """``conv3x3 -> ReLU -> maxpool -> conv3x3 -> ReLU -> SE -> global avg pool -> linear``.

    Args:
        classes: number of outputs.
        width: channels of the second convolution, and of the SE block (default 32).
        reduction: the SE block's reduction ratio (default 4: 8 hidden units).

    ``features(x)`` gives the ``(N, width, H/2, W/2)`` map that the SE block (``se``)
    rescales; ``forward(x)`` gives ``(N, classes)`` logits.
    """

    def __init__(self, classes: int, width: int = 32, reduction: int = 4) -> None:
        super().__init__()
        classes = _checks.positive_int("classes", classes)
        width = _checks.positive_int("width", width)
        self.conv1 = nn.Conv2d(3, width // 2, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(width // 2, width, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.se = SEBlock(width, reduction)
        self.head = nn.Linear(width, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W) -> (N, width, H/2, W/2)``: the map the SE block sees."""
        return self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.se(self.features(x))
        return self.head(u.mean(dim=(2, 3)))


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    threads: int | None = 1,
) -> list[float]:
    """Train ``model`` with Adam and cross-entropy on random mini-batches of ``(x, y)``.

    Args:
        model: maps ``(B, 3, H, W)`` to ``(B, classes)`` logits; trained in place.
        x: ``(N, 3, H, W)`` inputs; y: ``(N,)`` integer labels.
        steps: number of optimiser steps.
        batch_size: examples per step, drawn with a generator seeded by ``seed``.
        lr: Adam's learning rate.
        threads: PyTorch intra-op threads while training (restored afterwards); ``None``
            keeps the current setting. The default, 1, suits tensors this small: on a
            busy machine, extra threads wait for each other and one step can take
            many times longer.

    Returns:
        The training loss at each step (``steps`` floats).
    """
    steps = _checks.positive_int("steps", steps)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
    if threads is not None:
        threads = _checks.positive_int("threads", threads)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        model.train()
        losses = []
        for _ in range(steps):
            idx = torch.randint(0, x.shape[0], (batch_size,), generator=g)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(previous_threads)
        model.eval()
    return losses


def collect_gates(model: TinySENet, x: torch.Tensor) -> torch.Tensor:
    """The SE block's gates for every image of ``x (N, 3, H, W)``: ``(N, width)``.

    Recorded by a forward hook on the block's gate (:func:`senet_lib.gates.record_gates`),
    in eval mode and without gradients; the model's mode is restored afterwards.
    """
    if not isinstance(model, TinySENet):
        raise TypeError(f"model must be a TinySENet, got {type(model).__name__}")
    return record_gates(model, x, "se")["se"]


def input_dependence(gates: torch.Tensor) -> float:
    """How much gates change from image to image.

    For ``gates`` of shape ``(N, C)``: the standard deviation over the ``N`` images
    (population, ``correction=0``) of each channel's gate, averaged over the ``C``
    channels. Zero means every image gets the same gates.
    """
    if not isinstance(gates, torch.Tensor) or gates.dim() != 2:
        raise ValueError(f"gates must be an (N, C) tensor, got {getattr(gates, 'shape', gates)!r}")
    return gates.std(dim=0, correction=0).mean().item()
