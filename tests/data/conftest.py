import shutil
from pathlib import Path

import pytest


@pytest.fixture
def copy_sample(sample_dir):
    """copy_sample(folder) -> folder/cifar-10-batches-py, a writable copy of the sample's python layout."""

    def copy(folder: Path) -> Path:
        dst = Path(folder) / "cifar-10-batches-py"
        shutil.copytree(sample_dir / "cifar-10-batches-py", dst, copy_function=shutil.copyfile)
        dst.chmod(0o755)
        return dst

    return copy
