"""senet_lib.photos: the shipped photographs, and random views of them (photo_views)."""

from __future__ import annotations

import pytest
import torch

from senet_lib.photos import load_photo, photo_views, to_tensor


def test_photo_views_shapes_labels_range_and_seed():
    imgs, labels = photo_views(["chelsea", "coffee"], per_photo=2, size=64, seed=0)
    assert imgs.shape == (4, 3, 64, 64) and imgs.dtype == torch.float32
    assert labels.tolist() == [0, 0, 1, 1]
    assert 0.0 <= imgs.min() and imgs.max() <= 1.0
    again, _ = photo_views(["chelsea", "coffee"], per_photo=2, size=64, seed=0)
    assert torch.equal(imgs, again)
    other, _ = photo_views(["chelsea", "coffee"], per_photo=2, size=64, seed=1)
    assert not torch.equal(imgs, other)


def test_photo_view_of_the_whole_photo_is_the_resized_photo():
    # min_scale=1 on a square photo: the crop is the whole photo (maybe mirrored), resized
    img = to_tensor(load_photo("astronaut"))          # 512 x 512
    assert img.shape[-2:] == (512, 512)
    views, _ = photo_views(["astronaut"], per_photo=4, size=32, seed=0, min_scale=1.0)
    whole = torch.nn.functional.interpolate(img, size=(32, 32), mode="bilinear", align_corners=False,
                                            antialias=True).clamp(0, 1)[0]
    for v in views:
        assert torch.allclose(v, whole, atol=1e-6) or torch.allclose(v, whole.flip(-1), atol=1e-6)


def test_photo_views_bad_input():
    with pytest.raises(ValueError, match="at least one photo"):
        photo_views([], per_photo=2)
    with pytest.raises(TypeError, match="one str"):
        photo_views("chelsea", per_photo=2)
    with pytest.raises(ValueError, match="name must be one of"):
        photo_views(["no_such_photo"], per_photo=2)
    with pytest.raises(ValueError, match="per_photo"):
        photo_views(["chelsea"], per_photo=0)
    with pytest.raises(ValueError, match="min_scale"):
        photo_views(["chelsea"], per_photo=1, min_scale=0.0)
