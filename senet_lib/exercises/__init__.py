"""Checkers for the book's exercises: ``check_...(your_function)`` -> a pass or a hint.

One module per chapter; everything is re-exported here, so a chapter writes
``from senet_lib.exercises import check_squeeze``.
"""

from ._core import CheckResult, ExerciseCheckError, Hint, checker, strict  # noqa: F401
from .ch01 import *
from .ch02 import *
from .ch03 import *
from .ch04 import *
from .ch05 import *
from .ch06 import *
from .ch07 import *
from .ch08 import *
from .ch09 import *
from .ch10 import *
from .predict import *
