"""senet_lib.train: determinism, learning on an easy task, the history, the schedule."""

import math
from itertools import pairwise

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from senet_lib.cifar_resnet import cifar_resnet
from senet_lib.train import History, accuracy, evaluate, lr_at, outputs, pick_device, predict, random_flip, train


def _easy(n=64, seed=0):
    """Two classes told apart by the mean of the red channel."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 3, 16, 16, generator=g) * 0.5  # small images: fast tests
    x[:, 0] += (2 * y - 1)[:, None, None].float()
    return TensorDataset(x, y)


def _run(seed, **kw):
    torch.manual_seed(seed)
    model = cifar_resnet(8, num_classes=2, width=4, attn="se")
    hist = train(model, _easy(), _easy(32, seed=1), epochs=2, batch_size=16, lr=0.05,
                 seed=seed, progress=False, **kw)
    return model, hist


def test_same_seed_same_numbers_and_history_shape():
    m1, h1 = _run(0)
    m2, h2 = _run(0)
    assert h1.train_loss == h2.train_loss and h1.test_acc == h2.test_acc
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    _, h3 = _run(1)
    assert h3.train_loss != h1.train_loss
    d = h1.to_dict()
    assert list(d) == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"]
    assert d["epoch"] == [1, 2] and len(h1) == 2 and all(len(v) == 2 for v in d.values())
    assert all(0 <= a <= 1 for a in d["train_acc"] + d["test_acc"])
    assert not m1.training  # returned in eval mode


def test_learns_an_easy_task():
    torch.manual_seed(0)
    model = cifar_resnet(8, num_classes=2, width=4)
    hist = train(model, _easy(128), _easy(64, seed=1), epochs=4, batch_size=16, lr=0.05,
                 progress=False)
    assert hist.test_acc[-1] >= 0.9
    loss, acc = evaluate(model, torch.utils.data.DataLoader(_easy(64, seed=1), batch_size=32))
    assert acc == hist.test_acc[-1] and math.isclose(loss, hist.test_loss[-1], rel_tol=1e-5)


def test_without_test_data_and_progress_bar(capsys):
    torch.manual_seed(0)
    hist = train(nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2)), _easy(), epochs=1,
                 batch_size=16, progress=True, desc="tiny")
    assert math.isnan(hist.test_acc[0]) and hist.train_loss[0] > 0
    assert "tiny" in capsys.readouterr().out  # the text bar writes to stdout


def test_schedule_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 0.1, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert max(lrs) == pytest.approx(0.1) and lrs[-1] < 1e-3
    assert all(a >= b for a, b in pairwise(lrs[9:]))


def test_random_flip_is_seeded_and_flips_whole_images():
    x = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).reshape(2, 1, 2, 3).repeat(8, 1, 1, 1)
    a = random_flip(x, torch.Generator().manual_seed(0))
    b = random_flip(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    for xi, ai in zip(x, a, strict=True):
        assert torch.equal(ai, xi) or torch.equal(ai, xi.flip(-1))
    assert not torch.equal(a, x)


def test_bad_arguments():
    model = cifar_resnet(8, num_classes=2, width=4)
    with pytest.raises(TypeError, match="model"):
        train("resnet", _easy())
    with pytest.raises(ValueError, match="epochs"):
        train(model, _easy(), epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train(model, _easy(), lr=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, _easy(8), batch_size=16)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in ("cpu", "cuda")
    assert isinstance(History(), History)


def test_outputs_predict_accuracy_score_like_evaluate():
    torch.manual_seed(0)
    model = cifar_resnet(8, num_classes=2, width=4)
    data = _easy(20, seed=2)
    x, y = data.tensors
    model.train()
    logits = outputs(model, x, batch_size=7)                  # batches of 7, 7 and 6
    assert model.training, "every module's mode is restored"
    with torch.no_grad():
        torch.testing.assert_close(logits, model.eval()(x), rtol=1e-5, atol=1e-6)
    assert torch.equal(predict(model, x), logits.argmax(1))
    acc = accuracy(model, x, y, batch_size=7)
    assert acc == pytest.approx(float((logits.argmax(1) == y).double().mean()))
    _, loader_acc = evaluate(model, torch.utils.data.DataLoader(data, batch_size=8))
    assert acc == pytest.approx(loader_acc)
    with pytest.raises(ValueError, match="at least one image"):
        outputs(model, x[:0])
    with pytest.raises(ValueError, match="4-D"):
        predict(model, x[0])
    with pytest.raises(ValueError, match="one label per row"):
        accuracy(model, x, y[:3])
    with pytest.raises(TypeError, match="nn.Module"):
        outputs(lambda t: t, x)


def test_pick_device_auto_and_clear_errors():
    import torch

    from senet_lib.train import pick_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto").type == pick_device(None).type
    assert pick_device(None).type in (expected, "mps")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("gpu0")


def test_bfloat16_autocast_and_channels_last_train():
    import torch
    from torch.utils.data import TensorDataset

    from senet_lib.tiny_task import TinySENet
    from senet_lib.train import train

    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(32, 3, 12, 12, generator=g), torch.randint(0, 3, (32,), generator=g))
    torch.manual_seed(0)
    model = TinySENet(3, width=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hist = train(model, data, data, epochs=2, batch_size=8, amp=True, channels_last=True,
                 device="cpu", progress=False)
    assert len(hist) == 2 and all(0 <= a <= 1 for a in hist.test_acc)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the weights stay float32
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(TypeError, match="amp"):
        train(model, data, epochs=1, batch_size=8, amp="yes", progress=False)
