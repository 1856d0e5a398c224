"""Shared test setup."""

import pytest


@pytest.fixture(autouse=True)
def _lenient_checks(monkeypatch):
    """Checkers return their result instead of raising, whatever the caller's environment says
    (``make test`` sets SENET_STRICT_CHECKS=1 for the notebooks); a test that wants strict mode
    sets it itself."""
    monkeypatch.delenv("SENET_STRICT_CHECKS", raising=False)


# The small SE-ResNet and images that the tests of gates, removal and figures share
# (tests/gate_models.py builds them; module scope, so each test module builds them once).

@pytest.fixture(scope="module")
def model():
    from gate_models import small_se_resnet

    return small_se_resnet()


@pytest.fixture(scope="module")
def images():
    from gate_models import random_images

    return random_images()
