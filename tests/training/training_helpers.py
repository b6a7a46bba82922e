"""Shared by the training tests and the processes they start: a data slice and a tiny network."""
import dataclasses

from convviz.model.spec import Architecture, LayerSpec


def slice_data(data, n_train: int, n_test: int):
    """The first n_train training and n_test test images of a Cifar10."""
    return dataclasses.replace(data, train_images=data.train_images[:n_train], train_labels=data.train_labels[:n_train],
                               test_images=data.test_images[:n_test], test_labels=data.test_labels[:n_test])


def tiny_architecture() -> Architecture:
    """32x32x3 -> conv 4x4/2 (16x16x4) -> batchnorm -> relu -> pool (8x8x4) -> dropout -> fc 10 -> softmax:
    every kind of state a checkpoint must carry (weights, running statistics, dropout RNG)."""
    return Architecture(layers=[
        LayerSpec("conv", {"filters": 4, "size": 4, "stride": 2, "pad": 1}), LayerSpec("batchnorm"),
        LayerSpec("relu"), LayerSpec("maxpool", {"size": 2}), LayerSpec("dropout", {"rate": 0.3}),
        LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])
