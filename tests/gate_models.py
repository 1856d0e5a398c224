"""A small SE network and images shared by the tests of gates, removal and figures."""

from __future__ import annotations

import torch
from torch import nn

from senet_lib.cifar_resnet import cifar_resnet


def small_se_resnet() -> nn.Module:
    """A CIFAR ResNet-8 with SE blocks ``layer1.0.se`` (16), ``layer2.0.se`` (32), ``layer3.0.se``
    (64), in eval mode, whose batch norms carry non-trivial statistics so gates differ by image."""
    torch.manual_seed(0)
    m = cifar_resnet(8, 4, attn="se", attn_options={"reduction": 4}, width=16)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


def random_images(n: int = 12) -> torch.Tensor:
    """``(n, 3, 32, 32)`` standard normal images, the same on every call."""
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def hook_count(model: nn.Module) -> int:
    """Forward hooks and pre-hooks registered anywhere in ``model``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
