"""Real photographs that ship inside installed packages: nothing is downloaded.

Each photo has a loader and a credit line. ``load_photo(name)`` gives an
``(H, W, 3)`` ``uint8`` array; ``photo_tensor(name, size)`` gives a
``(1, 3, size, size)`` float tensor in ``[0, 1]`` ready for a network;
``photo_views(names, per_photo)`` gives random square crops of several photos, labelled by
the photo each comes from.

Sources: scikit-image's ``skimage.data`` (van der Walt et al., 2014), scikit-learn's
``load_sample_images`` and matplotlib's sample data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import _checks

__all__ = ["PHOTOS", "Photo", "photo_names", "load_photo", "photo_tensor", "to_tensor",
           "photo_views"]


@dataclass(frozen=True)
class Photo:
    """A photograph that ships with an installed package."""

    name: str
    package: str
    credit: str
    load: Callable[[], np.ndarray]


def _skimage(fn_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, fn_name)()

    return load


def _sklearn(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            from sklearn.datasets import load_sample_image
        except ImportError as e:  # scikit-learn is in the "book" extra
            raise ImportError(
                f"photo {file_name!r} ships with scikit-learn, which is not installed: "
                "pip install scikit-learn"
            ) from e
        return load_sample_image(file_name)

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    import matplotlib.image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return np.asarray(matplotlib.image.imread(path, format="jpg"))


PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in [
        Photo("astronaut", "scikit-image", "Eileen Collins, NASA Great Images; public domain",
              _skimage("astronaut")),
        Photo("chelsea", "scikit-image", "Chelsea the cat, Stefan van der Walt; CC0",
              _skimage("chelsea")),
        Photo("coffee", "scikit-image", "Coffee cup, Rachel Michetti (Pikolo Espresso Bar); CC0",
              _skimage("coffee")),
        Photo("rocket", "scikit-image", "DSCOVR launch on Falcon 9, SpaceX; public domain",
              _skimage("rocket")),
        Photo("hubble_deep_field", "scikit-image", "Hubble eXtreme Deep Field, NASA; public domain",
              _skimage("hubble_deep_field")),
        Photo("retina", "scikit-image", "Fundus photograph of a left eye, Wikimedia Commons; CC0",
              _skimage("retina")),
        Photo("immunohistochemistry", "scikit-image",
              "IHC staining of colonic glands, CMMI; no known copyright restrictions",
              _skimage("immunohistochemistry")),
        Photo("motorcycle", "scikit-image", "Motorcycle (left view), Middlebury stereo data set",
              lambda: _skimage("stereo_motorcycle")()[0]),
        Photo("china", "scikit-learn", "Chinese temple, danielbuechele on Flickr; CC BY 2.0",
              _sklearn("china.jpg")),
        Photo("flower", "scikit-learn", "Flower, vultilion on Flickr; CC BY 2.0",
              _sklearn("flower.jpg")),
        Photo("grace_hopper", "matplotlib", "Rear Admiral Grace Hopper, U.S. Navy; public domain",
              _grace_hopper),
    ]
}


def photo_names() -> list[str]:
    """Names of all photographs, in a fixed order."""
    return list(PHOTOS)


def load_photo(name: str) -> np.ndarray:
    """The photograph ``name`` as an ``(H, W, 3)`` ``uint8`` array."""
    if not isinstance(name, str) or name not in PHOTOS:
        raise ValueError(f"name must be one of {photo_names()}, got {name!r}")
    img = np.asarray(PHOTOS[name].load())
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"photo {name!r} loaded with unexpected shape {img.shape}")
    img = img[:, :, :3]
    if img.dtype != np.uint8:
        img = np.clip(img * (255 if img.max() <= 1 else 1), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def to_tensor(img: np.ndarray, size: int | None = None) -> torch.Tensor:
    """``(H, W, 3)`` uint8 array -> ``(1, 3, H', W')`` float32 tensor in ``[0, 1]``.

    With ``size``, the shorter side is resized to ``size`` and the centre cropped
    to a ``size x size`` square (bilinear, antialiased).
    """
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        shape = getattr(img, "shape", None)
        raise ValueError(f"img must be an (H, W, 3) numpy array, got shape {shape}")
    x = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float() / 255.0
    if size is None:
        return x
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"size must be a positive int or None, got {size!r}")
    h, w = x.shape[-2:]
    k = size / min(h, w)
    x = F.interpolate(x, size=(max(size, round(h * k)), max(size, round(w * k))),
                      mode="bilinear", align_corners=False, antialias=True)
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[:, :, top:top + size, left:left + size].clamp_(0, 1).contiguous()


def photo_tensor(name: str, size: int | None = 224) -> torch.Tensor:
    """The photograph ``name`` as a ``(1, 3, size, size)`` float tensor in ``[0, 1]``."""
    return to_tensor(load_photo(name), size)


def photo_views(
    names: Sequence[str], per_photo: int, size: int = 224, *, seed: int = 0,
    min_scale: float = 0.35,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random square crops of each photograph, resized to ``size`` (random flips too).

    Each crop covers a side between ``min_scale`` and 1 times the photo's shorter side, at a
    random place; half of them (at random) are mirrored left-right. The same ``seed`` gives
    the same crops.

    Returns:
        ``(images (len(names) * per_photo, 3, size, size) in [0, 1], labels (len(names) * per_photo,))``,
        where ``labels[i]`` is the index in ``names`` of the photo crop ``i`` comes from;
        crops are ordered photo by photo.
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a list of photo names, not one str ({names!r})")
    names = list(names)
    if not names:
        raise ValueError(f"names must list at least one photo, from {photo_names()}")
    per_photo = _checks.positive_int("per_photo", per_photo)
    size = _checks.positive_int("size", size)
    if isinstance(min_scale, bool) or not isinstance(min_scale, (int, float)) or not 0.0 < min_scale <= 1.0:
        raise ValueError(f"min_scale must be a number in (0, 1], got {min_scale!r}")
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        img = to_tensor(load_photo(name))                     # (1, 3, H, W)
        h, w = img.shape[-2:]
        for _ in range(per_photo):
            side = max(1, round(min(h, w) * rng.uniform(min_scale, 1.0)))
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(0, w - side + 1))
            crop = img[:, :, top:top + side, left:left + side]
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            out.append(F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False,
                                     antialias=True))
    labels = torch.arange(len(names)).repeat_interleave(per_photo)
    return torch.cat(out).clamp(0, 1), labels
