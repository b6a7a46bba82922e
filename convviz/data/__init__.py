"""Qt-free data: CIFAR-10 (safe loading, finding, downloading) and image folders of the user's own
pictures, and preparing either (normalisation, validation split, minibatches, augmentation)."""
from .cifar import Cifar10, load_cifar10
from .download import Progress, download_cifar10
from .errors import DataError, DownloadCancelled, DownloadError, LoadCancelled
from .folder import ImageFolder, load_data, load_image_folder
from .images import ImageError, read_image, read_preview
from .locate import Found, app_data_dir, find_cifar10, searched_locations
from .prepare import Normalizer, augment, minibatches, split_validation

__all__ = ["Cifar10", "DataError", "load_cifar10", "ImageFolder", "load_data", "load_image_folder", "LoadCancelled",
           "ImageError", "read_image", "read_preview", "find_cifar10", "Found", "searched_locations", "app_data_dir",
           "download_cifar10", "Progress", "DownloadError", "DownloadCancelled",
           "Normalizer", "split_validation", "minibatches", "augment"]
