"""The one definition of how an image becomes network input, shared by training, validation and
inference: RGB, scaled to [0, 1], normalised with the ImageNet mean and standard deviation the
GluonCV backbones were trained with, laid out as CHW float32.

Images are decoded with PIL, which (unlike OpenCV) does not apply EXIF rotation: the pixels stay
aligned with their mask, which is written in the same stored orientation.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def read_image(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def to_network_input(image: Image.Image | np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> 3xHxW float32, normalised."""
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return ((pixels - MEAN) / STD).transpose(2, 0, 1).copy()


def centre_crop(image: Image.Image, mask: Image.Image, crop_size: int) -> tuple[Image.Image, Image.Image]:
    """Validation crops (validation_mini_batch_size > 1): the short side is resized to crop_size,
    then the centre crop_size × crop_size square is kept (GluonCV's validation transform)."""
    width, height = image.size
    if width > height:
        new_h, new_w = crop_size, int(width * crop_size / height)
    else:
        new_w, new_h = crop_size, int(height * crop_size / width)
    new_w, new_h = max(new_w, crop_size), max(new_h, crop_size)
    image = image.resize((new_w, new_h), Image.BILINEAR)
    mask = mask.resize((new_w, new_h), Image.NEAREST)
    left, top = int(round((new_w - crop_size) / 2)), int(round((new_h - crop_size) / 2))
    box = (left, top, left + crop_size, top + crop_size)
    return image.crop(box), mask.crop(box)
