"""Assertions shared by the checker tests."""


def fails_with(result, text: str) -> None:
    """``result`` is a failed (not pending) check whose hint contains ``text``."""
    assert not result.passed, result
    assert not result.pending, result
    assert text in result.message, result.message
