"""Predictions as learners write them, for ``check_prediction(prediction, truth, what=..., ...)``.

Each entry: ``(kind, label, prediction, truth, options, words)``; ``kind`` is "correct" (must
pass), "wrong" (must fail with ``words`` in the message), "malformed" (a value of the wrong kind:
must fail with ``words``, never raise) or "pending" (``None``: pending, showing the answer). A
prediction is a value the learner writes, not a function, so there is no "raises" kind here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

COUNT = dict(what="parameters of SEBlock(64, 16)", unit="parameters")
SHARE = dict(what="extra arithmetic", unit="%", tolerance=0.3)
FRACTION = dict(what="brightness after scaling", tolerance=0.005)

PREDICTIONS = [
    ("correct", "an int", 2112, 2112, COUNT, ""),
    ("correct", "an np.int64 against a tensor", np.int64(2112), torch.tensor(2112), COUNT, ""),
    ("correct", "a whole float", 2112.0, 2112, COUNT, ""),
    ("correct", "a 0-d tensor", torch.tensor(2112), 2112, COUNT, ""),
    ("correct", "within the tolerance", 0.5, 0.48, SHARE, ""),
    ("correct", "an np.float32 fraction", np.float32(0.502), 0.5, FRACTION, ""),
    ("correct", "float rounding", 0.1 + 0.2, 0.3, dict(what="a sum"), ""),
    ("correct", "a string, other case and spaces", "  Brightness,  RED ", "brightness, red", dict(what="channels"), ""),
    ("correct", "a bool", False, False, dict(what="same gates"), ""),
    ("correct", "a NumPy bool", np.bool_(True), True, dict(what="same gates"), ""),
    ("wrong", "too low", 2000, 2112, COUNT, "too low by 112 parameters"),
    ("wrong", "too high", 2113, 2112, COUNT, "too high by 1 parameters"),
    ("wrong", "outside the tolerance", 1.0, 0.48, SHARE, "too high by 0.52 percentage points"),
    ("wrong", "the other string", "brightness", "brightness, red", dict(what="channels"), "but the answer is"),
    ("wrong", "the other bool", True, False, dict(what="same gates"), "but it is False"),
    ("wrong", "infinity", math.inf, 5.0, dict(what="value", tolerance=100), "too high"),
    ("wrong", "an int too large for a float", 10 ** 400, 2112, COUNT, "too high"),
    ("pending", "None", None, 2112, COUNT, "the answer is 2,112 parameters"),
    ("malformed", "str", "2112", 2112, COUNT, "without quotes"),
    ("malformed", "str", "True", True, dict(what="same gates"), "without quotes"),
    ("malformed", "list", [2112], 2112, COUNT, "write it as a number"),
    ("malformed", "NaN", math.nan, 2112, COUNT, "NaN"),
    ("malformed", "NaN", torch.tensor(float("nan")), 0.48, SHARE, "NaN"),
    ("malformed", "dtype", True, 1, dict(what="value"), "write it as a number"),
    ("malformed", "dtype", 1, True, dict(what="same gates"), "True or False"),
    ("malformed", "dtype", 3, "unchanged", dict(what="descriptor"), "in quotes"),
    ("malformed", "dtype", 1 + 2j, 2112, COUNT, "write it as a number"),
    ("malformed", "shape", torch.ones(3), 2112, COUNT, "write it as a number"),
    ("malformed", "shape", np.arange(1000), 2112, COUNT, "..."),
]
