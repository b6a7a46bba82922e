"""CIFAR images (uint8 (3, H, W)) as Qt pixmaps."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def pixmap_of(image: np.ndarray, size: int) -> QPixmap:
    """A uint8 (3, H, W) image as a size x size pixmap, enlarged without smoothing (pixels stay sharp)."""
    rgb = np.ascontiguousarray(image.transpose(1, 2, 0))
    h, w = rgb.shape[:2]
    qimage = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)
