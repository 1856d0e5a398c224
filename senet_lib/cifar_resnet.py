"""Small CIFAR-style ResNets for 32 x 32 images, with or without SE blocks.

The family of He et al. (2016, section 4.2): a 3 x 3 stem convolution, then three
stages of ``n`` basic blocks each with widths ``w, 2w, 4w`` (``w = 16`` in the paper) on
feature maps of ``32 x 32, 16 x 16, 8 x 8``, then global average pooling and one linear
layer. ``depth = 6n + 2`` counts the weighted layers: ResNet-20 (``n = 3``), ResNet-32
(``n = 5``), ResNet-56 (``n = 9``), ResNet-110 (``n = 18``).

Every basic block has an *attention slot*, the attribute ``se``; ``attn="se"`` fills it with a
:class:`senet_lib.SEBlock` in the standard position of Hu et al. (2018, Fig. 3): on the residual
branch, after the last batch norm and before the addition of the shortcut::

    x ─┬─ conv1 ─ bn1 ─ relu ─ conv2 ─ bn2 ─ se ─(+)─ relu ─> out
       └──────────────── shortcut ─────────────────┘

What fills the slot is a name and its options, built by :func:`senet_lib.registry.make_attention`
(``attn="se", attn_options={"reduction": 2, "gate": "tanh"}``; ``"no_squeeze"`` for the paper's
Table 16, ``"eca"``, ``"cbam"``, ``"ge"``, ... for chapter 10, ``"none"`` for the plain network).
Where it goes is the network's: ``stages`` puts it in some stages only (Table 13), ``position``
moves it within the unit (Table 14, :data:`POSITIONS`).

Shortcuts that change the shape use a 1 x 1 convolution with stride 2 and a batch norm
(option B of He et al.). All modules are named, so ``print(model)`` reads like the
diagram, and the SE blocks are found with ``model.se_blocks()``; a forward hook on
``block.gate`` sees their ``(N, C)`` gates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from . import _checks
from .block import SEBlock
from .registry import attention_options, make_attention

__all__ = ["POSITIONS", "BasicBlock", "CifarResNet", "cifar_resnet"]

#: Where the SE block sits in a basic block (the paper's Fig. 5): on the residual branch
#: before the addition ("standard"), before the branch's first convolution ("pre"), after
#: the addition and its ReLU ("post"), or on the shortcut, in parallel with the branch ("identity").
POSITIONS: tuple[str, ...] = ("standard", "pre", "post", "identity")


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with batch norm, an attention slot, and a shortcut.

    Args:
        in_channels: channels of the input ``(N, in_channels, H, W)``.
        out_channels: channels of the output.
        stride: 1, or 2 to halve ``H`` and ``W`` (the output is ``(N, out, H/s, W/s)``).
        attn: what fills the slot ``se``, a name of :data:`senet_lib.registry.ATTENTION`
            (``"none"``, the default, leaves it an identity).
        attn_options: the block's options (:func:`senet_lib.registry.attention_options`).
        position: where the slot sits, one of :data:`POSITIONS`.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 attn: str = "none", attn_options: Mapping[str, Any] | None = None,
                 position: str = "standard") -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
        self.position = position
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        se_channels = in_channels if position == "pre" else out_channels
        self.se: nn.Module = make_attention(attn, se_channels, **(attn_options or {}))
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.se(x) if self.position == "pre" else x
        out = self.relu(self.bn1(self.conv1(branch)))
        out = self.bn2(self.conv2(out))
        identity = self.shortcut(x)
        if self.position == "standard":
            out = self.se(out)  # recalibrate the residual branch, channel by channel
        elif self.position == "identity":
            identity = self.se(identity)
        out = self.relu(out + identity)
        return self.se(out) if self.position == "post" else out

    def extra_repr(self) -> str:
        return "" if self.position == "standard" else f"position={self.position!r}"


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for ``(N, 3, 32, 32)`` inputs; returns ``(N, num_classes)`` logits.

    Sub-modules: ``conv1``, ``bn1``, ``relu``, ``layer1``, ``layer2``, ``layer3`` (each an
    ``nn.Sequential`` of :class:`BasicBlock`), ``pool``, ``fc``. Use :func:`cifar_resnet`
    to build one from its depth; its arguments are described there.
    """

    def __init__(self, blocks_per_stage: int, num_classes: int = 10, *, width: int = 16,
                 attn: str = "none", attn_options: Mapping[str, Any] | None = None,
                 stages: tuple[int, ...] | None = None, position: str = "standard") -> None:
        super().__init__()
        n = _checks.positive_int("blocks_per_stage", blocks_per_stage)
        num_classes = _checks.positive_int("num_classes", num_classes)
        width = _checks.positive_int("width", width)
        options = attention_options(attn, attn_options)  # a bad name or option fails here
        se_stages = _checks.stages("stages", stages, 3, "CIFAR ResNet")
        self.attn, self.attn_options, self.se_stages, self.width = attn, options, se_stages, width
        # The first version of this class checked its SE options by building a 4-channel SE block
        # here, which draws random numbers; every shipped run's weights were drawn after those
        # draws, so they are made (and thrown away) still: torch.manual_seed(s) then builds the
        # weights those runs started from.
        SEBlock(4, options.get("reduction", 16))
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        widths = [width, 2 * width, 4 * width]
        layers: list[nn.Sequential] = []
        in_ch = width
        for i, out_ch in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                here = attn if i + 1 in se_stages else "none"
                blocks.append(BasicBlock(in_ch, out_ch, stride, attn=here,
                                         attn_options=options if here != "none" else None,
                                         position=position))
                in_ch = out_ch
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.feature_map("x", x, 3)
        x = self.relu(self.bn1(self.conv1(x)))  # (N, w, 32, 32)
        x = self.layer1(x)  # (N, w, 32, 32)
        x = self.layer2(x)  # (N, 2w, 16, 16)
        x = self.layer3(x)  # (N, 4w, 8, 8)
        return self.fc(torch.flatten(self.pool(x), 1))  # (N, num_classes)

    def se_blocks(self) -> dict[str, nn.Module]:
        """The SE blocks by qualified name (``"layer1.0.se"``, ...); empty without SE."""
        from .gates import se_blocks

        return se_blocks(self)


def cifar_resnet(depth: int = 20, num_classes: int = 10, *, width: int = 16, attn: str = "none",
                 attn_options: Mapping[str, Any] | None = None, stages: tuple[int, ...] | None = None,
                 position: str = "standard") -> CifarResNet:
    """A CIFAR-style ResNet of ``depth = 6n + 2`` layers (20, 32, 44, 56, 110, ...).

    ``cifar_resnet(20)`` is ResNet-20, ``cifar_resnet(20, attn="se")`` SE-ResNet-20.

    Args:
        depth: number of weighted layers; must be ``6n + 2`` with ``n >= 1`` (8, 14, 20, ...).
        num_classes: size of the output.
        width: channels of the first stage (16 in He et al.); stages use ``w, 2w, 4w``.
        attn: what fills each unit's attention slot, a name of :data:`senet_lib.registry.ATTENTION`:
            ``"none"`` (ResNet), ``"se"`` (SE-ResNet), ``"no_squeeze"``, ``"eca"``, ``"cbam"``, ...
        attn_options: that block's options, e.g. ``{"reduction": 2}``; SE's default ``r = 16``
            gives the first stage's SE ``16 // 16 = 1`` hidden unit (with ``width = 16``), as
            in the paper's CIFAR models.
        stages: the stages (1, 2, 3) whose units get the block; ``None``: all.
        position: where the block sits in a unit, one of :data:`POSITIONS`.

    Returns:
        A :class:`CifarResNet` mapping ``(N, 3, 32, 32)`` images to ``(N, num_classes)`` logits.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be an int of the form 6n + 2 (8, 14, 20, 32, 56, ...), got {depth!r}")
    return CifarResNet((depth - 2) // 6, num_classes, width=width, attn=attn, attn_options=attn_options,
                       stages=stages, position=position)
