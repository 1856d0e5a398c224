"""senet_lib: the small PyTorch library behind the book *SE-Nets, hands-on*."""

__version__ = "0.1.0"

from .block import SEBlock, hidden_width, scale, squeeze  # noqa: E402
from .notebook import setup  # noqa: E402

__all__ = ["SEBlock", "hidden_width", "scale", "squeeze", "setup", "__version__"]
