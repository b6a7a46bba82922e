"""A run's metrics as one CSV table, written by `convviz train --metrics FILE.csv` and by the Train
tab's Save metrics: a row per optimiser step (step, epoch counted from 1, the minibatch's loss and
accuracy, the learning rate it used) and, on the row of an epoch's last step, that epoch's figures
(train, validation and test loss and accuracy, seconds). Accuracies are fractions (0 to 1); a
figure that was not measured is an empty cell. Written atomically."""
from __future__ import annotations

import csv

from ..engine.files import atomic_write

STEP_COLUMNS = ("step", "epoch", "loss", "accuracy", "lr")
EPOCH_COLUMNS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
                 "epoch_seconds")
COLUMNS = STEP_COLUMNS + EPOCH_COLUMNS


def metrics_rows(history: dict, batches_per_epoch: int) -> list[list]:
    """The table's rows (without the header) from a Trainer.history. A history copied while a run
    goes on may hold one list longer than another: only complete entries are used."""
    steps = min(len(history[k]) for k in ("step", "loss", "accuracy", "lr"))
    epochs = min(len(history[k]) for k in ("epoch",) + EPOCH_COLUMNS)
    by_last_step = {(int(history["epoch"][i]) + 1) * batches_per_epoch: i for i in range(epochs)}
    rows = []
    for i in range(steps):
        step = int(history["step"][i])
        row = [step, (step - 1) // batches_per_epoch + 1, history["loss"][i], history["accuracy"][i],
               history["lr"][i]]
        e = by_last_step.pop(step, None)
        rows.append(row + [_cell(history[k][e]) if e is not None else "" for k in EPOCH_COLUMNS])
    for step, e in sorted(by_last_step.items()):  # an epoch whose steps are not in the history
        rows.append([step, int(history["epoch"][e]) + 1, "", "", ""] + [_cell(history[k][e]) for k in EPOCH_COLUMNS])
    return rows


def write_metrics(path, history: dict, batches_per_epoch: int) -> None:
    """Write the CSV table (header COLUMNS) to path, atomically."""
    with atomic_write(path, text=True) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(metrics_rows(history, batches_per_epoch))


def _cell(value):
    return "" if value is None else value
