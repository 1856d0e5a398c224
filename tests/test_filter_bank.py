"""senet_lib.filter_bank: the fixed, hand-made first layer of chapters 2 to 4."""

from __future__ import annotations

import pytest
import torch

from senet_lib.filter_bank import FEATURE_NAMES, filter_bank


def test_filter_bank_shapes_and_names():
    bank = filter_bank()
    x = torch.rand(2, 3, 10, 12)
    y = bank(x)
    assert y.shape == (2, len(FEATURE_NAMES), 10, 12)
    assert (y >= 0).all()
    # brightness + darkness == 1 inside the image (away from the zero padding)
    torch.testing.assert_close(y[:, 0, 1:-1, 1:-1] + y[:, 1, 1:-1, 1:-1],
                               torch.ones(2, 8, 10), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="padding_mode"):
        filter_bank("mirror")


def test_circular_bank_commutes_with_roll():
    bank = filter_bank("circular")
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(bank(torch.roll(x, (3, 5), (2, 3))),
                               torch.roll(bank(x), (3, 5), (2, 3)))
