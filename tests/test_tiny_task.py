"""senet_lib.tiny_task: data, model, training and the gate statistics of chapter 4."""

from __future__ import annotations

import pytest
import torch

from senet_lib import tiny_task as T


def test_photo_crops_shapes_and_determinism():
    x, y = T.photo_crops(("chelsea", "coffee"), per_photo=5, crop=8, photo_size=32, seed=1)
    assert x.shape == (10, 3, 8, 8) and y.tolist() == [0] * 5 + [1] * 5
    assert 0 <= x.min() and x.max() <= 1
    x2, _ = T.photo_crops(("chelsea", "coffee"), per_photo=5, crop=8, photo_size=32, seed=1)
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="crop"):
        T.photo_crops(("chelsea", "coffee"), crop=64, photo_size=32)
    with pytest.raises(ValueError, match="names"):
        T.photo_crops("chelsea")


def test_model_and_gates_shapes():
    torch.manual_seed(0)
    m = T.TinySENet(3, width=16, reduction=4)
    x = torch.rand(5, 3, 12, 12)
    assert m(x).shape == (5, 3)
    g = T.collect_gates(m, x)
    assert g.shape == (5, 16) and (g > 0).all() and (g < 1).all()
    # recorded by a hook on the block's gate: the gates the block computes from its input
    with torch.no_grad():
        torch.testing.assert_close(g, m.se.gates(m.features(x)))
    m.train()
    T.collect_gates(m, x)
    assert m.training and not any(mod._forward_hooks for mod in m.modules())
    with pytest.raises(TypeError, match="TinySENet"):
        T.collect_gates(torch.nn.Identity(), x)


def test_training_lowers_loss_and_spreads_gates():
    torch.manual_seed(0)
    x, y = T.photo_crops(("rocket", "flower"), per_photo=32, crop=16, photo_size=64)
    m = T.TinySENet(2, width=16)
    before = T.input_dependence(T.collect_gates(m, x))
    losses = T.train(m, x, y, steps=60, batch_size=16, lr=1e-2)
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < losses[0]
    assert T.input_dependence(T.collect_gates(m, x)) > before


def test_input_dependence():
    assert T.input_dependence(torch.full((4, 3), 0.3)) == 0.0
    g = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    assert T.input_dependence(g) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        T.input_dependence(torch.rand(3))


def test_train_restores_thread_count():
    before = torch.get_num_threads()
    m = T.TinySENet(2, width=8)
    T.train(m, torch.rand(8, 3, 8, 8), torch.tensor([0, 1] * 4), steps=2, batch_size=4, threads=1)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        T.train(m, torch.rand(8, 3, 8, 8), torch.tensor([0, 1] * 4), steps=1, threads=0)


def test_photo_crops_split_shares_no_pixel():
    """split="train" / "test": every crop lies inside its own column range of the photo
    (senet_lib.data.split_regions), found by matching it against every position of the photo."""
    from senet_lib.data import split_regions
    from senet_lib.photos import photo_tensor

    size, crop = 48, 8
    regions = split_regions(size)
    photo = photo_tensor("rocket", size)[0]                                         # (3, 48, 48)
    windows = photo.unfold(1, crop, 1).unfold(2, crop, 1)                           # (3, 41, 41, 8, 8)
    for split in ("train", "test"):
        x, _ = T.photo_crops(("rocket", "flower"), per_photo=12, crop=crop, photo_size=size, seed=3, split=split)
        c0, c1 = regions[split]
        for patch in x[:12]:
            lefts = set()
            for candidate in (patch, patch.flip(-1)):
                hit = (windows - candidate[:, None, None]).abs().amax(dim=(0, 3, 4)) < 1e-6   # (41, 41)
                lefts |= {int(j) for j in torch.nonzero(hit)[:, 1]}
            assert lefts, "a crop that is nowhere in the photo"
            assert any(c0 <= j and j + crop <= c1 for j in lefts), (split, sorted(lefts), (c0, c1))
    # the two splits differ, and the whole-photo default is unchanged by the new argument
    a, _ = T.photo_crops(("rocket", "flower"), per_photo=4, crop=crop, photo_size=size, split="train")
    b, _ = T.photo_crops(("rocket", "flower"), per_photo=4, crop=crop, photo_size=size, split="test")
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="split must be None, 'train' or 'test', got 'val'"):
        T.photo_crops(("rocket", "flower"), split="val")
    with pytest.raises(ValueError, match="test region .* narrower than crop"):
        T.photo_crops(("rocket", "flower"), crop=16, photo_size=32, split="test")
