"""A small network trained for a few seconds on the real CIFAR-10 sample, shared by the interpret tests."""
import numpy as np
import pytest

from convviz.data import load_cifar10
from convviz.model import Architecture, LayerSpec as L
from convviz.training import TrainConfig, Trainer
from convviz.interpret.subject import Subject


def small_cifar_net() -> Architecture:
    return Architecture(layers=[
        L("conv", {"filters": 8, "size": 5, "stride": 1, "pad": 2}), L("relu"), L("maxpool", {"size": 2}),
        L("conv", {"filters": 12, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 2}),
        L("fc", {"units": 10}), L("softmax")])


@pytest.fixture(scope="session")
def sample(sample_dir):
    return load_cifar10(sample_dir)


@pytest.fixture(scope="session")
def trained(sample):
    """(Subject, its trainer) for a small net trained 2 epochs on the sample (about 43% test accuracy)."""
    trainer = Trainer(small_cifar_net(), sample, TrainConfig(epochs=2, batch_size=32, lr=0.01, augment=False,
                                                             snapshot_rate=0, evaluate_test=False))
    for _ in trainer.run():
        pass
    subject = Subject.copied(trainer.arch, trainer.net.state(), trainer.normalizer, sample.label_names)
    return subject, trainer


@pytest.fixture
def rng():
    return np.random.default_rng(0)
