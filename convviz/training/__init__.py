"""Qt-free training: the loop as a generator of events (steered from another thread), exact-resume
checkpoints, and `convviz train`."""
from .checkpoint import CheckpointError
from .config import TrainConfig
from .events import DivergedEvent, EpochEvent, FinishedEvent, HealthEvent, LayerHealth, SnapshotEvent, StepEvent
from .trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "StepEvent", "EpochEvent", "SnapshotEvent", "DivergedEvent",
           "FinishedEvent", "HealthEvent", "LayerHealth", "CheckpointError"]
