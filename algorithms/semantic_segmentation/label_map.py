"""Label maps: how the pixel values of a mask become class ids (the optional `label_map` channel).

The channel holds `train_label_map.json` and/or `validation_label_map.json`; a channel without
its file uses the pixel value as the class id (`{"scale": "1"}`). Formats (DG-SS):
- `{"scale": k}`: class id = floor(value / k), so 0, 3, 6 become 0, 1, 2 with k = 3;
- `{"map": {"<class id>": <pixel value>, …}}`: e.g. {"0": 5, "1": 0, "2": 2} reads pixel values
  [0, 5, 2] as classes [1, 0, 2]; a pixel value the map does not list is an error.
Pixel value 255 means "ignore" under every label map unless a `map` assigns it to a class
(the built-in's behaviour here is undocumented; this keeps VOC-style outlines ignored).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from algorithms.semantic_segmentation.hyperparameters import IGNORE_LABEL
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger

CHANNEL = "label_map"
FILES = {"train": "train_label_map.json", "validation": "validation_label_map.json"}
UNMAPPED = -1


@dataclass(frozen=True)
class LabelMap:
    """A 256-entry lookup table from pixel value to class id (IGNORE_LABEL, or UNMAPPED)."""

    lookup: np.ndarray
    source: str
    kind: str = "identity"  # identity | scale | map

    def apply(self, mask: np.ndarray) -> np.ndarray:
        return self.lookup[mask]

    def max_class(self) -> int:
        """The largest class id a mask could produce (ignoring 255 and unmapped values)."""
        ids = self.lookup[(self.lookup != IGNORE_LABEL) & (self.lookup != UNMAPPED)]
        return int(ids.max()) if ids.size else -1


def identity(source: str = "no label map (pixel value = class id)") -> LabelMap:
    return LabelMap(np.arange(256, dtype=np.int16), source)


def parse(text: str, source: str) -> LabelMap:
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ClientError(f"Label map {source} is not valid JSON: {exc}") from None
    allowed = 'a JSON object with either "scale" (e.g. {"scale": "3"}) or "map" (e.g. {"map": {"0": 5, "1": 0}})'
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("scale", "map"):
        raise ClientError(f"Label map {source} must be {allowed}; got {text.strip()[:200]!r}")
    if "scale" in spec:
        return _scale(spec["scale"], source)
    return _map(spec["map"], source)


def _scale(value, source: str) -> LabelMap:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:
        raise ClientError(f"Label map {source}: \"scale\" must be a positive number, got {value!r}")
    lookup = np.floor(np.arange(256) / scale).astype(np.int16)
    lookup[IGNORE_LABEL] = IGNORE_LABEL
    return LabelMap(lookup, f"{source} (scale {value})", "scale")


def _map(mapping, source: str) -> LabelMap:
    if not isinstance(mapping, dict) or not mapping:
        raise ClientError(f"Label map {source}: \"map\" must be a non-empty object of "
                          f"\"<class id>\": <pixel value>, got {mapping!r}")
    lookup = np.full(256, UNMAPPED, dtype=np.int16)
    lookup[IGNORE_LABEL] = IGNORE_LABEL
    claimed: dict[int, int] = {}
    for key, value in mapping.items():
        label, pixel = _small_int(key), _small_int(value)
        if label is None or not 0 <= label < IGNORE_LABEL:
            raise ClientError(f"Label map {source}: class id {key!r} must be an integer in [0, 254]")
        if pixel is None or not 0 <= pixel <= 255:
            raise ClientError(f"Label map {source}: pixel value {value!r} for class {key} must be an "
                              f"integer in [0, 255]")
        if pixel in claimed:
            raise ClientError(f"Label map {source}: pixel value {pixel} is mapped to both class "
                              f"{claimed[pixel]} and class {label}")
        claimed[pixel] = label
        lookup[pixel] = label
    return LabelMap(lookup, f"{source} (map)", "map")


def _small_int(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def read_label_maps(env: TrainingEnv) -> dict[str, LabelMap]:
    """The label map of each data channel ('train', 'validation')."""
    maps = {channel: identity() for channel in FILES}
    if CHANNEL not in env.channels:
        return maps
    directory = env.paths.channel(CHANNEL)
    found = {p.name: p for p in directory.rglob("*.json")} if directory.is_dir() else {}
    if not any(name in found for name in FILES.values()):
        raise ClientError(f"Channel '{CHANNEL}' must hold {FILES['train']} and/or {FILES['validation']}; "
                          f"found {sorted(p.name for p in directory.rglob('*') if p.is_file()) if directory.is_dir() else []}")
    for channel, name in FILES.items():
        if name in found:
            maps[channel] = parse(found[name].read_text(), name)
            get_logger().info("Channel '%s' uses label map %s", channel, maps[channel].source)
    return maps


def check_classes(label_map: LabelMap, num_classes: int) -> None:
    """A label map must not produce class ids the network does not have."""
    largest = label_map.max_class()
    if label_map.kind == "map" and largest >= num_classes:
        raise ClientError(f"Label map {label_map.source} maps to class {largest}, but num_classes is "
                          f"{num_classes} (class ids must be < num_classes)")

