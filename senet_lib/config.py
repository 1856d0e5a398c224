"""A training run's configuration: one dataclass, whose fields are exactly what builds the model,
the data and the training.

:class:`RunConfig` is written to every results file (as ``"settings"``, with the seeds and without
what the arms of a study set) and into every checkpoint (``"config"``); reading it back is
:meth:`RunConfig.from_dict`, and :func:`build_model` / :func:`build_data` build from it, so the
same dict goes both ways::

    cfg = RunConfig(depth=20, attn="se", epochs=12, per_class=400, seed=3)
    model = build_model(cfg)                        # torch.manual_seed(cfg.seed) first to repeat a run
    assert RunConfig.from_dict(cfg.to_dict()) == cfg

The command line (:mod:`senet_lib.experiments`) is made from these fields, and :data:`PRESETS` are
``dataclasses.replace(RunConfig(), ...)``. Where the run happens (device, threads, processes, the
folder with CIFAR-10) is not part of the configuration: it changes the time, not the numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from torch import nn

from . import _checks
from .registry import attention_options

if TYPE_CHECKING:
    from torchvision.datasets import CIFAR10

__all__ = ["RunConfig", "ARM_FIELDS", "PRESETS", "build_model", "build_data", "arm_from_knobs"]

#: The fields an arm of a study sets (what fills the attention slot, and where it goes); the
#: rest of a study's configuration is shared by its arms.
ARM_FIELDS: tuple[str, ...] = ("attn", "attn_options", "stages", "position")


def _help(text: str, **more: Any) -> dict[str, Any]:
    return {"help": text, **more}


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a training run's numbers (validated once, here).

    The model: a CIFAR-style ResNet (:func:`senet_lib.cifar_resnet.cifar_resnet`) of ``depth``
    and ``width`` with ``attn`` (a name of :data:`senet_lib.registry.ATTENTION`) and its options
    in the attention slot of the units of ``stages``, at ``position``. The data: the photo-patch
    task or CIFAR-10 (:func:`build_data`). The training: :func:`senet_lib.train.train` with
    ``seed`` for the initialisation (``torch.manual_seed(seed)`` before the model is built), the
    batch order and the augmentation.
    """

    # the model
    depth: int = field(default=20, metadata=_help("6n + 2: 8, 14, 20, 32, ..."))
    width: int = field(default=16, metadata=_help("channels of the first stage"))
    attn: str = field(default="none", metadata=_help("what fills the attention slot (an arm sets it)"))
    attn_options: dict = field(default_factory=dict, metadata=_help("the block's options"))
    stages: tuple[int, ...] = field(default=(1, 2, 3), metadata=_help("stages with the block"))
    position: str = field(default="standard", metadata=_help("where the block sits in a unit"))
    # the data
    dataset: str = field(default="photos", metadata=_help("photos or cifar10", choices=("photos", "cifar10")))
    per_class: int = field(default=300, metadata=_help("photos: training patches per class"))
    test_per_class: int = field(default=100, metadata=_help("photos: test patches per class"))
    data_seed: int = field(default=0, metadata=_help("photos: seed of the patch generator"))
    max_cast: float = field(default=0.5, metadata=_help(
        "photos: per-image colour cast, channel gains exp(u), |u| <= this (0: none)"))
    max_exposure: float = field(default=0.5, metadata=_help(
        "photos: per-image exposure, a common gain exp(v), |v| <= this (0: none)"))
    subset: int = field(default=0, metadata=_help("cifar10: use only the first N images (0: all)"))
    # the training
    seed: int = field(default=0, metadata=_help("initialisation, batch order and augmentation"))
    epochs: int = field(default=15, metadata=_help("passes over the training set"))
    batch_size: int = field(default=128, metadata=_help("images per step (the global batch under torchrun)"))
    lr: float = field(default=0.1, metadata=_help("peak learning rate (warm-up, then cosine to 0)"))
    momentum: float = field(default=0.9, metadata=_help("SGD's Nesterov momentum"))
    weight_decay: float = field(default=5e-4, metadata=_help("on weights, not on biases and norms"))
    warmup_epochs: float = field(default=1.0, metadata=_help("linear warm-up, in epochs"))
    amp: bool = field(default=False, metadata=_help("bfloat16 autocast for the forward pass"))
    channels_last: bool = field(default=False, metadata=_help("channels-last memory format"))

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 8 or (self.depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, ...), got {self.depth!r}")
        for name in ("width", "epochs", "batch_size", "per_class", "test_per_class"):
            _checks.positive_int(name, getattr(self, name))
        set_("attn_options", attention_options(self.attn, self.attn_options))
        set_("stages", tuple(_checks.stages("stages", self.stages, 3, "CIFAR ResNet")))
        from .cifar_resnet import POSITIONS

        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        if self.dataset not in ("photos", "cifar10"):
            raise ValueError(f"dataset must be 'photos' or 'cifar10', got {self.dataset!r}")
        for name in ("seed", "data_seed", "subset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "max_cast", "max_exposure"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
            set_(name, float(value))
        if not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        _checks.boolean("amp", self.amp)
        _checks.boolean("channels_last", self.channels_last)

    @property
    def num_classes(self) -> int:
        """Classes of the dataset: 10 photographs, or CIFAR-10's 10 classes."""
        from .data import CIFAR10_CLASSES, PHOTO_CLASSES

        return len(PHOTO_CLASSES if self.dataset == "photos" else CIFAR10_CLASSES)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON takes it (``stages`` a list)."""
        out = dataclasses.asdict(self)
        out["stages"] = list(self.stages)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        """The configuration ``d`` describes (:meth:`to_dict`'s output); missing fields take
        their defaults.

        Raises:
            ValueError: ``d`` has keys that are not fields (the message names them).
        """
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"not fields of RunConfig: {unknown}; the fields are {names}")
        kwargs: dict[str, Any] = {k: (tuple(v) if k == "stages" else v) for k, v in d.items()}
        return cls(**kwargs)

    def arm(self) -> dict[str, Any]:
        """The fields an arm of a study sets (:data:`ARM_FIELDS`), as :meth:`to_dict` gives them."""
        d = self.to_dict()
        return {k: d[k] for k in ARM_FIELDS}

    def shared(self) -> dict[str, Any]:
        """The fields a study's arms share: all but the arm's fields and the seed."""
        return {k: v for k, v in self.to_dict().items() if k not in ARM_FIELDS and k != "seed"}


#: Settings for readers with a GPU, chosen with ``--preset NAME`` (options given on the command
#: line win). Nothing is downloaded unless ``--download`` is given.
PRESETS: dict[str, RunConfig] = {
    # The SE paper's CIFAR-10 ResNet-110 row (Table 4: 6.37 -> 5.21 % error) with He et al.'s
    # (2016) CIFAR recipe as far as this loop has it: batch 128, lr 0.1, momentum 0.9, weight
    # decay 1e-4, 164 epochs (their 64k iterations); a cosine decay stands in for their steps
    # at epochs 82 and 123, and shortcuts are 1x1 projections (their option B, not A).
    "cifar10-resnet110": replace(RunConfig(), dataset="cifar10", depth=110, epochs=164, batch_size=128,
                                 lr=0.1, momentum=0.9, weight_decay=1e-4),
    # The ablation sweep at CIFAR-10 scale on one GPU: ResNet-20, 30 epochs per arm.
    "gpu": replace(RunConfig(), dataset="cifar10", depth=20, epochs=30, batch_size=128, lr=0.1,
                   weight_decay=5e-4),
}


def build_model(cfg: RunConfig) -> nn.Module:
    """The network ``cfg`` describes, freshly initialised from the global RNG (seed it first):
    a :class:`~senet_lib.cifar_resnet.CifarResNet` mapping ``(N, 3, 32, 32)`` to
    ``(N, cfg.num_classes)`` logits."""
    from .cifar_resnet import cifar_resnet

    return cifar_resnet(cfg.depth, cfg.num_classes, width=cfg.width, attn=cfg.attn,
                        attn_options=cfg.attn_options, stages=cfg.stages, position=cfg.position)


def build_data(cfg: RunConfig, *, data_root: str = "data", download: bool = False):
    """``(train_dataset, test_dataset, info)`` for ``cfg``'s data: datasets of
    ``(image (3, 32, 32), label)`` pairs, normalised, and what the results file records of them.

    Photo patches: both splits are normalised with the per-channel statistics of the training set
    the model sees (recorded in ``info``), whatever the size of the test split. CIFAR-10 is read
    from ``data_root`` (downloaded only with ``download=True``); its loader crops and flips.
    """
    from torch.utils.data import Subset, TensorDataset

    from .data import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, cifar10, normalize, photo_patches

    if cfg.dataset == "photos":
        nuisance = {"max_cast": cfg.max_cast, "max_exposure": cfg.max_exposure}
        tr = photo_patches("train", cfg.per_class, seed=cfg.data_seed, max_cast=cfg.max_cast,
                           max_exposure=cfg.max_exposure)
        te = photo_patches("test", cfg.test_per_class, seed=cfg.data_seed, max_cast=cfg.max_cast,
                           max_exposure=cfg.max_exposure)
        info = {
            "name": "photos", "classes": tr.class_names, "credits": tr.credits,
            "n_train": len(tr), "n_test": len(te), "image_size": 32,
            "mean": list(tr.mean), "std": list(tr.std),
            "normalised_with": "training set statistics (both splits)",
            "generator": {"function": "senet_lib.data.photo_patches",
                          "per_class_train": cfg.per_class, "per_class_test": cfg.test_per_class,
                          "seed": cfg.data_seed, **nuisance},
        }
        test = TensorDataset(normalize(te.images, tr.mean, tr.std), te.labels)
        return tr.dataset(), test, info
    train_set: CIFAR10 | Subset[Any] = cifar10(data_root, train=True, download=download)
    test_set: CIFAR10 | Subset[Any] = cifar10(data_root, train=False, download=False)
    if cfg.subset:
        train_set = Subset(train_set, range(min(cfg.subset, len(train_set))))
        test_set = Subset(test_set, range(min(cfg.subset, len(test_set))))
    info = {"name": "cifar10", "classes": list(CIFAR10_CLASSES), "credits": ["Krizhevsky (2009)"],
            "n_train": len(train_set), "n_test": len(test_set), "image_size": 32,
            "mean": list(CIFAR10_MEAN), "std": list(CIFAR10_STD)}
    return train_set, test_set, info


def arm_from_knobs(knobs: Mapping[str, Any], reduction: int = 16) -> dict[str, Any]:
    """The arm fields (:data:`ARM_FIELDS`) of a network that results files and checkpoints of
    format 1 describe by ``cifar_resnet``'s old knobs (``se``, ``squeeze``, ``block``, ``pool``,
    ``gate``, ``reduction``, ``stages``, ``position``) and the run's ``reduction``; the arm's own
    ``reduction`` wins over the run's (the format-1 loader let them collide)."""
    known = {"se", "squeeze", "block", "pool", "gate", "reduction", "stages", "position"}
    unknown = sorted(set(knobs) - known)
    if unknown:
        raise ValueError(f"knobs of format 1 are {sorted(known)}, got {unknown}")
    r = knobs.get("reduction", reduction)
    if not knobs.get("se", False):
        attn, options = "none", {}
    elif not knobs.get("squeeze", True):
        attn, options = "no_squeeze", {"reduction": r}
    elif knobs.get("block", "se") == "se":
        attn, options = "se", {"reduction": r, "pool": knobs.get("pool", "avg"), "gate": knobs.get("gate", "sigmoid")}
    else:
        attn = knobs["block"]
        options = {"reduction": r} if "reduction" in attention_options(attn) else {}
    arm = RunConfig(attn=attn, attn_options=options, stages=tuple(knobs.get("stages") or (1, 2, 3)),
                    position=knobs.get("position", "standard"))
    return arm.arm()
