"""Small data and a tiny network, so the training tests stay fast."""
import pytest
from training_helpers import slice_data, tiny_architecture

from convviz.data import load_cifar10
from convviz.model.spec import Architecture
from convviz.training import TrainConfig


@pytest.fixture(scope="session")
def sample_data(sample_dir):
    return load_cifar10(sample_dir)


@pytest.fixture(scope="session")
def small_data(sample_data):
    """The first 256 training and 64 test images of the sample."""
    return slice_data(sample_data, 256, 64)


@pytest.fixture
def tiny_arch() -> Architecture:
    return tiny_architecture()


@pytest.fixture
def tiny_config() -> TrainConfig:
    """2 epochs of 7 batches (224 training images after the 32 held out)."""
    return TrainConfig(epochs=2, batch_size=32, lr=0.05, val_split=32, snapshot_rate=0)
