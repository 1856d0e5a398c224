"""SE inside networks: retrofit torchvision ResNets and VGGs, and count what SE costs.

* :func:`add_se` puts an :class:`~senet_lib.block.SEBlock` into every residual block of a
  torchvision ResNet (``BasicBlock`` or ``Bottleneck``), at one of the five positions of the
  paper's integration study, or after every convolutional stage of a torchvision VGG.
* :func:`se_resnet50` is ``add_se(torchvision.models.resnet50(weights=None))``.
* :func:`analytic_se_params` is the paper's parameter formula ``(2 / r) * sum_s N_s * C_s**2``
  (plus the biases the block keeps), per stage; :func:`count_se_params` counts the same
  numbers in a model, :func:`analytic_se_flops` the operations of pooling, FCs and scaling.
* :func:`se_resnet50_from_timm` loads a timm ``seresnet50`` or ``legacy_seresnet50`` state
  dict into the library's SE-ResNet-50 (timm itself is not imported: pass its model or its
  state dict).

Stages are numbered as torchvision names them: ``layer1`` ... ``layer4`` are stages 1 to 4
(the paper calls them conv2_x ... conv5_x, "stage 2" to "stage 5"); a VGG has stages 1 to 5,
one per max-pooling layer.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models import VGG, ResNet, resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck

from . import _checks
from .block import SEBlock, hidden_width

__all__ = [
    "POSITIONS",
    "RESNET_LAYOUTS",
    "SEBasicBlock",
    "SEBottleneck",
    "StageParams",
    "add_se",
    "se_resnet50",
    "se_blocks",
    "analytic_se_params",
    "count_se_params",
    "analytic_se_flops",
    "timm_to_senet_state_dict",
    "se_resnet50_from_timm",
]

#: Where :func:`add_se` can put the SE block in a residual unit (the paper's Fig. 5 and Table 15).
POSITIONS: tuple[str, ...] = ("standard", "pre", "post", "identity", "3x3")

#: ``(blocks per stage, output channels per stage)`` of torchvision's ResNets.
RESNET_LAYOUTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet18": ((2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet34": ((3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet50": ((3, 4, 6, 3), (256, 512, 1024, 2048)),
    "resnet101": ((3, 4, 23, 3), (256, 512, 1024, 2048)),
    "resnet152": ((3, 8, 36, 3), (256, 512, 1024, 2048)),
}


# --------------------------------------------------------------------------------------------
# SE residual blocks
# --------------------------------------------------------------------------------------------


class _SEResidual(nn.Module):
    """What the two SE residual blocks share: where the SE goes, and the merge of the branches."""

    def __init__(self, position: str, fused: bool) -> None:
        super().__init__()
        self.position = position
        self.fused = fused

    def _add_layers(self, layers: list[tuple[str, nn.Module | None]], se: SEBlock, after: str) -> None:
        """Register ``layers`` in order with ``se`` after the layer named ``after`` (or first,
        for ``after=""``), so that ``print(block)`` lists them in the order data meets them."""
        if not after:
            self.se = se
        for name, layer in layers:
            setattr(self, name, layer)
            if name == after:
                self.se = se

    def _merge(self, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Add the residual branch ``out`` to ``identity`` (both ``(N, C, H, W)``), then ReLU.

        "standard": SE rescales the branch before the addition; with ``fused`` the rescale
        and the addition are one ``addcmul``: ``relu(identity + out * s)``.
        "identity": SE rescales the identity instead. "post": SE follows the final ReLU.
        """
        if self.position == "standard":
            if self.fused:
                s = self.se.gates(out)[:, :, None, None]  # (N, C, 1, 1)
                if torch.is_grad_enabled() and (out.requires_grad or s.requires_grad):
                    out = torch.addcmul(identity, out, s)  # backward needs `out` intact
                else:  # inference: write into `out`, as torchvision's `out += identity` does
                    out = torch.addcmul(identity, out, s, out=out)
                return self.relu(out)
            out = self.se(out)
        elif self.position == "identity":
            identity = self.se(identity)
        out += identity
        out = self.relu(out)
        if self.position == "post":
            out = self.se(out)
        return out

    def extra_repr(self) -> str:
        fused = ", fused=True" if self.position == "standard" and self.fused else ""
        return f"position={self.position!r}{fused}"


class SEBasicBlock(_SEResidual):
    """A torchvision ``BasicBlock`` (two 3x3 convolutions) with an SE block in it.

    The sub-layers keep torchvision's names (``conv1``, ``bn1``, ``conv2``, ``bn2``,
    ``relu``, ``downsample``), so a torchvision ResNet's state dict loads into the SE
    model with only the ``se`` weights missing. Build one with :meth:`from_block`.

    Shapes: input ``(N, C_in, H, W)``, output ``(N, C_out, H / stride, W / stride)``.
    """

    def __init__(self, block: BasicBlock, se: SEBlock, position: str, fused: bool = True) -> None:
        super().__init__(position, fused)
        layers = [("conv1", block.conv1), ("bn1", block.bn1), ("relu", block.relu),
                  ("conv2", block.conv2), ("bn2", block.bn2), ("downsample", block.downsample)]
        self._add_layers(layers, se, after={"pre": "", "3x3": "relu"}.get(position, "bn2"))
        self.stride = block.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.se(x) if self.position == "pre" else x
        out = self.relu(self.bn1(self.conv1(out)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self._merge(out, identity)


class SEBottleneck(_SEResidual):
    """A torchvision ``Bottleneck`` (1x1 reduce, 3x3, 1x1 expand) with an SE block in it.

    Sub-layer names as in torchvision (``conv1`` ... ``bn3``, ``relu``, ``downsample``)
    plus ``se``. Position "3x3" puts the SE block after the 3x3 convolution's ReLU, where
    the block is 4 times narrower (and its FCs 16 times smaller).

    Shapes: input ``(N, C_in, H, W)``, output ``(N, 4 * width, H / stride, W / stride)``.
    """

    def __init__(self, block: Bottleneck, se: SEBlock, position: str, fused: bool = True) -> None:
        super().__init__(position, fused)
        layers = [("conv1", block.conv1), ("bn1", block.bn1), ("conv2", block.conv2),
                  ("bn2", block.bn2), ("conv3", block.conv3), ("bn3", block.bn3),
                  ("relu", block.relu), ("downsample", block.downsample)]
        self._add_layers(layers, se, after={"pre": "", "3x3": "bn2"}.get(position, "bn3"))
        self.stride = block.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.se(x) if self.position == "pre" else x
        out = self.relu(self.bn1(self.conv1(out)))
        out = self.relu(self.bn2(self.conv2(out)))
        if self.position == "3x3":
            out = self.se(out)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self._merge(out, identity)


def _se_channels(block: BasicBlock | Bottleneck, position: str) -> int:
    """How many channels the SE block sees at ``position`` in ``block``."""
    if position == "pre":
        return block.conv1.in_channels
    if position == "3x3":
        return block.conv2.out_channels
    last_bn = block.bn3 if isinstance(block, Bottleneck) else block.bn2
    return last_bn.num_features


# --------------------------------------------------------------------------------------------
# add_se
# --------------------------------------------------------------------------------------------


def _check_position(position: object) -> str:
    if not isinstance(position, str):
        raise TypeError(f"position must be a str, one of {POSITIONS}, got {type(position).__name__}")
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
    return position


def _check_stages(stages: object, n_stages: int, model_name: str) -> list[int]:
    valid = list(range(1, n_stages + 1))
    if stages is None:
        return valid
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Iterable):
        raise TypeError(
            f"stages must be None or a sequence of stage numbers such as (3, 4), got {stages!r}"
        )
    chosen = list(stages)
    for s in chosen:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"stages must contain ints, got {s!r} in stages={stages!r}")
        if s not in valid:
            raise ValueError(
                f"stages={stages!r}: stage {s} does not exist; a {model_name} has stages {valid}"
            )
    if not chosen:
        raise ValueError("stages is empty: name at least one stage, or pass None for all")
    return sorted(set(chosen))


def add_se(
    model: nn.Module,
    reduction: int = 16,
    position: str = "standard",
    stages: Iterable[int] | None = None,
    *,
    fused: bool = True,
    bias1: bool = False,
    bias2: bool = True,
    min_hidden: int = 1,
) -> nn.Module:
    """Insert SE blocks into a torchvision ResNet or VGG, **in place**, and return the model.

    Args:
        model: a ``torchvision.models.ResNet`` (made of ``BasicBlock`` or ``Bottleneck``
            units: resnet18 ... resnet152, resnext, wide_resnet) or a ``torchvision.models.VGG``.
            Its existing layers (and weights) are kept; only SE blocks are added.
        reduction: ``r``, the SE bottleneck has ``max(min_hidden, C // r)`` units.
        position: where the SE block goes in each residual unit (the paper's Fig. 5):
            ``"standard"`` on the residual branch after its last BN, before the addition;
            ``"pre"`` on the residual branch before its first convolution;
            ``"post"`` after the addition and the ReLU;
            ``"identity"`` on the identity (shortcut) branch, in parallel with the unit;
            ``"3x3"`` after the 3x3 convolution of a bottleneck (Bottleneck only).
            A VGG takes only ``"standard"``: SE after the last ReLU of each convolutional
            stage, before its max pooling.
        stages: which stages get SE, e.g. ``(1, 2, 3)`` (``layer1`` to ``layer3``);
            ``None`` (default) means all.
        fused: "standard" position only: compute ``relu(identity + out * s)`` with one
            ``torch.addcmul`` instead of rescaling and then adding (same numbers, one fewer
            full-size tensor). A forward hook on ``se`` itself then does not fire (the gates
            are computed with ``se.gates``); hooks on ``se.gate`` always do.
        bias1, bias2, min_hidden: passed to :class:`~senet_lib.block.SEBlock`.

    Returns:
        ``model`` itself, modified: each chosen residual unit is replaced by an
        :class:`SEBasicBlock` / :class:`SEBottleneck` sharing its layers; in a VGG each chosen
        ``MaxPool2d`` becomes ``Sequential(se=SEBlock, pool=MaxPool2d)``, so layer indices
        and state-dict keys of the convolutions do not change.

    Raises:
        TypeError: ``model`` is not a torchvision ResNet / VGG, or an argument has the wrong type.
        ValueError: unknown ``position`` or ``stages``, ``"3x3"`` with BasicBlocks, a
            position other than "standard" for a VGG, or a model that already has SE blocks.
    """
    reduction = _checks.positive_int("reduction", reduction)
    position = _check_position(position)
    _checks.boolean("fused", fused)
    se_kwargs = dict(bias1=bias1, bias2=bias2, min_hidden=min_hidden)
    SEBlock(1, reduction, **se_kwargs)  # bad SE settings fail here, before the model changes
    if isinstance(model, ResNet):
        _add_se_resnet(model, reduction, position, stages, fused, se_kwargs)
    elif isinstance(model, VGG):
        _add_se_vgg(model, reduction, position, stages, se_kwargs)
    else:
        raise TypeError(
            "add_se can modify torchvision ResNet (BasicBlock / Bottleneck) and VGG models, "
            f"got model of type {type(model).__name__}"
        )
    return model


def _new_se(channels: int, reduction: int, like: nn.Module, se_kwargs: dict) -> SEBlock:
    """An SEBlock on the same device and dtype as the parameters of ``like``."""
    ref = next(like.parameters())
    return SEBlock(channels, reduction, **se_kwargs).to(device=ref.device, dtype=ref.dtype)


def _add_se_resnet(model: ResNet, reduction: int, position: str, stages: object,
                   fused: bool, se_kwargs: dict) -> None:
    chosen = _check_stages(stages, 4, "ResNet")
    layers = [model.layer1, model.layer2, model.layer3, model.layer4]
    # Check every block before changing any, so that an error leaves the model untouched.
    for k, layer in enumerate(layers, start=1):
        for i, block in enumerate(layer):
            if isinstance(block, _SEResidual):
                raise ValueError(
                    f"model already has SE blocks (layer{k}.{i} is {type(block).__name__}); "
                    "add_se works on a plain torchvision model"
                )
            if not isinstance(block, (BasicBlock, Bottleneck)):
                raise TypeError(
                    f"layer{k}.{i} is a {type(block).__name__}; add_se knows torchvision's "
                    "BasicBlock and Bottleneck"
                )
            if position == "3x3" and isinstance(block, BasicBlock) and k in chosen:
                raise ValueError(
                    "position='3x3' is the SE block after the 3x3 convolution of a Bottleneck; "
                    f"layer{k}.{i} is a BasicBlock (two 3x3 convolutions): use another position"
                )
    for k in chosen:
        layer = layers[k - 1]
        for i, block in enumerate(layer):
            se = _new_se(_se_channels(block, position), reduction, block, se_kwargs)
            cls = SEBottleneck if isinstance(block, Bottleneck) else SEBasicBlock
            new = cls(block, se, position, fused)
            new.train(block.training)
            layer[i] = new


def _vgg_stages(model: VGG) -> list[tuple[int, int]]:
    """``(index of the stage's MaxPool2d in model.features, channels)`` for each VGG stage."""
    out, channels = [], None
    for i, m in enumerate(model.features):
        if isinstance(m, nn.Conv2d):
            channels = m.out_channels
        elif isinstance(m, nn.MaxPool2d):
            out.append((i, channels))
        elif isinstance(m, nn.Sequential) and any(isinstance(c, SEBlock) for c in m):
            raise ValueError(
                f"model already has SE blocks (features.{i}); add_se works on a plain torchvision model"
            )
    return out


def _add_se_vgg(model: VGG, reduction: int, position: str, stages: object, se_kwargs: dict) -> None:
    if position != "standard":
        raise ValueError(
            f"position={position!r} needs a residual unit; a VGG has none, so only "
            "position='standard' (SE after each convolutional stage) applies"
        )
    found = _vgg_stages(model)
    chosen = _check_stages(stages, len(found), f"VGG with {len(found)} stages")
    for k in chosen:
        i, channels = found[k - 1]
        pool = model.features[i]
        se = _new_se(channels, reduction, model.features, se_kwargs)
        model.features[i] = nn.Sequential(OrderedDict(se=se, pool=pool))


def se_resnet50(
    reduction: int = 16,
    fused: bool = True,
    *,
    num_classes: int = 1000,
    bias1: bool = False,
    bias2: bool = True,
) -> ResNet:
    """SE-ResNet-50 (randomly initialised): ``add_se(torchvision.models.resnet50(weights=None))``.

    With the defaults it has 28,087,080 parameters: ResNet-50's 25,557,032 plus 2,514,944
    SE weights and 15,104 ``fc2`` biases. ``bias1=True`` adds the 944 ``fc1`` biases that
    timm's SE-ResNet-50 keeps (28,088,024 in all).

    Input ``(N, 3, H, W)``, output ``(N, num_classes)`` logits.
    """
    model = resnet50(weights=None, num_classes=num_classes)
    return add_se(model, reduction, "standard", fused=fused, bias1=bias1, bias2=bias2)


# --------------------------------------------------------------------------------------------
# Counting: parameters and operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageParams:
    """The SE parameters of one stage: ``blocks`` SE blocks of ``channels`` channels each."""

    stage: int
    blocks: int
    channels: int
    hidden: int
    weights: int
    biases: int

    @property
    def total(self) -> int:
        return self.weights + self.biases


def analytic_se_params(
    blocks: Iterable[int],
    channels: Iterable[int],
    reduction: int = 16,
    *,
    bias1: bool = False,
    bias2: bool = True,
    min_hidden: int = 1,
) -> list[StageParams]:
    """The extra parameters of SE, per stage, from the formula (no model is built).

    Stage ``s`` has ``N_s = blocks[s]`` SE blocks on ``C_s = channels[s]`` channels, each
    with hidden width ``h_s = max(min_hidden, C_s // r)``:

    * weights: ``N_s * 2 * C_s * h_s``, which is the paper's ``(2 / r) * N_s * C_s**2``
      whenever ``r`` divides ``C_s``;
    * biases: ``N_s * (h_s if bias1) + N_s * (C_s if bias2)``.

    Example: ``analytic_se_params(*RESNET_LAYOUTS["resnet50"])`` gives SE-ResNet-50's
    four stages, 2,514,944 weights in all at ``r = 16``.
    """
    blocks, channels = list(blocks), list(channels)
    if len(blocks) != len(channels):
        raise ValueError(
            f"blocks and channels must have one entry per stage, got {len(blocks)} blocks "
            f"{blocks} and {len(channels)} channels {channels}"
        )
    out = []
    for s, (n, c) in enumerate(zip(blocks, channels), start=1):
        n = _checks.positive_int(f"blocks[{s - 1}]", n)
        c = _checks.positive_int(f"channels[{s - 1}]", c)
        h = hidden_width(c, reduction, min_hidden)
        out.append(StageParams(s, n, c, h, n * 2 * c * h, n * (h * bias1 + c * bias2)))
    return out


def _stage_of(name: str, model: nn.Module) -> int:
    """Stage number of the module called ``name`` (``layer3.2.se`` -> 3; VGG by pool order)."""
    m = re.match(r"layer(\d+)\.", name)
    if m:
        return int(m.group(1))
    m = re.match(r"features\.(\d+)\.", name)
    if m and isinstance(model, VGG):
        pools = [i for i, x in enumerate(model.features)
                 if isinstance(x, nn.MaxPool2d) or (isinstance(x, nn.Sequential) and hasattr(x, "pool"))]
        return pools.index(int(m.group(1))) + 1
    return 0


def se_blocks(model: nn.Module) -> list[tuple[int, str, SEBlock]]:
    """Every SE block of ``model`` as ``(stage, name, block)``, in order (stage 0: not in a stage)."""
    return [(_stage_of(name, model), name, m) for name, m in model.named_modules()
            if isinstance(m, SEBlock)]


def count_se_params(model: nn.Module) -> dict[int, int]:
    """Parameters of the SE blocks in ``model``, counted, per stage: ``{stage: count}``."""
    counts: dict[int, int] = {}
    for stage, _, se in se_blocks(model):
        counts[stage] = counts.get(stage, 0) + sum(p.numel() for p in se.parameters())
    return counts


def analytic_se_flops(
    model: nn.Module, input_size: tuple[int, int, int, int] = (1, 3, 224, 224)
) -> dict[int, dict[str, int]]:
    """What the SE blocks of ``model`` compute for one input of ``input_size``, per stage.

    A forward pass (on zeros, without gradients) records the ``(N, C, H, W)`` shape each SE
    block sees; from the shapes, per stage:

    * ``"pool"``: ``N * C * H * W`` additions (global average pooling reads every element);
    * ``"fc"``: ``N * 2 * C * h`` multiply-adds (the two fully connected layers);
    * ``"scale"``: ``N * C * H * W`` multiplications (every element times its gate).

    ReLU, sigmoid and biases (``C + h`` per block) are left out. Counters such as torchinfo
    and ``torch.utils.flop_counter`` see only the ``"fc"`` part (see chapter 5).
    """
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 4
            or not all(isinstance(v, int) and v > 0 for v in input_size)):
        raise ValueError(f"input_size must be (N, C, H, W) positive ints, got {input_size!r}")
    records: list[tuple[int, int, torch.Size]] = []  # (stage, hidden, input shape)
    handles = []
    for stage, _, se in se_blocks(model):
        def hook(mod, args, stage=stage, hidden=se.hidden):
            records.append((stage, hidden, args[0].shape))
        handles.append(se.squeeze.register_forward_pre_hook(hook))
    if not handles:
        raise ValueError(f"model ({type(model).__name__}) has no SE blocks; use add_se first")
    ref = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_size, device=ref.device, dtype=ref.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    out: dict[int, dict[str, int]] = {}
    for stage, hidden, (n, c, h, w) in records:
        d = out.setdefault(stage, {"pool": 0, "fc": 0, "scale": 0})
        d["pool"] += n * c * h * w
        d["fc"] += n * 2 * c * hidden
        d["scale"] += n * c * h * w
    return out


# --------------------------------------------------------------------------------------------
# timm weights
# --------------------------------------------------------------------------------------------


def timm_to_senet_state_dict(
    source: nn.Module | Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], str]:
    """Rename and reshape a timm SE-ResNet state dict for :func:`se_resnet50`'s model.

    Two timm layouts are recognised by their keys:

    * ``"seresnet50"`` (timm's ResNet with ``se`` attention): the same names as
      torchvision plus ``layerK.i.se.fc1/fc2``;
    * ``"legacy"`` (``legacy_seresnet50``, the authors' Caffe model ported): stem in
      ``layer0.conv1`` / ``layer0.bn1``, SE in ``se_module``, classifier ``last_linear``.

    In both, the SE FCs are 1x1 convolutions with weights ``(out, in, 1, 1)``; they become
    ``nn.Linear`` weights ``(out, in)`` (on an ``(N, C, 1, 1)`` tensor the two are the same map).

    Returns:
        ``(state_dict, layout)`` with ``layout`` ``"seresnet50"`` or ``"legacy"``.
    """
    if isinstance(source, nn.Module):
        source = source.state_dict()
    if not isinstance(source, Mapping):
        raise TypeError(
            f"source must be a timm model or its state dict, got {type(source).__name__}"
        )
    if "layer0.conv1.weight" in source:
        layout = "legacy"
    elif "conv1.weight" in source and any(".se.fc1." in k for k in source):
        layout = "seresnet50"
    else:
        raise ValueError(
            "source is not a timm seresnet50 / legacy_seresnet50 state dict: expected keys "
            "'conv1.weight' with 'layerK.i.se.fc1.weight', or 'layer0.conv1.weight'; "
            f"got first keys {list(source)[:4]}"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        new = key
        if layout == "legacy":
            new = re.sub(r"^layer0\.", "", new)
            new = new.replace(".se_module.", ".se.")
            new = re.sub(r"^last_linear\.", "fc.", new)
        if re.search(r"\.se\.fc[12]\.weight$", new) and value.dim() == 4:
            value = value.flatten(1)  # (out, in, 1, 1) -> (out, in)
        out[new] = value
    return out, layout


def se_resnet50_from_timm(
    source: nn.Module | Mapping[str, torch.Tensor], *, fused: bool = True
) -> ResNet:
    """The library's SE-ResNet-50 carrying the weights of a timm SE-ResNet-50.

    ``source`` is a timm ``seresnet50`` or ``legacy_seresnet50`` model, or its state dict.
    timm keeps biases in both SE FCs, so the model is built with ``bias1=True``; the
    reduction ratio and the number of classes are read from the weights. For the legacy
    layout the architecture differs from torchvision's in two places, which are changed to
    match: each stage's first bottleneck strides in its first 1x1 convolution rather than
    in the 3x3 one (the original ResNet, "v1", rather than torchvision's "v1.5"), and the
    stem's max pooling is ``MaxPool2d(3, stride=2, ceil_mode=True)`` without padding.

    Online readers get the authors' ImageNet weights with
    ``se_resnet50_from_timm(timm.create_model("legacy_seresnet50", pretrained=True))``.
    """
    state, layout = timm_to_senet_state_dict(source)
    fc1 = state["layer1.0.se.fc1.weight"]
    hidden, channels = fc1.shape
    if channels % hidden:
        raise ValueError(f"SE hidden width {hidden} does not divide {channels} channels")
    model = se_resnet50(
        channels // hidden,
        fused,
        num_classes=state["fc.weight"].shape[0],
        bias1="layer1.0.se.fc1.bias" in state,
        bias2="layer1.0.se.fc2.bias" in state,
    )
    if layout == "legacy":
        model.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        for layer in (model.layer2, model.layer3, model.layer4):
            first = layer[0]
            first.conv1.stride, first.conv2.stride = first.conv2.stride, (1, 1)
    model.load_state_dict(state, strict=True)
    return model
