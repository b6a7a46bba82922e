import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from convviz.paths import SAMPLE  # noqa: E402


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The real CIFAR-10 sample beside the project (../shared/cifar10-sample)."""
    assert SAMPLE.is_dir(), f"the CIFAR-10 sample is missing at {SAMPLE}"
    return SAMPLE
