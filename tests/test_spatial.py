"""senet_lib.spatial: receptive fields, gradient footprints, shuffled positions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from senet_lib import squeeze
from senet_lib.block import POOLS
from senet_lib.spatial import gradient_footprint, receptive_field, shuffle_positions


def test_receptive_field_stacked_3x3():
    assert receptive_field([(3, 1)] * 4) == [3, 5, 7, 9]


def test_receptive_field_with_strides():
    # ResNet stem: 7x7/2 conv then 3x3/2 max pool, then two 3x3 convs at stride 1
    assert receptive_field([(7, 2), (3, 2), (3, 1), (3, 1)]) == [7, 11, 19, 27]


@pytest.mark.parametrize("bad,err", [("33", TypeError), ([(3, 1, 1)], ValueError),
                                     ([(0, 1)], ValueError), ([(3, 1.5)], TypeError)])
def test_receptive_field_rejects(bad, err):
    with pytest.raises(err):
        receptive_field(bad)


def test_gradient_footprint_matches_receptive_field():
    torch.manual_seed(0)
    layers = 3
    net = nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(layers)])  # linear: no ReLU
    fp = gradient_footprint(net, torch.rand(1, 2, 21, 21), 10, 10)
    rows, cols = torch.nonzero(fp > 0, as_tuple=True)
    side = receptive_field([(3, 1)] * layers)[-1]
    assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    with pytest.raises(ValueError, match="outside"):
        gradient_footprint(net, torch.rand(1, 2, 5, 5), 9, 0)


def test_shuffle_moves_positions_but_keeps_every_pooled_descriptor():
    x = torch.rand(2, 3, 6, 7)
    y = shuffle_positions(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(x, y)
    # each position keeps its vector of channel values: the same pixels, elsewhere
    pixels = lambda t: sorted(map(tuple, t[0].flatten(1).T.tolist()))
    assert pixels(y) == pixels(x)
    for pool in POOLS:
        torch.testing.assert_close(squeeze(y, pool), squeeze(x, pool), msg=pool)
    with pytest.raises(ValueError, match="4-D"):
        shuffle_positions(torch.rand(3, 6, 7))
