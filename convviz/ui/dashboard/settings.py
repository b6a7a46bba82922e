"""The training settings form. Learning rate, momentum and weight decay stay editable while training
(liveChanged fires and the dashboard passes them on); the rest are fixed for a run. Also the reading
of remembered settings (QSettings) that may be missing, old or damaged."""
from __future__ import annotations

import inspect
import json

from PySide6.QtCore import QByteArray, QSettings, Signal
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QSpinBox)

from ...engine import OPTIMIZERS
from ...training import TrainConfig

OPTIMIZER_TITLES = {"sgd": "SGD with momentum", "adam": "Adam", "adadelta": "Adadelta"}
SCHEDULE_TITLES = {"constant": "constant", "step": "step decay (×0.1 at 50% and 75%)", "cosine": "cosine"}


def remembered(store: QSettings, key: str, kind: type):
    """store's value for key when it is (or reads as) kind: QByteArray, int, bool or str; else None
    (missing, or written by hand or by another version)."""
    value = store.value(key)
    if kind is QByteArray or kind is str:
        return value if isinstance(value, kind) else None
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):  # how an INI file holds it
            return value.lower() == "true"
        return value if isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def default_lr(optimizer: str) -> float:
    """The engine optimiser's default learning rate."""
    return float(inspect.signature(OPTIMIZERS[optimizer].__init__).parameters["lr"].default)


def _double(low: float, high: float, decimals: int, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


def _int(low: int, high: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


class SettingsPanel(QGroupBox):
    """liveChanged(dict) gives {"lr" | "momentum" | "weight_decay": value} when the user edits one."""

    liveChanged = Signal(dict)

    def __init__(self, parent=None):
        super().__init__("Training settings", parent)
        self.optimizer = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer.addItem(OPTIMIZER_TITLES.get(name, name), name)
        self.lr = _double(1e-6, 10.0, 6, "Learning rate: the step size (can be changed while training)")
        self.momentum = _double(0.0, 0.999, 3, "SGD momentum (can be changed while training)")
        self.weight_decay = _double(0.0, 1.0, 6, "L2 weight decay (can be changed while training)")
        self.batch_size = _int(1, 4096, "Images per optimiser step")
        self.epochs = _int(1, 10000, "Total epochs (a continued run counts those already done)")
        self.schedule = QComboBox()
        for name, title in SCHEDULE_TITLES.items():
            self.schedule.addItem(title, name)
        self.augment = QCheckBox("random crops and flips")
        self.val_split = _int(0, 50000, "Training images held out to measure validation accuracy")
        self.seed = _int(0, 2**31 - 1, "Seed of the initial weights, shuffling and augmentation")
        self.max_steps = _int(0, 10**9, "Stop after this many steps in total (0: no limit)")
        self.max_steps.setSpecialValueText("no limit")
        for box in (self.optimizer, self.schedule):  # long item titles must not widen the Train tab's column
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(14)

        form = QFormLayout(self)
        form.addRow("Optimiser", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Momentum", self.momentum)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("LR schedule", self.schedule)
        form.addRow("Augmentation", self.augment)
        form.addRow("Validation images", self.val_split)
        form.addRow("Seed", self.seed)
        form.addRow("Max steps", self.max_steps)

        self.set_config(TrainConfig(lr=default_lr("sgd")))
        self.optimizer.currentIndexChanged.connect(self._optimizer_changed)
        self.lr.valueChanged.connect(lambda v: self.liveChanged.emit({"lr": v}))
        self.momentum.valueChanged.connect(lambda v: self.liveChanged.emit({"momentum": v}))
        self.weight_decay.valueChanged.connect(lambda v: self.liveChanged.emit({"weight_decay": v}))

    def _optimizer_changed(self) -> None:
        name = self.optimizer.currentData()
        self.lr.setValue(default_lr(name))
        self.momentum.setEnabled(name == "sgd")

    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs.value(), batch_size=self.batch_size.value(),
                           optimizer=self.optimizer.currentData(), lr=self.lr.value(),
                           momentum=self.momentum.value(), weight_decay=self.weight_decay.value(),
                           schedule=self.schedule.currentData(), augment=self.augment.isChecked(),
                           val_split=self.val_split.value(), seed=self.seed.value(),
                           max_steps=self.max_steps.value() or None)

    def set_config(self, config: TrainConfig) -> None:
        """Show config in the form (without sending liveChanged)."""
        for box in (self.lr, self.momentum, self.weight_decay):
            box.blockSignals(True)
        self.optimizer.blockSignals(True)
        self.optimizer.setCurrentIndex(max(0, self.optimizer.findData(config.optimizer)))
        self.optimizer.blockSignals(False)
        self.lr.setValue(config.lr if config.lr is not None else default_lr(config.optimizer))
        self.momentum.setValue(config.momentum)
        self.weight_decay.setValue(config.weight_decay)
        for box in (self.lr, self.momentum, self.weight_decay):
            box.blockSignals(False)
        self.batch_size.setValue(config.batch_size)
        self.epochs.setValue(config.epochs)
        self.schedule.setCurrentIndex(max(0, self.schedule.findData(config.schedule)))
        self.augment.setChecked(config.augment)
        self.val_split.setValue(config.val_split)
        self.seed.setValue(config.seed)
        self.max_steps.setValue(config.max_steps or 0)
        self.momentum.setEnabled(config.optimizer == "sgd")

    def remember(self, store: QSettings, key: str) -> None:
        """Write the form's settings to store under key (JSON text)."""
        store.setValue(key, json.dumps(self.config().to_dict()))

    def restore(self, store: QSettings, key: str) -> None:
        """Show the settings remembered under key; what is missing or unusable keeps its default."""
        text = remembered(store, key, str)
        try:
            saved = json.loads(text) if text else None
        except ValueError:
            saved = None
        if saved is not None:
            config = TrainConfig.from_saved(saved)
            if config.lr is None:
                config.lr = default_lr(config.optimizer)
            self.set_config(config)

    def set_running(self, running: bool) -> None:
        """While a run is going, only the live hyperparameters stay editable."""
        for w in (self.optimizer, self.batch_size, self.epochs, self.schedule, self.augment, self.val_split,
                  self.seed, self.max_steps):
            w.setEnabled(not running)
        self.momentum.setEnabled(self.optimizer.currentData() == "sgd")
