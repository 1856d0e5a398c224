"""senet_lib: the small PyTorch library behind the book *SE-Nets, hands-on*.

``import senet_lib`` loads only the SE block and the notebook setup; the rest (networks, which
needs torchvision's model zoo, data, training, ...) is imported when first used, so that a
chapter pays only for what it uses. The module map is in CONTRIBUTING.md.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .block import SEBlock, excite, hidden_width, scale, squeeze
from .notebook import setup

#: Names re-exported here but imported from their module only when first used.
_LAZY = {"add_se": "networks", "se_resnet50": "networks"}

__all__ = ["SEBlock", "add_se", "excite", "hidden_width", "scale", "se_resnet50", "squeeze",
           "setup", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'senet_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
