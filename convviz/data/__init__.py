"""Qt-free CIFAR-10: safe loading, finding, downloading and preparing (normalisation, validation
split, minibatches, augmentation)."""
from .cifar import Cifar10, load_cifar10
from .download import Progress, download_cifar10
from .errors import DataError, DownloadCancelled, DownloadError
from .locate import Found, app_data_dir, find_cifar10, searched_locations
from .prepare import Normalizer, augment, minibatches, split_validation

__all__ = ["Cifar10", "DataError", "load_cifar10", "find_cifar10", "Found", "searched_locations", "app_data_dir",
           "download_cifar10", "Progress", "DownloadError", "DownloadCancelled",
           "Normalizer", "split_validation", "minibatches", "augment"]
