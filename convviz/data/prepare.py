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
    def fit(cls, images: np.ndarray, indices: np.ndarray | None = None, chunk: int = 256) -> "Normalizer":
        """Per-channel mean and std of uint8 images (N, C, H, W), or of images[indices] (indices (M,)),
        from sums and sums of squares accumulated chunk by chunk (exact integers in float64; no copy
        of the whole set, neither float nor gathered). A constant channel gets std 1."""
        count = len(images if indices is None else indices) if images.ndim == 4 else 0
        if images.dtype != np.uint8 or images.ndim != 4 or not count:
            raise DataError(f"normaliser: fit needs uint8 images (N, C, H, W), got {images.dtype} {images.shape}"
                            + ("." if indices is None else f" and {count} indices."))
        total, squares = np.zeros(images.shape[1]), np.zeros(images.shape[1])
        for start in range(0, count, chunk):
            part = images[start:start + chunk] if indices is None else images[indices[start:start + chunk]]
            x = part.astype(np.float64)
            total += x.sum(axis=(0, 2, 3))
            squares += np.einsum("nchw,nchw->c", x, x)
        n = count * images.shape[2] * images.shape[3]
        mean, std = [], []
        for s1, s2 in zip(total.astype(np.int64).tolist(), squares.astype(np.int64).tolist()):
            var = (n * s2 - s1 * s1) / (n * n)  # exact in Python integers: 0 for a constant channel
            mean.append(s1 / n)
            std.append(var ** 0.5 if var > 0 else 1.0)
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
    uint8 (n, C, H, W) -> uint8 (n, C, H, W), a new array. (A loop of slice copies: 8x faster than
    one fancy-indexed gather at batch 64.)"""
    n, c, h, w = images.shape
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), images.dtype)
    padded[:, :, pad:pad + h, pad:pad + w] = images
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    flips = rng.random(n) < 0.5 if flip else np.zeros(n, dtype=bool)
    out = np.empty_like(images)
    for k in range(n):
        window = padded[k, :, dy[k]:dy[k] + h, dx[k]:dx[k] + w]
        out[k] = window[:, :, ::-1] if flips[k] else window
    return out
