"""Writes small image folders for the tests: real pictures of several formats, sizes and modes, and
files that must be skipped (not a picture, truncated, 16-bit, decompression bombs)."""
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "fish")  # written in another order, found sorted
COLOURS = {"cat": (220, 40, 30), "dog": (30, 200, 60), "fish": (20, 60, 220)}
BAD = {"cat/notes.txt": "not a picture", "dog/cut.jpg": "truncated", "dog/head.jpg": "damaged", "dog/deep.png": "mode I;16",
       "fish/bomb.png": "huge dimensions", "fish/wide.png": "huge dimensions"}


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels, with a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def picture(colour, size, seed: int) -> Image.Image:
    """A picture of size (w, h) in colour with a little noise."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.integers(-20, 21, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def write_folder(root: Path, per_class: int = 6, bad: bool = True) -> Path:
    """root/<class>/ with per_class good pictures each (JPEG, PNG, grayscale, palette, RGBA, a nested
    folder), plus the BAD files and a hidden file; -> root."""
    for c, name in enumerate(reversed(CLASSES)):
        folder = root / name
        (folder / "more").mkdir(parents=True)
        for k in range(per_class):
            image = picture(COLOURS[name], (20 + 7 * k, 16 + 5 * (k % 3)), seed=10 * c + k)
            kind = k % 5
            if kind == 0:
                image.save(folder / f"{k}.jpg", quality=95)
            elif kind == 1:
                image.save(folder / f"{k}.png")
            elif kind == 2:
                image.convert("RGBA").save(folder / "more" / f"{k}.png")
            elif kind == 3:
                image.convert("P").save(folder / f"{k}.gif")
            else:
                image.save(folder / f"{k}.webp" if k % 2 else folder / f"{k}.bmp")
        (folder / ".DS_Store").write_bytes(b"\0\1hidden")
    if bad:
        (root / "cat" / "notes.txt").write_text("not a picture\n")
        jpeg = root / "dog" / "cut.jpg"
        picture((1, 2, 3), (64, 64), 99).save(jpeg, quality=95)
        jpeg.write_bytes(jpeg.read_bytes()[:-1500])
        (root / "dog" / "head.jpg").write_bytes(jpeg.read_bytes()[:300])
        Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(root / "dog" / "deep.png")
        (root / "fish" / "bomb.png").write_bytes(png_header(40000, 40000))
        (root / "fish" / "wide.png").write_bytes(png_header(10000, 6000))
    return root
