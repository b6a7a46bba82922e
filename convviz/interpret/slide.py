"""Slide a trained network over a larger image, the notes' payoff of converting FC layers to
convolutions: the converted network (model.convert) runs over the whole image in one forward pass and
gives class scores at every position, instead of cropping every window and running the original
network on each. The window is the network's input (32x32 for CIFAR-10), the step between positions
the product of its strides (8 for ConvNetJS), so a 96x96 mosaic of 3x3 test images gives 9x9 positions.

The two ways agree exactly for a network without padding. With zero padding (ConvNetJS pads its
convs) they differ near each window's border: in the big image a window's edge pixels see their
real neighbours where a cropped window sees zeros; the comparison says by how much.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..engine import Network, Volume
from ..engine.fields import Box, receptive_fields
from ..engine.plan import compile_plan
from ..model.convert import Change, convert_fc
from ..model.inference import infer
from .subject import Cancel, Progress, Subject, step

SIDE_REACH = 64  # how far the suggestion of a size that fits searches on each side


def mosaic(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The first rows*cols of uint8 images (N, D, H, W), row by row -> one image (D, rows*H, cols*W)."""
    n, d, h, w = images.shape
    if n < rows * cols:
        raise ValueError(f"a {rows}x{cols} mosaic needs {rows * cols} images, got {n}")
    return images[:rows * cols].reshape(rows, cols, d, h, w).transpose(2, 0, 3, 1, 4).reshape(d, rows * h, cols * w)


@dataclass
class Slide:
    """image: uint8 (D, H, W), the larger image; scores: class probabilities (C, H', W') at every
    position from one pass of the converted network, the window of position (a, b) being `box(a, b)`;
    window: the network's input volume; jump: pixels between neighbouring positions; seconds: the one
    pass (best of the repeats); crops, crop_seconds: the same scores from cropping every window and
    running the original network on the crops (one batch), None when not measured; macs, crop_macs:
    the multiply-adds of each way; changes: the layers the conversion changed; per_window: the positions
    are one per window (False when the network pools over the whole image, e.g. a global average pool)."""

    image: np.ndarray
    scores: np.ndarray
    window: Volume
    jump: int
    seconds: float
    macs: int
    changes: list[Change]
    per_window: bool = True
    crops: np.ndarray | None = None
    crop_seconds: float | None = None
    crop_macs: int | None = None

    @property
    def positions(self) -> int:
        return self.scores.shape[1] * self.scores.shape[2]

    def box(self, a: int, b: int) -> Box:
        """The window of position (row a, column b) in the image: (top, left, bottom, right)."""
        return a * self.jump, b * self.jump, a * self.jump + self.window.height, b * self.jump + self.window.width

    def sentences(self, names: list[str]) -> list[str]:
        """What was computed and what it cost, with the numbers."""
        _, h, w = self.image.shape
        rows, cols = self.scores.shape[1:]
        win = f"{self.window.width}x{self.window.height}"
        top = self.scores.reshape(len(self.scores), -1).argmax(axis=0)
        common = np.bincount(top, minlength=len(self.scores)).argmax()
        if not self.per_window:
            return [f"One pass of the converted network over the {w}x{h} image gives a {cols}x{rows} map of class "
                    f"scores ({self.seconds * 1000:.1f} ms), not one per {win} window: the network pools over the "
                    f"whole image before it classifies, so it says {names[common]} for all of it."]
        out = [f"One pass of the converted network over the {w}x{h} image gives class scores at {cols}x{rows} = "
               f"{self.positions} positions, one per {win} window {self.jump} pixels apart: "
               f"{self.seconds * 1000:.1f} ms, {self.macs:,} multiply-adds. Most windows say {names[common]}."]
        if self.crops is not None:
            diff = float(np.abs(self.scores - self.crops).max())
            same = float((self.crops.reshape(len(self.crops), -1).argmax(axis=0) == top).mean())
            out.append(f"Cropping the {self.positions} windows and running the original network on them (one batch): "
                       f"{self.crop_seconds * 1000:.1f} ms, {self.crop_macs:,} multiply-adds "
                       f"({self.crop_seconds / self.seconds:.1f}x the time, {self.crop_macs / self.macs:.1f}x the "
                       f"work): the windows overlap, and one pass computes what they share once.")
            why = " (zero padding: a cropped window's edge sees zeros where the big image has real neighbours)."
            out.append(f"The two agree on the top class at {same:.0%} of the positions; the largest difference of a "
                       f"class probability is {diff:.2g}" + (why if diff > 1e-5 else "."))
        return out


def fitting_sides(arch, axis: str, side: int) -> list[int]:
    """The sides nearest to `side` (one below and one above, when there are, nearest first) that the
    network's volumes fit along axis ("width" or "height"), the other side kept at the input's."""
    low = getattr(arch.input, axis)
    below = next((s for s in range(side - 1, max(side - SIDE_REACH, low) - 1, -1) if _fits(arch, **{axis: s})), None)
    above = next((s for s in range(side + 1, side + SIDE_REACH + 1) if _fits(arch, **{axis: s})), None)
    return sorted((s for s in (below, above) if s is not None), key=lambda s: (abs(s - side), s))


def _fits(arch, **size) -> bool:
    big = arch.copy()
    big.input = Volume(*big.input)._replace(**size)
    try:
        compile_plan(big, score_map=True)
    except ValueError:
        return False
    return True


def converted_for(arch, width: int, height: int):
    """(the conversion of arch, the converted architecture with a width x height input). ValueError with a
    sentence for a size smaller than the input or one the volumes do not fit, naming the sizes that do."""
    conversion = convert_fc(arch)
    window = Volume(*arch.input)
    if width < window.width or height < window.height:
        raise ValueError(f"the image ({width}x{height}) must be at least the network's input ({window.width}x"
                         f"{window.height}) to slide over")
    big = conversion.arch.copy()
    big.input = Volume(width, height, window.depth)
    try:
        compile_plan(big, score_map=True)
    except ValueError as e:
        near = {axis: fitting_sides(conversion.arch, axis, side)
                for axis, side in (("width", width), ("height", height)) if not _fits(conversion.arch, **{axis: side})}
        hint = "; ".join(f"{axis} {' or '.join(map(str, sides))}" for axis, sides in near.items() if sides)
        raise ValueError(f"the converted network does not fit a {width}x{height} image: {e}" +
                         (f". Use {hint}" if hint else "") + ".") from None
    return conversion, big


class Slider:
    """Both ways of scoring every window of a width x height image for subject's network: the converted
    network built for that size (one pass), and the original on the cropped windows. ValueError with a
    sentence when the image does not fit (see converted_for)."""

    def __init__(self, subject: Subject, width: int, height: int):
        self.subject = subject
        self.window = subject.net.nodes[0].volume
        self.conversion, big_arch = converted_for(subject.net.arch, width, height)
        self.big = Network(big_arch, dtype=subject.net.dtype, score_map=True)
        self.big.set_state(self.conversion.weights(subject.net.state()), source="the converted weights")
        logits = self.big.plan.logits
        self.jump = receptive_fields(self.big.plan)[logits].jump
        self.rows, self.cols = self.big.nodes[logits].volume.height, self.big.nodes[logits].volume.width
        self.per_window = (self.rows, self.cols) == ((height - self.window.height) // self.jump + 1,
                                                     (width - self.window.width) // self.jump + 1)

    def one_pass(self, x: np.ndarray) -> np.ndarray:
        """The normalised image x (D, H, W) -> class probabilities (C, rows, cols), one forward pass."""
        return self.big.predict_proba(x[None])[0]

    def windows(self, x: np.ndarray) -> np.ndarray:
        """Every window of x, row by row -> (rows * cols, D, window height, window width)."""
        h, w, j = self.window.height, self.window.width, self.jump
        return np.stack([x[:, a * j:a * j + h, b * j:b * j + w] for a in range(self.rows) for b in range(self.cols)])

    def crops(self, x: np.ndarray) -> np.ndarray:
        """The same scores from the original network on every cropped window (one batch) -> (C, rows, cols)."""
        return self.subject.net.predict_proba(self.windows(x)).T.reshape(-1, self.rows, self.cols)


def slide(subject: Subject, image: np.ndarray, crops: bool = True, repeats: int = 3, progress: Progress = None,
          cancel: Cancel = None) -> Slide:
    """Run subject's network, converted, over image (uint8 (D, H, W), larger than its input) in one pass;
    with crops, also crop every window and run the original network on them, timing both (best of
    repeats, alternating). ValueError with a sentence when the image does not fit."""
    net = subject.net
    depth, height, width = image.shape
    if depth != net.nodes[0].volume.depth:
        raise ValueError(f"the image has depth {depth}, the network's input {net.nodes[0].volume.depth}")
    slider = Slider(subject, width, height)
    x = subject.normalise(image)
    ways = {"one pass": slider.one_pass}
    if crops and slider.per_window:
        ways["crops"] = slider.crops
    scores, seconds = {}, {name: np.inf for name in ways}
    for r in range(repeats):
        for k, (name, way) in enumerate(ways.items()):
            step(progress, cancel, (r + k / len(ways)) / repeats)
            start = time.perf_counter()
            scores[name] = way(x)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    result = Slide(image, scores["one pass"], slider.window, slider.jump, seconds["one pass"],
                   infer(slider.big.arch).total_macs, slider.conversion.changes, slider.per_window)
    if "crops" in ways:
        result.crops, result.crop_seconds = scores["crops"], seconds["crops"]
        result.crop_macs = slider.rows * slider.cols * infer(net.arch).total_macs
    return result
