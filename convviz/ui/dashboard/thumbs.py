"""Images (uint8 (3, H, W) RGB or (1, H, W) grayscale) as Qt pixmaps."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def pixmap_of(image: np.ndarray, size: int) -> QPixmap:
    """A uint8 (3, H, W) or (1, H, W) image as a pixmap of at most size x size, enlarged without
    smoothing (pixels stay sharp)."""
    pixels = np.ascontiguousarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
    h, w = pixels.shape[:2]
    grey = pixels.ndim == 2
    qimage = QImage(pixels.data, w, h, (1 if grey else 3) * w,
                    QImage.Format.Format_Grayscale8 if grey else QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)
