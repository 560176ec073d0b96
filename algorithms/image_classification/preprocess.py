"""One definition of how an image becomes network input, for validation and for inference.

Validation runs through MXNet's record iterator with exactly these settings; `to_input` applies
the same steps to a decoded image in Python (the path inference code uses). The exported graph
normalises raw pixels itself (`bn_data`), so no mean/std is applied here.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INTERPOLATION = 1  # bilinear: the record iterator's default `inter_method`, same as cv2.INTER_LINEAR


@dataclass(frozen=True)
class Preprocessing:
    image_shape: tuple[int, int, int]  # C, H, W
    resize: int | None = None          # shorter side before the centre crop

    def iterator_args(self) -> dict:
        """Arguments of mx.io.ImageRecordIter that implement this preprocessing."""
        return {
            "data_shape": self.image_shape,
            "resize": self.resize or -1,
            "rand_crop": False,
            "rand_mirror": False,
            "inter_method": INTERPOLATION,
        }

    def to_input(self, image: np.ndarray) -> np.ndarray:
        """HxWxC uint8 RGB (or HxW gray) -> float32 array of shape (1, C, H, W), values 0-255."""
        channels, height, width = self.image_shape
        if image.ndim == 2:
            image = image[:, :, None]
        if channels == 1 and image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
        elif channels == 3 and image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        if self.resize:
            rows, cols = image.shape[:2]
            if rows > cols:
                size = (self.resize, self.resize * rows // cols)
            else:
                size = (self.resize * cols // rows, self.resize)
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            if image.ndim == 2:
                image = image[:, :, None]
        rows, cols = image.shape[:2]
        if rows < height or cols < width:
            image = cv2.resize(image, (max(cols, width), max(rows, height)), interpolation=cv2.INTER_LINEAR)
            if image.ndim == 2:
                image = image[:, :, None]
            rows, cols = image.shape[:2]
        top, left = (rows - height) // 2, (cols - width) // 2
        crop = image[top:top + height, left:left + width]
        return crop.transpose(2, 0, 1)[None].astype(np.float32)
