"""Qt-free CIFAR-10: safe loading, finding, downloading and preparing (normalisation, validation
split, minibatches, augmentation)."""
from .cifar import Cifar10, load_cifar10
from .errors import DataError, DownloadCancelled, DownloadError

__all__ = ["Cifar10", "DataError", "load_cifar10", "DownloadError", "DownloadCancelled"]
