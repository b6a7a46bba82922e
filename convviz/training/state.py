"""The states of a training run, named once: the Train tab, the main window's status bar and
`convviz train` all say them with these words (RunState.title, then describe() for a line)."""
from __future__ import annotations

from enum import Enum


class RunState(Enum):
    """Where a run stands. A run that was stopped on request, or reached its last epoch or its step
    limit, is FINISHED; DIVERGED and FAILED are the two ways a run ends badly."""

    READY = "ready"
    LOADING = "loading data"
    TRAINING = "training"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    DIVERGED = "diverged"
    FAILED = "failed"

    @property
    def title(self) -> str:
        """'Loading data'."""
        return self.value[:1].upper() + self.value[1:]


def describe(state: RunState, detail: str = "") -> str:
    """'Training — step 40 of 780 (epoch 1 of 10)', or the title alone without a detail."""
    return f"{state.title} — {detail}" if detail else state.title


# FinishedEvent.reason -> (the state the run ends in, why, in words)
_ENDS = {"completed": (RunState.FINISHED, "all epochs done"),
         "max_steps": (RunState.FINISHED, "the step limit was reached"),
         "stopped": (RunState.FINISHED, "stopped on request"),
         "diverged": (RunState.DIVERGED, "the loss stopped being a finite number")}


def end_of_run(reason: str, steps: int, epochs: int) -> tuple[RunState, str]:
    """The state and detail of a run that ended with a FinishedEvent(reason, steps, epochs):
    (FINISHED, 'all epochs done after 780 steps, 10 epochs')."""
    state, why = _ENDS[reason]
    return state, f"{why} after {steps:,} step{'s' * (steps != 1)}, {epochs} epoch{'s' * (epochs != 1)}"
