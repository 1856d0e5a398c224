"""Data for training chapters: photo patches (offline) and CIFAR-10 (online readers).

**Photo patches** (:func:`photo_patches`). Each class is one real photograph that ships
with an installed package (:mod:`senet_lib.photos`); a sample is a ``32 x 32`` patch of
it. The task is "which photograph is this patch from?". To make train and test honest,
each photo (resized so its shorter side is :data:`PHOTO_SIDE` pixels) is cut in two by a
vertical line: training patches come only from the left :data:`TRAIN_FRACTION` of the
columns, test patches only from the rest, so no pixel is shared between the splits
(:func:`split_regions` gives the column ranges; the tests check them).

Every patch gets its own random **colour cast and exposure**: its red, green and blue
channels are multiplied by three random gains and the whole patch by a brightness
factor, as if photographed under a different light with a different white balance.
That nuisance is what per-image channel recalibration is for. Batch norm rescales a
channel by the same statistics for every image, so it cannot undo a cast that differs
from image to image; an SE block computes its gates from *this* image's channel means,
so it can. Whether that helps a small network in a short training run is what chapter 6
measures, not what it assumes.

Patches are generated deterministically from ``seed``: the same arguments give the same
tensors on every machine (NumPy's PCG64 generator, then a fixed resize).

**CIFAR-10** (:func:`cifar10`) uses torchvision's loader with ``download=False`` by
default: nothing is fetched unless you ask for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from . import _checks
from .photos import PHOTOS, load_photo

if TYPE_CHECKING:
    from torchvision.datasets import CIFAR10

__all__ = [
    "PHOTO_CLASSES", "PHOTO_SIDE", "TRAIN_FRACTION", "PatchData", "photo_patches",
    "split_regions", "resized_photo", "colour_cast", "normalize", "cifar10", "CIFAR10_CLASSES",
    "CIFAR10_MEAN", "CIFAR10_STD",
]

#: The photographs used as classes (10, like CIFAR-10). The Hubble deep field is left
#: out: its patches are almost all black sky, as are the corners of the retina photo.
PHOTO_CLASSES: tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "rocket", "retina", "immunohistochemistry",
    "motorcycle", "china", "flower", "grace_hopper",
)
#: Each photo is resized so that its shorter side has this many pixels.
PHOTO_SIDE = 256
#: Training patches come from the left ``TRAIN_FRACTION`` of each photo's columns.
TRAIN_FRACTION = 0.6

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
#: Per-channel mean and standard deviation of the CIFAR-10 training images.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclass
class PatchData:
    """Patches of one split.

    Attributes:
        images: ``(N, 3, size, size)`` float32 in ``[0, 1]``, colour cast applied, *not*
            normalised (so they can be shown as they are).
        labels: ``(N,)`` int64 class indices into ``class_names``.
        class_names: the photo names, one per class.
        credits: the credit line of each photo, same order.
        split: ``"train"`` or ``"test"``.
        gains: ``(N, 3)`` the colour-cast factor applied to each patch's R, G, B.
        boxes: ``(N, 3)`` int64 ``(top, left, side)`` of each patch in its resized photo,
            so anyone can check which pixels a patch came from.
        mean, std: per-channel statistics of the training split drawn with the same arguments
            (so a test split of another size carries other statistics than the model's:
            see :meth:`dataset`).
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    credits: list[str]
    split: str
    gains: torch.Tensor
    boxes: torch.Tensor
    mean: tuple[float, float, float] = field(default=(0.5, 0.5, 0.5))
    std: tuple[float, float, float] = field(default=(0.25, 0.25, 0.25))

    def __len__(self) -> int:
        return len(self.labels)

    def dataset(self, mean: tuple[float, ...] | list[float] | None = None,
                std: tuple[float, ...] | list[float] | None = None) -> TensorDataset:
        """A ``TensorDataset`` of ``(normalised image (3, s, s), label)`` pairs.

        ``mean`` and ``std`` default to this object's: the statistics of the training split
        drawn with the *same* arguments. To evaluate a trained model, pass the statistics it
        was trained with (a checkpoint's ``meta["mean"]``, ``meta["std"]``, or the training
        ``PatchData``'s): ``photo_patches("test", 100)`` carries the statistics of a training
        draw of 100 patches per photo, which differ from those of a model trained on 400.
        """
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std (the model's training statistics), or neither")
        mean, std = (self.mean, self.std) if mean is None or std is None else (tuple(mean), tuple(std))
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std must hold 3 numbers each, std > 0; got {mean!r}, {std!r}")
        return TensorDataset(normalize(self.images, mean, std), self.labels)


def split_regions(width: int, train_fraction: float = TRAIN_FRACTION) -> dict[str, tuple[int, int]]:
    """Column ranges ``[start, stop)`` of the train and test regions of a photo ``width`` wide.

    The ranges do not overlap: ``train = [0, b)`` and ``test = [b, width)`` with
    ``b = round(train_fraction * width)``.
    """
    width = _checks.positive_int("width", width)
    if not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(f"train_fraction must be strictly between 0 and 1, got {train_fraction!r}")
    b = round(train_fraction * width)
    return {"train": (0, b), "test": (b, width)}


def colour_cast(images: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Multiply channel ``c`` of image ``n`` by ``gains[n, c]`` and clip to ``[0, 1]``.

    ``images`` is ``(N, 3, H, W)`` in ``[0, 1]``, ``gains`` is ``(N, 3)``; returns ``(N, 3, H, W)``.
    """
    _checks.feature_map("images", images, 3)
    if not isinstance(gains, torch.Tensor) or tuple(gains.shape) != (images.shape[0], 3):
        raise ValueError(
            f"gains must be a tensor of shape ({images.shape[0]}, 3), got {getattr(gains, 'shape', gains)!r}"
        )
    return (images * gains[:, :, None, None].to(images.dtype)).clamp(0.0, 1.0)


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``(images - mean) / std`` per channel; ``images`` is ``(N, 3, H, W)``."""
    _checks.feature_map("images", images, len(mean))
    m = torch.tensor(mean, dtype=images.dtype)[None, :, None, None]
    s = torch.tensor(std, dtype=images.dtype)[None, :, None, None]
    return (images - m) / s


def resized_photo(name: str) -> torch.Tensor:
    """Photo ``name`` as ``(3, H, W)`` float32 in ``[0, 1]``, resized so ``min(H, W) == PHOTO_SIDE``.

    This is the image that :func:`photo_patches` cuts its patches from (``boxes`` refer
    to its pixels).
    """
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {list(PHOTOS)}, got {name!r}")
    return _resized_photo(name).clone()


@functools.lru_cache(maxsize=16)
def _resized_photo(name: str) -> torch.Tensor:
    img = torch.from_numpy(np.array(load_photo(name), copy=True)).permute(2, 0, 1)[None].float() / 255.0
    h, w = img.shape[-2:]
    k = PHOTO_SIDE / min(h, w)
    img = F.interpolate(img, size=(round(h * k), round(w * k)), mode="bilinear",
                        align_corners=False, antialias=True)
    return img[0].clamp(0.0, 1.0)


def photo_patches(
    split: str = "train",
    per_class: int = 300,
    *,
    seed: int = 0,
    size: int = 32,
    classes: tuple[str, ...] | list[str] = PHOTO_CLASSES,
    max_cast: float = 0.5,
    max_exposure: float = 0.5,
    scale: tuple[int, int] = (32, 64),
) -> PatchData:
    """Random square patches of real photographs, one class per photograph.

    Args:
        split: ``"train"`` (left part of every photo) or ``"test"`` (right part).
        per_class: number of patches per photograph.
        seed: seed of the generator; the two splits use different streams of it.
        size: side of the returned patches, in pixels.
        classes: which photos (names from :data:`senet_lib.photos.PHOTOS`), at least 2.
        max_cast: each channel's gain is ``exp(u)``, ``u`` uniform in ``[-max_cast, max_cast]``
            (0.5 gives gains between 0.61 and 1.65): the colour cast.
        max_exposure: a common factor ``exp(v)``, ``v`` uniform in ``[-max_exposure, max_exposure]``.
        scale: a patch is cut with a side drawn uniformly from ``scale`` (inclusive), in
            pixels of the resized photo (:func:`resized_photo`), then resized to ``size``;
            half of the patches are mirrored left-right.

    Returns:
        A :class:`PatchData` with ``images (len(classes) * per_class, 3, size, size)``; the
        patches are grouped by class, in the order of ``classes``. Both splits carry the
        normalisation statistics of the training split made with the same arguments.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    per_class = _checks.positive_int("per_class", per_class)
    size = _checks.positive_int("size", size)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    classes = list(classes)
    unknown = [c for c in classes if c not in PHOTOS]
    if len(classes) < 2 or unknown or len(set(classes)) != len(classes):
        raise ValueError(
            f"classes must be at least 2 distinct names from {list(PHOTOS)}, got {classes!r}"
        )
    lo, hi = scale
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ValueError(f"scale must be a pair of ints 1 <= lo <= hi, got {scale!r}")
    for name, v in (("max_cast", max_cast), ("max_exposure", max_exposure)):
        if not 0.0 <= float(v) <= 2.0:
            raise ValueError(f"{name} must be between 0 and 2, got {v!r}")

    key = (per_class, seed, size, tuple(classes), float(max_cast), float(max_exposure), (lo, hi))
    imgs, gains, boxes = _patches(split, *key)
    train_imgs = imgs if split == "train" else _patches("train", *key)[0]
    # normalise both splits with the statistics of the training split
    mean = tuple(round(v, 4) for v in train_imgs.mean(dim=(0, 2, 3)).tolist())
    std = tuple(round(v, 4) for v in train_imgs.std(dim=(0, 2, 3)).tolist())
    labels = torch.arange(len(classes)).repeat_interleave(per_class)
    return PatchData(imgs.clone(), labels, classes, [PHOTOS[c].credit for c in classes], split,
                     gains.clone(), boxes.clone(), mean, std)


@functools.lru_cache(maxsize=4)
def _patches(split, per_class, seed, size, classes, max_cast, max_exposure, scale):
    """The work of :func:`photo_patches`: ``(images (N, 3, size, size), gains (N, 3), boxes (N, 3))``.

    Cached (the test split needs the training split's statistics); callers clone.
    """
    stream = {"train": 0, "test": 1}[split]
    rng = np.random.default_rng([seed, stream])
    out, all_gains, boxes = [], [], []
    for name in classes:
        photo = _resized_photo(name)
        h, w = photo.shape[-2:]
        c0, c1 = split_regions(w)[split]
        for _ in range(per_class):
            side = int(rng.integers(scale[0], scale[1] + 1))
            side = min(side, c1 - c0, h)
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(c0, c1 - side + 1))
            patch = photo[None, :, top:top + side, left:left + side]
            boxes.append((top, left, side))
            if rng.random() < 0.5:
                patch = patch.flip(-1)
            out.append(F.interpolate(patch, size=(size, size), mode="bilinear",
                                     align_corners=False, antialias=True))
            cast = np.exp(rng.uniform(-max_cast, max_cast, size=3))
            exposure = np.exp(rng.uniform(-max_exposure, max_exposure))
            all_gains.append(cast * exposure)
    gains = torch.tensor(np.array(all_gains), dtype=torch.float32)
    images = colour_cast(torch.cat(out).clamp(0.0, 1.0), gains).contiguous()
    return images, gains, torch.tensor(boxes, dtype=torch.int64)


def cifar10(root: str | Path, train: bool = True, *, download: bool = False,
            augment: bool | None = None) -> CIFAR10:
    """CIFAR-10 via ``torchvision.datasets.CIFAR10``, normalised, optionally augmented.

    Args:
        root: the folder that holds (or will hold) ``cifar-10-batches-py/``.
        train: the 50,000 training images, or the 10,000 test images.
        download: fetch the archive (about 170 MB) if missing. Off by default: the book
            never downloads anything unless a reader turns this on.
        augment: random crop (padding 4) and horizontal flip; defaults to ``train``.

    Returns:
        A dataset of ``(image (3, 32, 32) float32 normalised, label int)`` pairs.
    """
    import torchvision
    from torchvision import transforms as T

    if augment is None:
        augment = train
    steps: list[Callable[..., Any]] = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []
    steps += [T.ToTensor(), T.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    root = Path(root)
    if not download and not (root / "cifar-10-batches-py").is_dir():
        raise FileNotFoundError(
            f"no CIFAR-10 in {str(root)!r} (expected the folder cifar-10-batches-py inside it); "
            "pass download=True to fetch it (about 170 MB), or point root at an existing copy"
        )
    return torchvision.datasets.CIFAR10(str(root), train=train, download=download,
                                        transform=T.Compose(steps))
