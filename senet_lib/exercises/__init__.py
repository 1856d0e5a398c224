"""Checkers for the book's exercises: ``check_...(your_function)`` -> a pass or a hint.

One module per chapter; everything is re-exported here, so a chapter writes
``from senet_lib.exercises import check_squeeze``.
"""

from ._core import CheckResult, ExerciseCheckError, Hint, checker, strict  # noqa: F401
from .ch01 import *  # noqa: F401,F403
from .ch02 import *  # noqa: F401,F403
from .ch03 import *  # noqa: F401,F403
from .ch04 import *  # noqa: F401,F403
from .ch05 import *  # noqa: F401,F403
from .ch06 import *  # noqa: F401,F403
from .ch07 import *  # noqa: F401,F403
from .ch08 import *  # noqa: F401,F403
from .ch09 import *  # noqa: F401,F403
from .ch10 import *  # noqa: F401,F403
from .predict import *  # noqa: F401,F403
