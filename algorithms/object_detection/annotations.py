"""The built-in's JSON annotation format: one file per image, absolute pixel boxes.

    {"file": "a.jpg", "image_size": [{"width": 500, "height": 400, "depth": 3}],
     "annotations": [{"class_id": 0, "left": 10, "top": 20, "width": 100, "height": 80}],
     "categories": [{"class_id": 0, "name": "dog"}]}

Each file becomes one packed detection label, `[2, 5, cls, xmin, ymin, xmax, ymax, …]` with the
coordinates as ratios of the image size, so JSON input trains through the RecordIO path. The
label attribute of a Ground Truth augmented manifest is the same object without `file`.
"""
from __future__ import annotations

import json
from pathlib import Path

from algorithms.common.recordio import ListEntry
from container.errors import ClientError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
HEADER = (2.0, 5.0)


def _number(value, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClientError(f"{where}: '{what}' must be a number, got {value!r}")
    return float(value)


def _image_size(data: dict, where: str) -> tuple[float, float]:
    sizes = data.get("image_size")
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[0], dict):
        raise ClientError(f"{where}: 'image_size' must be a list holding one "
                          f"{{\"width\", \"height\", \"depth\"}} object")
    size = sizes[0]
    width = _number(size.get("width"), "image_size.width", where)
    height = _number(size.get("height"), "image_size.height", where)
    if width <= 0 or height <= 0:
        raise ClientError(f"{where}: image_size width and height must be positive")
    if "depth" in size and size["depth"] != 3:
        raise ClientError(f"{where}: image_size depth is {size['depth']}; only 3-channel images are supported")
    return width, height


def objects_from_json(data, where: str) -> list[tuple[float, float, float, float, float]]:
    """[(class_id, xmin, ymin, xmax, ymax)] as ratios of the image size. Boxes reaching a little
    past the border are clipped to the image; boxes with no area inside it are an error."""
    if not isinstance(data, dict):
        raise ClientError(f"{where}: expected a JSON object with 'image_size' and 'annotations', got "
                          f"{json.dumps(data)[:60]}")
    width, height = _image_size(data, where)
    boxes = data.get("annotations")
    if not isinstance(boxes, list):
        raise ClientError(f"{where}: 'annotations' must be a list of "
                          f"{{\"class_id\", \"left\", \"top\", \"width\", \"height\"}} objects")
    objects = []
    for number, box in enumerate(boxes):
        at = f"{where}, annotation {number}"
        if not isinstance(box, dict):
            raise ClientError(f"{at}: expected an object with class_id, left, top, width, height")
        class_id = _number(box.get("class_id"), "class_id", at)
        left, top = _number(box.get("left"), "left", at), _number(box.get("top"), "top", at)
        box_w, box_h = _number(box.get("width"), "width", at), _number(box.get("height"), "height", at)
        xmin, ymin = max(left, 0.0) / width, max(top, 0.0) / height
        xmax, ymax = min(left + box_w, width) / width, min(top + box_h, height) / height
        if xmax <= xmin or ymax <= ymin:
            raise ClientError(
                f"{at}: box left={left:g} top={top:g} width={box_w:g} height={box_h:g} has no area "
                f"inside the {width:g}x{height:g} image (boxes are absolute pixels)")
        objects.append((class_id, xmin, ymin, xmax, ymax))
    return objects


def packed_label(data, where: str) -> tuple[float, ...]:
    """An annotation object (a JSON file's content, or an augmented manifest's label attribute)
    as the packed label `[2, 5, cls, xmin, ymin, xmax, ymax, …]`; no objects gives `[2, 5]`."""
    return HEADER + tuple(v for obj in objects_from_json(data, where) for v in obj)


def read_annotation(path: Path, channel: str) -> dict:
    where = f"annotation file '{path.name}' in channel '{channel}'"
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientError(f"{where} is not valid JSON: {exc}") from None


def list_entries(image_dir: Path, image_channel: str, annotation_dir: Path,
                 annotation_channel: str) -> list[ListEntry]:
    """One entry per image, labels packed as the built-in's RecordIO labels.

    An annotation file names its image with `file` (relative to the image channel); without it
    the image with the same base name is used. Every image needs an annotation file."""
    images = {p.relative_to(image_dir).as_posix(): p for p in sorted(image_dir.rglob("*"))
              if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise ClientError(f"No .jpg or .png images found in channel '{image_channel}'")
    by_stem: dict[str, list[str]] = {}
    for relative in images:
        by_stem.setdefault(Path(relative).stem, []).append(relative)
    files = sorted(p for p in annotation_dir.rglob("*.json") if p.is_file())
    if not files:
        raise ClientError(f"No .json annotation files found in channel '{annotation_channel}'")
    labelled: dict[str, tuple[float, ...]] = {}
    for path in files:
        where = f"annotation file '{path.name}' in channel '{annotation_channel}'"
        data = read_annotation(path, annotation_channel)
        named = data.get("file") if isinstance(data, dict) else None
        if named is not None:
            relative = str(named).lstrip("/")
            if relative not in images:
                raise ClientError(f"{where} refers to image '{named}', which is not in channel '{image_channel}'")
        else:
            candidates = by_stem.get(path.stem, [])
            if len(candidates) != 1:
                raise ClientError(f"{where} has no 'file' key and {len(candidates)} images in channel "
                                  f"'{image_channel}' share its base name '{path.stem}'")
            relative = candidates[0]
        if relative in labelled:
            raise ClientError(f"Image '{relative}' in channel '{image_channel}' has more than one annotation file")
        labelled[relative] = packed_label(data, where)
    missing = [relative for relative in images if relative not in labelled]
    if missing:
        shown = ", ".join(f"'{m}'" for m in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise ClientError(
            f"Missing annotation file for {len(missing)} image(s) in channel '{image_channel}': {shown}. "
            f"Channel '{annotation_channel}' needs one JSON file per image with the same base name "
            f"(a.jpg -> a.json)")
    return [ListEntry(index, labelled[relative], relative) for index, relative in enumerate(images)]
