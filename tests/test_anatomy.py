"""senet_lib.anatomy: receptive fields, pooling, overhead counts, FC == 1x1 conv."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from senet_lib import SEBlock
from senet_lib import anatomy as A


def test_receptive_field_stacked_3x3():
    assert A.receptive_field([(3, 1)] * 4) == [3, 5, 7, 9]


def test_receptive_field_with_strides():
    # ResNet stem: 7x7/2 conv then 3x3/2 max pool, then two 3x3 convs at stride 1
    assert A.receptive_field([(7, 2), (3, 2), (3, 1), (3, 1)]) == [7, 11, 19, 27]


@pytest.mark.parametrize("bad,err", [("33", TypeError), ([(3, 1, 1)], ValueError),
                                     ([(0, 1)], ValueError), ([(3, 1.5)], TypeError)])
def test_receptive_field_rejects(bad, err):
    with pytest.raises(err):
        A.receptive_field(bad)


def test_gradient_footprint_matches_receptive_field():
    torch.manual_seed(0)
    layers = 3
    net = nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(layers)])  # linear: no ReLU
    fp = A.gradient_footprint(net, torch.rand(1, 2, 21, 21), 10, 10)
    rows, cols = torch.nonzero(fp > 0, as_tuple=True)
    side = A.receptive_field([(3, 1)] * layers)[-1]
    assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    with pytest.raises(ValueError, match="outside"):
        A.gradient_footprint(net, torch.rand(1, 2, 5, 5), 9, 0)


def test_filter_bank_shapes_and_names():
    bank = A.filter_bank()
    x = torch.rand(2, 3, 10, 12)
    y = bank(x)
    assert y.shape == (2, len(A.FEATURE_NAMES), 10, 12)
    assert (y >= 0).all()
    # brightness + darkness == 1 inside the image (away from the zero padding)
    torch.testing.assert_close(y[:, 0, 1:-1, 1:-1] + y[:, 1, 1:-1, 1:-1],
                               torch.ones(2, 8, 10), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="padding_mode"):
        A.filter_bank("mirror")


def test_circular_bank_commutes_with_roll():
    bank = A.filter_bank("circular")
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(bank(torch.roll(x, (3, 5), (2, 3))),
                               torch.roll(bank(x), (3, 5), (2, 3)))


def test_pool_kinds():
    x = torch.rand(2, 3, 4, 5)
    torch.testing.assert_close(A.pool(x, "avg"), x.mean(dim=(2, 3)))
    torch.testing.assert_close(A.pool(x, "max"), x.amax(dim=(2, 3)))
    torch.testing.assert_close(A.pool(x, "std"), x.std(dim=(2, 3), correction=0))
    with pytest.raises(ValueError, match="kind"):
        A.pool(x, "median")


def test_shuffle_keeps_pooled_descriptors():
    x = torch.rand(2, 3, 6, 7)
    y = A.shuffle_positions(x, torch.Generator().manual_seed(0))
    assert not torch.equal(x, y)
    for kind in A.POOLS:
        torch.testing.assert_close(A.pool(y, kind), A.pool(x, kind))


def test_resnet50_overhead_matches_paper_formula():
    assert A.se_extra_params(A.RESNET50_STAGES, 16) == 2_514_944
    for r in (2, 4, 8, 16, 32):
        assert A.se_extra_params(A.RESNET50_STAGES, r) == sum(
            2 * n * c * c // r for c, n in A.RESNET50_STAGES)


def test_overhead_matches_seblock_parameters():
    stages = [(24, 2), (100, 1), (8, 3)]
    for r in (4, 16):
        blocks = [SEBlock(c, r, bias1=True) for c, n in stages for _ in range(n)]
        assert A.se_extra_params(stages, r, bias1=True, bias2=True) == sum(
            p.numel() for b in blocks for p in b.parameters())
    with pytest.raises(ValueError):
        A.se_extra_params([(8,)], 4)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_as_conv1x1(bias):
    lin = nn.Linear(12, 5, bias=bias)
    conv = A.linear_as_conv1x1(lin)
    z = torch.randn(4, 12)
    torch.testing.assert_close(conv(z[:, :, None, None])[:, :, 0, 0], lin(z))
    # on a whole map it applies the same linear map at every position
    x = torch.randn(2, 12, 3, 3)
    torch.testing.assert_close(conv(x).permute(0, 2, 3, 1), lin(x.permute(0, 2, 3, 1)))
    with pytest.raises(TypeError):
        A.linear_as_conv1x1(conv)
