"""Preparing CIFAR-10 for training: per-channel normalisation, a held-out validation split,
shuffled minibatches and augmentation (random crop with zero padding, horizontal flip).
Images stay uint8 until a minibatch is normalised to float32."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .errors import DataError


class Normalizer:
    """x -> (x - mean) / std per channel, with mean and std (C,) in pixel units (0..255)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape or not self.mean.size:
            raise DataError(f"normaliser: mean {self.mean.tolist()} and std {self.std.tolist()} must be two "
                            "lists of one number per channel.")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise DataError(f"normaliser: std {self.std.tolist()} must be positive and mean "
                            f"{self.mean.tolist()} finite.")
        self._scale = (1.0 / self.std).astype(np.float32)[:, None, None]
        self._shift = (-self.mean / self.std).astype(np.float32)[:, None, None]

    @classmethod
    def fit(cls, images: np.ndarray) -> "Normalizer":
        """Exact per-channel mean and std of uint8 images (N, C, H, W), from per-channel histograms
        (no float copy of the whole set). A constant channel gets std 1."""
        if images.dtype != np.uint8 or images.ndim != 4 or not len(images):
            raise DataError(f"normaliser: fit needs uint8 images (N, C, H, W), got {images.dtype} {images.shape}.")
        values = np.arange(256, dtype=np.float64)
        mean, std = [], []
        for c in range(images.shape[1]):
            counts = np.bincount(images[:, c].reshape(-1), minlength=256).astype(np.float64)
            n = counts.sum()
            m = counts @ values / n
            var = max(counts @ (values - m) ** 2 / n, 0.0)
            mean.append(m)
            std.append(np.sqrt(var) if var > 0 else 1.0)
        return cls(mean, std)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 (n, C, H, W) -> float32 (n, C, H, W), normalised."""
        if images.ndim != 4 or images.shape[1] != self.mean.size:
            raise DataError(f"normaliser: expected images (n, {self.mean.size}, H, W), got shape {images.shape}.")
        out = images.astype(np.float32)
        out *= self._scale
        out += self._shift
        return out

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d) -> "Normalizer":
        """From to_dict()'s {"mean": [...], "std": [...]}; DataError if malformed."""
        try:
            return cls([float(v) for v in d["mean"]], [float(v) for v in d["std"]])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"normaliser: expected {{'mean': [...], 'std': [...]}} of numbers, got {d!r} ({e}).") from None

    def __repr__(self) -> str:
        return f"Normalizer(mean={np.round(self.mean, 3).tolist()}, std={np.round(self.std, 3).tolist()})"


def split_validation(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold val_size of range(n) out, chosen at random by seed -> (train_idx, val_idx), each sorted int64."""
    if not 0 <= val_size < n:
        raise DataError(f"validation split: {val_size} images cannot be held out of {n}; "
                        f"choose a size from 0 to {n - 1}.")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def minibatches(indices: np.ndarray, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """The indices in batches of batch_size (the last may be smaller), shuffled by rng if given."""
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}.")
    indices = np.asarray(indices)
    if rng is not None:
        indices = indices[rng.permutation(len(indices))]
    for start in range(0, len(indices), batch_size):
        yield indices[start:start + batch_size]


def augment(images: np.ndarray, rng: np.random.Generator, pad: int = 4, flip: bool = True) -> np.ndarray:
    """Random crops of the images zero-padded by pad, and random horizontal flips (p = 0.5):
    uint8 (n, C, H, W) -> uint8 (n, C, H, W), a new array."""
    n, c, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else images
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    rows = dy[:, None] + np.arange(h)  # (n, H)
    cols = dx[:, None] + np.arange(w)  # (n, W)
    if flip:
        flipped = rng.random(n) < 0.5
        cols[flipped] = cols[flipped, ::-1]
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]
