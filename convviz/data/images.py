"""The user's own pictures, read with Pillow and fitted to an INPUT volume.

A file that is not an image, is truncated or damaged, has pixels other than 8 bits per channel, or
claims huge dimensions (a decompression bomb) is refused with ImageError saying which. A good one is
turned upright (its EXIF orientation), scaled to cover the volume's width x height, centre-cropped
(so nothing is stretched) and converted to RGB (depth 3) or grayscale (depth 1).
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..engine import Volume
from .errors import DataError

MAX_PIXELS = 50_000_000  # a photo from any camera; larger dimensions are refused before decoding
PREVIEW_SIDE = 512  # a probe image is kept at most this large (fitted again whenever the INPUT changes)
MODES = {1: "L", 3: "RGB"}  # INPUT depth -> Pillow mode
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # refused below, with a message
EIGHT_BIT = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


class ImageError(DataError):
    """One picture that cannot be used; str() is 'file: why'."""


def depth_problem(depth: int) -> str | None:
    """Why pictures cannot be read at depth, or None (1: grayscale, 3: RGB)."""
    return None if depth in MODES else (f"pictures are read as grayscale (depth 1) or RGB (depth 3), not depth "
                                        f"{depth}: set the INPUT block's depth to 1 or 3")


def read_image(path, volume: Volume) -> np.ndarray:
    """The picture at path fitted to volume -> uint8 (depth, height, width). Raises ImageError."""
    with _opened(path, (volume.width, volume.height)) as image:
        return _fit(image, volume, path)


def read_preview(path) -> np.ndarray:
    """The picture at path as RGB, its longer side at most PREVIEW_SIDE -> uint8 (3, H, W). Raises ImageError."""
    with _opened(path, (PREVIEW_SIDE, PREVIEW_SIDE), cover=False) as image:
        image = _upright(image, path).convert("RGB")
        image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
        return np.asarray(image).transpose(2, 0, 1).copy()


def fit_array(image: np.ndarray, volume: Volume) -> np.ndarray:
    """uint8 (C, H, W), C 1 or 3, of any size -> uint8 (depth, height, width) fitted to volume."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[0] not in MODES:
        raise ValueError(f"expected a uint8 image (1 or 3, H, W), got {image.dtype} {image.shape}")
    picture = Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
    return _fit(picture, volume, "the image")


def _opened(path, size: tuple[int, int], cover: bool = True) -> Image.Image:
    """The picture at path, checked and decoded (at a reduced scale where the format allows one that
    still covers size, or fits in it when not cover). Raises ImageError."""
    path = Path(path)
    try:
        image = Image.open(path)
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: huge dimensions (more than {MAX_PIXELS:,} pixels: a decompression bomb?)") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not a picture (no image format recognised)") from None
    except OSError as e:
        if e.strerror:  # the file system's answer: no such file, permission denied, a folder
            raise ImageError(f"{path}: cannot be read ({e.strerror})") from None
        raise ImageError(f"{path}: damaged (its header cannot be read)") from None
    except Exception:  # noqa: BLE001 - a hostile header may make a decoder raise anything
        raise ImageError(f"{path}: damaged (its header cannot be read)") from None
    try:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageError(f"{path}: huge dimensions ({width}x{height}, more than {MAX_PIXELS:,} pixels)")
        if image.mode not in EIGHT_BIT:
            raise ImageError(f"{path}: pixels of mode {image.mode} (16-bit or floating point): save it with "
                             "8 bits per channel")
        scale = (max if cover else min)(size[0] / width, size[1] / height)
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        image.load()
    except ImageError:
        image.close()
        raise
    except Exception as e:  # noqa: BLE001 - a hostile file may make a decoder raise anything
        image.close()
        why = "truncated" if "truncated" in str(e) or isinstance(e, EOFError) else "damaged"
        raise ImageError(f"{path}: {why} (the picture cannot be decoded)") from None
    return image


def _upright(image: Image.Image, path) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: keep the picture as stored
        return image


def _fit(image: Image.Image, volume: Volume, path) -> np.ndarray:
    """Upright, scaled to cover volume's width x height, centre-cropped, in volume's depth -> uint8 (D, H, W)."""
    problem = depth_problem(volume.depth)
    if problem:
        raise ValueError(problem)
    image = _upright(image, path).convert(MODES[volume.depth])
    w, h = image.size
    scale = max(volume.width / w, volume.height / h)
    crop_w, crop_h = volume.width / scale, volume.height / scale
    box = ((w - crop_w) / 2, (h - crop_h) / 2, (w + crop_w) / 2, (h + crop_h) / 2)
    fitted = image.resize((volume.width, volume.height), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)
    pixels = np.asarray(fitted)
    return (pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)).copy()
