"""The training dashboard: press Train and watch the network learn."""
from .dashboard import TrainDashboard

__all__ = ["TrainDashboard"]
