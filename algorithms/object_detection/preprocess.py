"""One definition of how an image becomes detector input, for validation and for inference.

The image is resized to the square network side without keeping the aspect ratio (as the
built-in does), so box ratios of the resized image equal those of the original image and the
detections the graph returns apply to the original image directly. Pixels stay raw RGB 0-255:
the exported graph normalises them itself.
"""
from __future__ import annotations

import cv2
import numpy as np


def to_network_input(image: np.ndarray, side: int) -> np.ndarray:
    """HxWx3 uint8 RGB -> float32 (1, 3, side, side), values 0-255."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    resized = cv2.resize(np.ascontiguousarray(image), (side, side), interpolation=cv2.INTER_LINEAR)
    return resized.transpose(2, 0, 1)[None].astype(np.float32)
