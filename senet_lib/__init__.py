"""senet_lib: the small PyTorch library behind the book *SE-Nets, hands-on*."""

__version__ = "0.1.0"

from .block import SEBlock, hidden_width, scale, squeeze  # noqa: E402
from .networks import add_se, se_resnet50  # noqa: E402
from .notebook import setup  # noqa: E402

__all__ = ["SEBlock", "add_se", "hidden_width", "scale", "se_resnet50", "squeeze", "setup", "__version__"]
