"""senet_lib.data: photo patches (deterministic, disjoint splits) and the CIFAR-10 loader."""

import pickle

import numpy as np
import pytest
import torch

from senet_lib import data
from senet_lib.data import PHOTO_CLASSES, photo_patches, split_regions


@pytest.fixture(scope="module")
def small():
    return photo_patches("train", 6, seed=3), photo_patches("test", 4, seed=3)


def test_shapes_classes_and_labels(small):
    tr, te = small
    assert len(PHOTO_CLASSES) >= 8
    assert tr.images.shape == (6 * len(PHOTO_CLASSES), 3, 32, 32)
    assert te.images.shape == (4 * len(PHOTO_CLASSES), 3, 32, 32)
    assert tr.images.dtype == torch.float32 and 0 <= tr.images.min() and tr.images.max() <= 1
    assert tr.labels.bincount().tolist() == [6] * len(PHOTO_CLASSES)
    assert tr.class_names == list(PHOTO_CLASSES) and len(tr.credits) == len(PHOTO_CLASSES)
    assert all(c for c in tr.credits)
    same_args = photo_patches("train", 4, seed=3)  # test normalised like its train split
    assert te.mean == same_args.mean and te.std == same_args.std


def test_deterministic_per_seed(small):
    tr, _ = small
    again = photo_patches("train", 6, seed=3)
    assert torch.equal(tr.images, again.images) and torch.equal(tr.boxes, again.boxes)
    other = photo_patches("train", 6, seed=4)
    assert not torch.equal(tr.images, other.images)


def test_returned_tensors_are_copies(small):
    _tr, _ = small
    tr2 = photo_patches("train", 6, seed=3)
    tr2.images.zero_()
    assert photo_patches("train", 6, seed=3).images.abs().sum() > 0


def test_train_and_test_regions_are_disjoint(small):
    tr, te = small
    for k, name in enumerate(PHOTO_CLASSES):
        w = data.resized_photo(name).shape[-1]
        (a0, a1), (b0, b1) = split_regions(w).values()
        assert a1 == b0 and a0 == 0 and b1 == w
        for d, (lo, hi) in ((tr, (a0, a1)), (te, (b0, b1))):
            for _top, left, side in d.boxes[d.labels == k].tolist():
                assert lo <= left and left + side <= hi, (name, d.split, left, side)
        # and so no pixel column is shared between a train and a test patch
        tr_cols = set().union(*(range(l, l + s) for _, l, s in tr.boxes[tr.labels == k].tolist()))
        te_cols = set().union(*(range(l, l + s) for _, l, s in te.boxes[te.labels == k].tolist()))
        assert not tr_cols & te_cols


def test_colour_cast_is_per_image(small):
    tr, _ = small
    g = tr.gains
    assert g.shape == (len(tr), 3)
    assert g.min() >= np.exp(-1.0) - 1e-6 and g.max() <= np.exp(1.0) + 1e-6
    assert g.std(dim=0).min() > 0.1  # gains vary from image to image
    x = torch.full((2, 3, 2, 2), 0.5)
    out = data.colour_cast(x, torch.tensor([[1.0, 2.0, 0.5], [4.0, 1.0, 1.0]]))
    assert out[0, :, 0, 0].tolist() == [0.5, 1.0, 0.25] and out[1, 0].max() == 1.0


def test_dataset_is_normalised(small):
    tr, _ = small
    x, y = tr.dataset()[0]
    assert x.shape == (3, 32, 32) and int(y) == 0
    full = tr.dataset().tensors[0]
    assert full.mean(dim=(0, 2, 3)).abs().max() < 1e-3


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(split="val"), ValueError, "split"),
    (dict(per_class=0), ValueError, "per_class"),
    (dict(per_class=2.5), TypeError, "per_class"),
    (dict(classes=("astronaut",)), ValueError, "classes"),
    (dict(classes=("astronaut", "dog")), ValueError, "classes"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(scale=(40, 20)), ValueError, "scale"),
])
def test_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        photo_patches(**kwargs)


def test_split_regions_checks():
    assert split_regions(10, 0.6) == {"train": (0, 6), "test": (6, 10)}
    with pytest.raises(ValueError, match="train_fraction"):
        split_regions(10, 1.0)


def _write_cifar_fixture(root, n_train=20, n_test=10):
    """A tiny CIFAR-10 in the ``cifar-10-batches-py`` layout: pickled dicts of uint8 rows."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)

    def batch(n, offset):
        labels = [(i + offset) % 10 for i in range(n)]
        rows = rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)
        return {"data": rows, "labels": labels, "batch_label": "fixture",
                "filenames": [f"img{i}.png" for i in range(n)]}

    for i in range(1, 6):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(n_train // 5, i), f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(n_test, 0), f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(data.CIFAR10_CLASSES), "num_cases_per_batch": n_train // 5}, f)
    return folder


def test_cifar10_loader_on_fixture(tmp_path, monkeypatch):
    folder = _write_cifar_fixture(tmp_path)
    # torchvision checks the MD5 of the real files, which a fixture cannot have: accept the
    # fixture's files (only their existence is checked), keep everything else real.
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: __import__("os").path.isfile(path))
    train = data.cifar10(tmp_path, train=True)
    test = data.cifar10(tmp_path, train=False)
    assert len(train) == 20 and len(test) == 10
    x, y = test[3]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 3
    # the test split is not augmented: its first image is the fixture's pixels, normalised
    with open(folder / "test_batch", "rb") as f:
        raw = pickle.load(f)["data"][3].reshape(3, 32, 32)
    mean = torch.tensor(data.CIFAR10_MEAN)[:, None, None]
    std = torch.tensor(data.CIFAR10_STD)[:, None, None]
    assert torch.allclose(x, (torch.from_numpy(raw).float() / 255 - mean) / std, atol=1e-5)
    assert train.transform.transforms[0].__class__.__name__ == "RandomCrop"


def test_cifar10_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        data.cifar10(tmp_path / "nowhere")


def test_a_test_split_of_any_size_can_be_normalised_with_the_models_statistics():
    """The bug of chapter 6: photo_patches("test", 100) carries the statistics of a training
    draw of 100 patches, not of the 400 the model saw; .dataset(mean, std) takes the model's."""
    from senet_lib.data import normalize

    train = photo_patches("train", 40, seed=0)
    test = photo_patches("test", 10, seed=0)
    assert test.mean != train.mean  # what made the old evaluation see other statistics
    x, y = test.dataset(train.mean, train.std).tensors
    torch.testing.assert_close(x, normalize(test.images, train.mean, train.std))
    assert torch.equal(y, test.labels)
    assert not torch.allclose(test.dataset().tensors[0], x)
    with pytest.raises(ValueError, match="both mean and std"):
        test.dataset(train.mean)
    with pytest.raises(ValueError, match="3 numbers"):
        test.dataset((0.5, 0.5), (0.2, 0.2))
