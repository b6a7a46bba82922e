"""What the training loop yields. Every array in an event is a copy: the receiver may keep it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StepEvent:
    """One optimiser step: the minibatch's mean loss and accuracy, the learning rate it used,
    and the recent training speed (images per second, smoothed over the last steps)."""

    step: int               # steps done so far, this one included (1 for the first)
    epoch: int              # the epoch this step belongs to, counted from 0
    batch_index: int        # position of the minibatch in its epoch, from 0
    batches_per_epoch: int
    loss: float
    accuracy: float
    lr: float
    images_per_second: float


@dataclass
class EpochEvent:
    """The end of an epoch. Evaluation runs in evaluation mode (no dropout, batchnorm running
    statistics), in batches, and changes nothing in the model. Validation fields are None without a
    validation split, test fields None when the test set is not evaluated; per-class accuracy and the
    confusion matrix (rows: true class, columns: predicted) are the test set's, else the validation set's."""

    epoch: int              # the epoch just finished, counted from 0
    train_loss: float       # mean over the epoch's minibatches (weighted by their sizes)
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    per_class_accuracy: np.ndarray      # (C,) float
    confusion: np.ndarray               # (C, C) int64
    test_probabilities: np.ndarray | None  # (Ntest, C) float32
    seconds: float          # wall time of the epoch, evaluation included


@dataclass
class SnapshotEvent:
    """What the views show, taken at a bounded rate: the weights of every layer with filters and one
    probe image passed through the network in evaluation mode. Everything is keyed by node key, the
    block's dotted path ("3", "3.body.1"; a container's key names its merged output), in the order of
    the network's plan. activations[key] is that node's output for the probe, (D, H, W) (the last, the
    softmax's, is the class probabilities); gradients[key] is d loss / d activations[key], same shape,
    except the softmax's, which is d loss / d logits (the softmax's input), the usual way to show the
    classifier's error signal. A snapshot taken without the probe (Trainer.watch_snapshots(rate,
    probe=False), while only the filters are shown) has the filters only: has_probe is False, the
    probe's fields None and activations and gradients empty."""

    step: int
    epoch: int
    filters: dict[str, np.ndarray]      # node key -> (K, C, F, F)
    probe_index: int | None             # index in the test set, or None for a training image or a picture of the user's
    probe_image: np.ndarray | None      # uint8 (D, H, W), as the network saw it before normalisation
    probe_label: int | None             # None for a picture of the user's: the gradients are the predicted class's
    activations: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]
    probabilities: np.ndarray | None    # (C,)

    @property
    def has_probe(self) -> bool:
        return self.probe_image is not None



@dataclass
class LayerHealth:
    """One layer's health at a sampled step (see training.health), keyed by node key; label names the
    block for people ("3.body[1]"), title its type ("Conv"). A layer with parameters has update_ratio,
    weight_bands and grad_bands (None otherwise); a rectifying layer (ReLU) has never_fired and images.
    hint: a plain-words sentence when a number is far from healthy, else None."""

    key: str
    label: str
    title: str
    update_ratio: float | None = None       # ||weight after - before|| / ||before|| over the sampled step
    weight_bands: np.ndarray | None = None  # (len(percentiles),) percentiles of the weight's values
    grad_bands: np.ndarray | None = None    # (len(percentiles),) percentiles of d loss / d weight
    never_fired: float | None = None        # share of units (depth slices) zero on every image of the window
    images: int = 0                         # training images in that window
    hint: str | None = None


@dataclass
class HealthEvent:
    """Per-layer training health, taken at a bounded rate after an optimiser step: the layers with
    parameters and the rectifying layers, in the order of the network's plan."""

    step: int
    epoch: int
    percentiles: tuple[float, ...]          # what weight_bands and grad_bands hold, e.g. (5, 25, 50, 75, 95)
    layers: list[LayerHealth]

    @property
    def hints(self) -> list[str]:
        return [layer.hint for layer in self.layers if layer.hint]

@dataclass
class DivergedEvent:
    """The loss left its normal range (see trainer.LossRange: not finite, or a jump far above its recent
    median and above chance); the weights were put back to the last ones with a normal loss, those after
    good_step steps."""

    step: int
    epoch: int
    loss: float
    message: str
    good_step: int = 0


@dataclass
class FinishedEvent:
    """The last event of a run. reason: "completed", "stopped", "max_steps" or "diverged"."""

    reason: str
    steps: int
    epochs: int             # epochs completed
