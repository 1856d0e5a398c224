"""Chapter 6 checkers: each passes the right answer and catches plausible wrong ones."""

import math
import statistics

import pytest
from checking import fails_with as _expect_hint

from senet_lib.exercises import check_colour_cast, check_lr_schedule, check_paired_difference
from senet_lib.train import lr_at


def test_colour_cast():
    assert check_colour_cast(lambda x, g: (x * g[:, :, None, None]).clamp(0, 1)).passed
    _expect_hint(check_colour_cast(lambda x, g: x * g[:, :, None, None]), "clip")
    _expect_hint(check_colour_cast(lambda x, g: (x * g[0][None, :, None, None]).clamp(0, 1)), "image 0")
    _expect_hint(check_colour_cast(lambda x, g: (x * g.mean(1)[:, None, None, None]).clamp(0, 1)),
                 "one gain per")
    _expect_hint(check_colour_cast(lambda x, g: x), "differs")
    _expect_hint(check_colour_cast(lambda x, g: g), "shape")


def test_colour_cast_stub_is_pending():
    def stub(x, g):
        raise NotImplementedError("Exercise")
    r = check_colour_cast(stub)
    assert not r.passed and r.pending


def test_lr_schedule():
    assert check_lr_schedule(lr_at).passed

    def from_zero(step, total, base, warm):
        return base * step / warm if step < warm else lr_at(step, total, base, warm)
    _expect_hint(check_lr_schedule(from_zero), "warm up with (step + 1)")

    def no_decay(step, total, base, warm):
        return base * (step + 1) / warm if step < warm else base
    _expect_hint(check_lr_schedule(no_decay), "does not decay")

    def cosine_from_zero(step, total, base, warm):  # forgot to subtract the warm-up
        if step < warm:
            return base * (step + 1) / warm
        return 0.5 * base * (1 + math.cos(math.pi * step / total))
    _expect_hint(check_lr_schedule(cosine_from_zero), "counts t from step 0")
    _expect_hint(check_lr_schedule(lambda *a: "0.1"), "float")


def test_paired_difference():
    def right(p, s):
        d = [b - a for a, b in zip(p, s, strict=True)]
        return statistics.fmean(d), statistics.stdev(d)
    assert check_paired_difference(right).passed
    _expect_hint(check_paired_difference(lambda p, s: (-right(p, s)[0], right(p, s)[1])), "sign")

    def population(p, s):
        d = [b - a for a, b in zip(p, s, strict=True)]
        return statistics.fmean(d), statistics.pstdev(d)
    _expect_hint(check_paired_difference(population), "n - 1")

    def unpaired(p, s):
        return right(p, s)[0], math.sqrt(statistics.variance(p) + statistics.variance(s))
    _expect_hint(check_paired_difference(unpaired), "pair")
    _expect_hint(check_paired_difference(lambda p, s: 0.0), "pair (mean, std)")


def test_strict_mode_raises(monkeypatch):
    from senet_lib.exercises import ExerciseCheckError

    monkeypatch.setenv("SENET_STRICT_CHECKS", "1")
    with pytest.raises(ExerciseCheckError):
        check_colour_cast(lambda x, g: x)
