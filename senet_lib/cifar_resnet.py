"""Small CIFAR-style ResNets for 32 x 32 images, with or without SE blocks.

The family of He et al. (2016, section 4.2): a 3 x 3 stem convolution, then three
stages of ``n`` basic blocks each with widths ``w, 2w, 4w`` (``w = 16`` in the paper) on
feature maps of ``32 x 32, 16 x 16, 8 x 8``, then global average pooling and one linear
layer. ``depth = 6n + 2`` counts the weighted layers: ResNet-20 (``n = 3``), ResNet-32
(``n = 5``), ResNet-56 (``n = 9``), ResNet-110 (``n = 18``).

With ``se=True`` every basic block gets a :class:`senet_lib.SEBlock` in the standard
position of Hu et al. (2018, Fig. 3): on the residual branch, after the last batch
norm and before the addition of the shortcut::

    x ─┬─ conv1 ─ bn1 ─ relu ─ conv2 ─ bn2 ─ se ─(+)─ relu ─> out
       └──────────────── shortcut ─────────────────┘

The knobs of the paper's ablations are arguments: ``reduction``, ``pool`` and ``gate`` go to
every SE block; ``stages`` puts SE in some stages only (Table 13); ``position`` moves it
within the unit (Table 14, :data:`POSITIONS`); ``squeeze=False`` swaps each SE block for
:class:`~senet_lib.block.NoSqueezeSE` (Table 16). ``block`` puts another attention block in
SE's place (``"eca"``, ``"cbam"``, ``"ge"``, ... from :data:`senet_lib.successors.BLOCKS`,
chapter 10); it still sits in the attribute ``se`` of each unit.

Shortcuts that change the shape use a 1 x 1 convolution with stride 2 and a batch norm
(option B of He et al.). All modules are named, so ``print(model)`` reads like the
diagram, and the SE blocks are found with ``model.se_blocks()``; a forward hook on
``block.gate`` sees their ``(N, C)`` gates.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks
from .block import NoSqueezeSE, SEBlock
from .successors import BLOCKS, make_block

__all__ = ["POSITIONS", "BasicBlock", "CifarResNet", "cifar_resnet"]

#: Where the SE block sits in a basic block (the paper's Fig. 5): on the residual branch
#: before the addition ("standard"), before the branch's first convolution ("pre"), after
#: the addition and its ReLU ("post"), or on the shortcut, in parallel with the branch ("identity").
POSITIONS: tuple[str, ...] = ("standard", "pre", "post", "identity")


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with batch norm, an optional SE block, and a shortcut.

    Args:
        in_channels: channels of the input ``(N, in_channels, H, W)``.
        out_channels: channels of the output.
        stride: 1, or 2 to halve ``H`` and ``W`` (the output is ``(N, out, H/s, W/s)``).
        se: add an SE block (by default after ``bn2``, before the addition).
        reduction: the SE block's reduction ratio ``r``.
        position: where the SE block sits, one of :data:`POSITIONS`.
        pool, gate: passed to :class:`~senet_lib.block.SEBlock`.
        squeeze: ``False`` uses :class:`~senet_lib.block.NoSqueezeSE` instead of ``SEBlock``.
        block: which attention block, a key of :data:`senet_lib.successors.BLOCKS` (``"se"``).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 se: bool = False, reduction: int = 16, position: str = "standard",
                 pool: str = "avg", gate: str = "sigmoid", squeeze: bool = True,
                 block: str = "se") -> None:
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
        if not se:
            self.se: nn.Module = nn.Identity()
        elif not _checks.boolean("squeeze", squeeze):
            self.se = NoSqueezeSE(se_channels, reduction)
        elif block == "se":
            self.se = SEBlock(se_channels, reduction, pool=pool, gate=gate)
        else:
            self.se = make_block(block, se_channels, reduction)
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
    to build one from its depth.
    """

    def __init__(self, blocks_per_stage: int, num_classes: int = 10, *, se: bool = False,
                 reduction: int = 16, width: int = 16, pool: str = "avg", gate: str = "sigmoid",
                 stages: tuple[int, ...] | None = None, position: str = "standard",
                 squeeze: bool = True, block: str = "se") -> None:
        super().__init__()
        n = _checks.positive_int("blocks_per_stage", blocks_per_stage)
        num_classes = _checks.positive_int("num_classes", num_classes)
        width = _checks.positive_int("width", width)
        reduction = _checks.positive_int("reduction", reduction)
        _checks.boolean("se", se)
        se_stages = _checks.stages("stages", stages, 3, "CIFAR ResNet")
        self.se_stages = se_stages
        # a bad SE setting fails here, with the block's own message
        SEBlock(4, reduction, pool=pool, gate=gate)
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {tuple(BLOCKS)}, got {block!r}")
        if block != "se" and (pool, gate, squeeze) != ("avg", "sigmoid", True):
            raise ValueError(f"pool, gate and squeeze are SE's knobs; block={block!r} takes none of them "
                             f"(got pool={pool!r}, gate={gate!r}, squeeze={squeeze!r})")
        self.se, self.reduction, self.width = se, reduction, width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        widths = [width, 2 * width, 4 * width]
        stages = []
        in_ch = width
        for i, out_ch in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(in_ch, out_ch, stride, se=se and i + 1 in se_stages,
                                         reduction=reduction, position=position, pool=pool,
                                         gate=gate, squeeze=squeeze, block=block))
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
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


def cifar_resnet(depth: int = 20, num_classes: int = 10, *, se: bool = False,
                 reduction: int = 16, width: int = 16, **knobs) -> CifarResNet:
    """A CIFAR-style ResNet of ``depth = 6n + 2`` layers (20, 32, 44, 56, 110, ...).

    Args:
        depth: number of weighted layers; must be ``6n + 2`` with ``n >= 1`` (8, 14, 20, ...).
        num_classes: size of the output.
        se: put an SE block in every basic block (SE-ResNet).
        reduction: SE reduction ratio ``r``; with ``width = 16`` the first stage's SE has
            ``16 // 16 = 1`` hidden unit, as in the paper's CIFAR models.
        width: channels of the first stage (16 in He et al.); stages use ``w, 2w, 4w``.
        **knobs: the ablation knobs of :class:`CifarResNet` (``pool``, ``gate``, ``stages``,
            ``position``, ``squeeze``) and ``block``, the attention block to use in SE's place.

    Returns:
        A :class:`CifarResNet` mapping ``(N, 3, 32, 32)`` images to ``(N, num_classes)`` logits.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be an int of the form 6n + 2 (8, 14, 20, 32, 56, ...), got {depth!r}")
    return CifarResNet((depth - 2) // 6, num_classes, se=se, reduction=reduction, width=width,
                       **knobs)
