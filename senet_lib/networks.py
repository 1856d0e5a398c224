"""SE inside networks: retrofit torchvision ResNets and VGGs, and load timm's SE-ResNet-50.

* :func:`add_se` puts an :class:`~senet_lib.block.SEBlock` into every residual block of a
  torchvision ResNet (``BasicBlock`` or ``Bottleneck``), at one of the five positions of the
  paper's integration study, or after every convolutional stage of a torchvision VGG.
* :func:`add_attention` does the same with any block of :mod:`senet_lib.successors`
  (``add_attention(model, "eca")``, ``"cbam"``, ``"ge"``, ...).
* :func:`se_resnet50` is ``add_se(torchvision.models.resnet50(weights=None))``.
* :func:`se_resnet50_from_timm` loads a timm ``seresnet50`` or ``legacy_seresnet50`` state
  dict into the library's SE-ResNet-50 (timm itself is not imported: pass its model or its
  state dict); :func:`linear_as_conv1x1` is the other direction of its weight conversion,
  an ``nn.Linear`` rewritten as the 1x1 convolution timm stores.
* :func:`timm_legacy_seresnet50` builds timm's ``legacy_seresnet50`` itself (timm imported
  inside it), with ImageNet's normalisation and class names, for analyses of its own modules.

What SE costs in these networks (parameters, FLOPs, bytes) is counted in :mod:`senet_lib.cost`.

Stages are numbered as torchvision names them: ``layer1`` ... ``layer4`` are stages 1 to 4
(the paper calls them conv2_x ... conv5_x, "stage 2" to "stage 5"); a VGG has stages 1 to 5,
one per max-pooling layer.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn
from torchvision.models import VGG, ResNet, resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck

from . import _checks

__all__ = [
    "POSITIONS",
    "SEBasicBlock",
    "SEBottleneck",
    "add_se",
    "add_attention",
    "se_resnet50",
    "timm_to_senet_state_dict",
    "se_resnet50_from_timm",
    "linear_as_conv1x1",
    "timm_legacy_seresnet50",
]

#: Where :func:`add_se` can put the SE block in a residual unit (the paper's Fig. 5 and Table 15).
POSITIONS: tuple[str, ...] = ("standard", "pre", "post", "identity", "3x3")

_Model = TypeVar("_Model", bound=nn.Module)  # add_se and add_attention return the model they are given


# --------------------------------------------------------------------------------------------
# SE residual blocks
# --------------------------------------------------------------------------------------------


class _SEResidual(nn.Module):
    """What the two SE residual blocks share: where the SE goes, and the merge of the branches."""

    if TYPE_CHECKING:  # for mypy only: TorchScript cannot read these annotations (they are strings here)
        se: nn.Module
        relu: nn.Module

    def __init__(self, position: str) -> None:
        super().__init__()
        self.position = position

    def _add_layers(self, layers: list[tuple[str, nn.Module | None]], se: nn.Module, after: str) -> None:
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

        "standard": SE rescales the branch before the addition. "identity": SE rescales the
        identity instead. "post": SE follows the final ReLU.
        """
        if self.position == "standard":
            out = self.se(out)
        elif self.position == "identity":
            identity = self.se(identity)
        out += identity
        out = self.relu(out)
        if self.position == "post":
            out = self.se(out)
        return out

    def extra_repr(self) -> str:
        return f"position={self.position!r}"


class SEBasicBlock(_SEResidual):
    """A torchvision ``BasicBlock`` (two 3x3 convolutions) with an SE block in it.

    The sub-layers keep torchvision's names (``conv1``, ``bn1``, ``conv2``, ``bn2``,
    ``relu``, ``downsample``), so a torchvision ResNet's state dict loads into the SE
    model with only the ``se`` weights missing. Build one with :meth:`from_block`.

    Shapes: input ``(N, C_in, H, W)``, output ``(N, C_out, H / stride, W / stride)``.
    """

    if TYPE_CHECKING:  # as in _SEResidual: the layers _add_layers registers, typed as in torchvision's BasicBlock
        conv1: nn.Conv2d
        bn1: nn.Module
        conv2: nn.Conv2d
        bn2: nn.Module
        downsample: nn.Module | None

    def __init__(self, block: BasicBlock, se: nn.Module, position: str) -> None:
        super().__init__(position)
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

    if TYPE_CHECKING:  # as in _SEResidual: the layers _add_layers registers, typed as in torchvision's Bottleneck
        conv1: nn.Conv2d
        bn1: nn.Module
        conv2: nn.Conv2d
        bn2: nn.Module
        conv3: nn.Conv2d
        bn3: nn.Module
        downsample: nn.Module | None

    def __init__(self, block: Bottleneck, se: nn.Module, position: str) -> None:
        super().__init__(position)
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
    # the last batch norm's channels: those of the convolution before it
    last_conv = block.conv3 if isinstance(block, Bottleneck) else block.conv2
    return last_conv.out_channels


# --------------------------------------------------------------------------------------------
# add_se
# --------------------------------------------------------------------------------------------


def _check_position(position: object) -> str:
    if not isinstance(position, str):
        raise TypeError(f"position must be a str, one of {POSITIONS}, got {type(position).__name__}")
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
    return position


def add_se(
    model: _Model,
    reduction: int = 16,
    position: str = "standard",
    stages: Iterable[int] | None = None,
    *,
    pool: str = "avg",
    gate: str = "sigmoid",
    bias1: bool = False,
    bias2: bool = True,
) -> _Model:
    """Insert SE blocks into a torchvision ResNet or VGG, **in place**, and return the model.

    Args:
        model: a ``torchvision.models.ResNet`` (made of ``BasicBlock`` or ``Bottleneck``
            units: resnet18 ... resnet152, resnext, wide_resnet) or a ``torchvision.models.VGG``.
            Its existing layers (and weights) are kept; only SE blocks are added.
        reduction: ``r``, the SE bottleneck has ``max(1, C // r)`` units.
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
        pool, gate, bias1, bias2: passed to every :class:`~senet_lib.block.SEBlock` (how it
            squeezes, its last non-linearity, the biases of its two FC layers), which checks them.

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
    return add_attention(model, "se", reduction, position, stages, pool=pool, gate=gate,
                         bias1=bias1, bias2=bias2)


def add_attention(
    model: _Model,
    kind: str = "se",
    reduction: int | None = None,
    position: str = "standard",
    stages: Iterable[int] | None = None,
    **options,
) -> _Model:
    """Insert attention blocks of one ``kind`` where :func:`add_se` inserts SE, **in place**.

    ``kind`` is a name of :data:`senet_lib.registry.ATTENTION`: ``"se"``, ``"eca"``,
    ``"cbam"``, ``"ge"`` (parameter-free gather-excite), ``"ge_learned"``, ``"no_squeeze"``, or
    the controls ``"scale"`` and ``"constant"``. ``add_attention(model, "eca")`` gives an
    ECA-ResNet. ``position`` and ``stages`` mean what they mean for :func:`add_se`; ``reduction``
    (for the blocks that have one; ``None``: the block's default, 16) and ``options`` go to each
    block (e.g. ``kernel_size=5`` for ECA, ``extent=8`` for gather-excite, ``pool="max"`` for SE)
    through :func:`senet_lib.registry.make_attention`, the one function that builds what fills an
    attention slot. A block sits in the attribute ``se`` of its unit, whatever its kind.

    Raises:
        TypeError / ValueError: as :func:`add_se`; an unknown ``kind`` or a bad option fails
            before the model changes.
    """
    from .registry import make_attention

    if reduction is not None:
        options = {"reduction": _checks.positive_int("reduction", reduction), **options}
    position = _check_position(position)

    def new_block(channels: int, like: nn.Module) -> nn.Module:
        """A block for ``channels`` channels, on the device and dtype of ``like``'s parameters."""
        ref = next(like.parameters())
        return make_attention(kind, channels, **options).to(device=ref.device, dtype=ref.dtype)

    make_attention(kind, 16, **options)  # bad settings fail here, before the model changes
    if isinstance(model, ResNet):
        _add_se_resnet(model, new_block, position, stages)
    elif isinstance(model, VGG):
        _add_se_vgg(model, new_block, position, stages)
    else:
        raise TypeError(
            "add_se / add_attention can modify torchvision ResNet (BasicBlock / Bottleneck) and VGG "
            f"models, got model of type {type(model).__name__}"
        )
    return model


def _add_se_resnet(model: ResNet, new_block, position: str, stages: object) -> None:
    chosen = _checks.stages("stages", stages, 4, "ResNet")
    layers = [model.layer1, model.layer2, model.layer3, model.layer4]
    # Check every block before changing any, so that an error leaves the model untouched.
    for k, layer in enumerate(layers, start=1):
        for i, block in enumerate(layer):
            if isinstance(block, _SEResidual):
                raise ValueError(
                    f"model already has SE or attention blocks (layer{k}.{i} is {type(block).__name__}); "
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
            assert isinstance(block, (BasicBlock, Bottleneck))  # checked in the loop above
            se = new_block(_se_channels(block, position), block)
            new: _SEResidual
            if isinstance(block, Bottleneck):
                new = SEBottleneck(block, se, position)
            else:
                new = SEBasicBlock(block, se, position)
            new.train(block.training)
            layer[i] = new


def _vgg_features(model: VGG) -> nn.Sequential:
    """``model.features``, the ``nn.Sequential`` of a torchvision VGG's convolutional stages."""
    if not isinstance(model.features, nn.Sequential):
        raise TypeError(f"model.features is a {type(model.features).__name__}; add_se knows torchvision's "
                        "VGG, whose features are an nn.Sequential")
    return model.features


def _vgg_stages(model: VGG) -> list[tuple[int, int]]:
    """``(index of the stage's MaxPool2d in model.features, channels)`` for each VGG stage."""
    out: list[tuple[int, int]] = []
    channels: int | None = None
    for i, m in enumerate(_vgg_features(model)):
        if isinstance(m, nn.Conv2d):
            channels = m.out_channels
        elif isinstance(m, nn.MaxPool2d):
            if channels is None:
                raise ValueError(f"features.{i} is a max pooling before any convolution; add_se knows "
                                 "torchvision's VGG")
            out.append((i, channels))
        elif isinstance(m, nn.Sequential) and "se" in dict(m.named_children()):
            raise ValueError(
                f"model already has SE or attention blocks (features.{i}); add_se works on a plain torchvision model"
            )
    return out


def _add_se_vgg(model: VGG, new_block, position: str, stages: object) -> None:
    if position != "standard":
        raise ValueError(
            f"position={position!r} needs a residual unit; a VGG has none, so only "
            "position='standard' (SE after each convolutional stage) applies"
        )
    found = _vgg_stages(model)
    chosen = _checks.stages("stages", stages, len(found), f"VGG with {len(found)} stages")
    features = _vgg_features(model)
    for k in chosen:
        i, channels = found[k - 1]
        pool = features[i]
        se = new_block(channels, features)
        features[i] = nn.Sequential(OrderedDict(se=se, pool=pool))


def se_resnet50(
    reduction: int = 16,
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
    return add_se(model, reduction, "standard", bias1=bias1, bias2=bias2)


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


def se_resnet50_from_timm(source: nn.Module | Mapping[str, torch.Tensor]) -> ResNet:
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
        num_classes=state["fc.weight"].shape[0],
        bias1="layer1.0.se.fc1.bias" in state,
        bias2="layer1.0.se.fc2.bias" in state,
    )
    if layout == "legacy":
        model.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        for layer in (model.layer2, model.layer3, model.layer4):
            first = layer[0]
            assert isinstance(first, SEBottleneck)  # se_resnet50's units
            first.conv1.stride, first.conv2.stride = first.conv2.stride, (1, 1)
    model.load_state_dict(state, strict=True)
    return model


def linear_as_conv1x1(linear: nn.Linear) -> nn.Conv2d:
    """The 1x1 convolution that computes what ``linear`` computes, on ``(N, C, 1, 1)``.

    ``nn.Linear(C_in, C_out)`` holds a ``(C_out, C_in)`` weight; a 1x1 convolution (how timm
    stores SE's FC layers) holds a ``(C_out, C_in, 1, 1)`` weight. Same numbers, two trailing
    axes of size 1; the bias (if any) is copied as is. The result is a new module with its own
    parameters, on the device and dtype of ``linear``.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    conv = nn.Conv2d(linear.in_features, linear.out_features, kernel_size=1,
                     bias=linear.bias is not None)
    conv = conv.to(device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        if linear.bias is not None and conv.bias is not None:  # conv has a bias iff linear has
            conv.bias.copy_(linear.bias)
    return conv


def timm_legacy_seresnet50(pretrained: bool = False) -> tuple[nn.Module, dict]:
    """timm's ``legacy_seresnet50`` (the authors' Caffe weights, ported) and its data config.

    ``pretrained=True`` downloads the ImageNet weights (about 110 MB) on first use: only for
    readers online. ``pretrained=False`` gives the same architecture with random weights,
    which is what the tests use. Returns ``(model in eval mode, {"mean", "std",
    "class_names"})`` with ImageNet's normalisation and the 1000 class descriptions.
    """
    _checks.boolean("pretrained", pretrained)
    import timm
    from timm.data import ImageNetInfo, resolve_model_data_config

    model = timm.create_model("legacy_seresnet50", pretrained=pretrained).eval()
    cfg = resolve_model_data_config(model)  # the normalisation of model.pretrained_cfg
    info = ImageNetInfo()
    names = [info.index_to_description(i) for i in range(1000)]
    return model, {"mean": tuple(cfg["mean"]), "std": tuple(cfg["std"]), "class_names": names}
