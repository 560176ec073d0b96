"""Small labelled image data sets for the demo and the tests (no downloads).

Each class is a distinct colour and stripe pattern plus noise, so a small network learns it in a
few epochs. Writes images + .lst files and the same data as RecordIO (`.rec` with MXNet's record
framing and image-record header), in pure Python so the emulator side needs no MXNet.
"""
from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

RECORDIO_MAGIC = 0xCED7230A
_IR_HEADER = struct.Struct("<IfQQ")  # flag, label, id, id2: MXNet's IRHeader


def class_image(label: int, num_classes: int, size: tuple[int, int], rng: np.random.RandomState) -> np.ndarray:
    """An HxWx3 uint8 image whose colour and stripe direction/frequency identify `label`."""
    height, width = size
    hue = label / num_classes
    base = np.array([np.sin(2 * np.pi * hue), np.sin(2 * np.pi * (hue + 1 / 3)),
                     np.sin(2 * np.pi * (hue + 2 / 3))]) * 90 + 128
    yy, xx = np.mgrid[0:height, 0:width]
    freq = 2 + label % 3
    stripes = np.sin((xx if label % 2 else yy) * freq * 2 * np.pi / max(height, width))
    image = base[None, None, :] + 50 * stripes[:, :, None] + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def pack_record(label, image_bytes: bytes, index: int) -> bytes:
    """One image record: IRHeader (+ float32 label vector when multi-label) + encoded image."""
    if np.ndim(label) == 0:
        header = _IR_HEADER.pack(0, float(label), index, 0)
    else:
        values = np.asarray(label, dtype=np.float32)
        header = _IR_HEADER.pack(values.size, 0.0, index, 0) + values.tobytes()
    return header + image_bytes


def write_recordio(path: Path, payloads) -> None:
    """MXNet RecordIO framing: magic, length word, payload, zero padding to 4 bytes."""
    with open(path, "wb") as out:
        for payload in payloads:
            out.write(struct.pack("<II", RECORDIO_MAGIC, len(payload)))
            out.write(payload)
            out.write(b"\0" * ((4 - len(payload) % 4) % 4))


def make_classification_set(root: Path, num_classes: int, per_class: int, size=(32, 32), seed: int = 0,
                            fmt: str = "JPEG") -> dict[str, Path]:
    """Writes root/{images/<class>/*.jpg, data.lst, data.rec}; returns those paths."""
    rng = np.random.RandomState(seed)
    images_dir = root / "images"
    lines, payloads = [], []
    index = 0
    for label in range(num_classes):
        (images_dir / str(label)).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            data = encode(class_image(label, num_classes, size, rng), fmt)
            rel = f"{label}/{n:05d}.{'jpg' if fmt == 'JPEG' else 'png'}"
            (images_dir / rel).write_bytes(data)
            lines.append(f"{index}\t{label}\t{rel}")
            payloads.append(pack_record(label, data, index))
            index += 1
    order = rng.permutation(len(lines))
    (root / "data.lst").write_text("\n".join(lines[i] for i in order) + "\n")
    write_recordio(root / "data.rec", (payloads[i] for i in order))
    return {"images": images_dir, "lst": root / "data.lst", "rec": root / "data.rec"}


# ---- object detection ----------------------------------------------------------------------------

def class_colour(label: int, num_classes: int) -> np.ndarray:
    """A saturated RGB colour per class, evenly spaced in hue."""
    hue = label / num_classes
    return np.array([np.sin(2 * np.pi * hue), np.sin(2 * np.pi * (hue + 1 / 3)),
                     np.sin(2 * np.pi * (hue + 2 / 3))]) * 120 + 128


def detection_image(boxes, num_classes: int, size: tuple[int, int], rng: np.random.RandomState) -> np.ndarray:
    """HxWx3 uint8: a grey noisy background with one filled rectangle per (class, left, top, right,
    bottom) box in pixels, coloured by class."""
    height, width = size
    image = 110 + rng.normal(0, 10, (height, width, 3))
    for label, left, top, right, bottom in boxes:
        image[top:bottom, left:right] = class_colour(label, num_classes) + rng.normal(0, 8, (bottom - top, right - left, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def random_boxes(num_classes: int, size: tuple[int, int], max_objects: int, rng: np.random.RandomState):
    """1..max_objects boxes (class, left, top, right, bottom) in pixels, 25-60% of each side."""
    height, width = size
    boxes = []
    for _ in range(rng.randint(1, max_objects + 1)):
        box_w = int(width * rng.uniform(0.25, 0.6))
        box_h = int(height * rng.uniform(0.25, 0.6))
        left, top = rng.randint(0, width - box_w + 1), rng.randint(0, height - box_h + 1)
        boxes.append((int(rng.randint(num_classes)), left, top, left + box_w, top + box_h))
    return boxes


def detection_annotation(file: str, boxes, size: tuple[int, int], num_classes: int) -> dict:
    """The built-in's per-image JSON annotation (absolute pixels)."""
    height, width = size
    return {
        "file": file,
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "annotations": [{"class_id": label, "left": left, "top": top, "width": right - left,
                         "height": bottom - top} for label, left, top, right, bottom in boxes],
        "categories": [{"class_id": c, "name": f"class-{c}"} for c in range(num_classes)],
    }


def detection_label(boxes, size: tuple[int, int]) -> list[float]:
    """The packed RecordIO/.lst label: [2, 5, cls, xmin, ymin, xmax, ymax, …] as ratios."""
    height, width = size
    label = [2.0, 5.0]
    for cls, left, top, right, bottom in boxes:
        label += [float(cls), left / width, top / height, right / width, bottom / height]
    return label


def make_detection_set(root: Path, num_classes: int, num_images: int, size=(100, 120), max_objects: int = 2,
                       seed: int = 0) -> dict:
    """Writes root/{images/*.jpg, annotations/*.json, data.lst, data.rec} in the built-in's
    detection formats; `size` is (height, width). Returns the paths and the boxes per image."""
    rng = np.random.RandomState(seed)
    images_dir, annotations_dir = root / "images", root / "annotations"
    images_dir.mkdir(parents=True, exist_ok=True)
    annotations_dir.mkdir(parents=True, exist_ok=True)
    lines, payloads, objects = [], [], {}
    for index in range(num_images):
        name = f"{index:05d}.jpg"
        boxes = random_boxes(num_classes, size, max_objects, rng)
        data = encode(detection_image(boxes, num_classes, size, rng))
        (images_dir / name).write_bytes(data)
        (annotations_dir / f"{index:05d}.json").write_text(
            json.dumps(detection_annotation(name, boxes, size, num_classes)))
        label = detection_label(boxes, size)
        lines.append("\t".join([str(index)] + [f"{v:.4f}" if i > 1 else f"{v:g}" for i, v in enumerate(label)] + [name]))
        payloads.append(pack_record(np.asarray(label, dtype=np.float32), data, index))
        objects[name] = boxes
    (root / "data.lst").write_text("\n".join(lines) + "\n")
    write_recordio(root / "data.rec", payloads)
    return {"images": images_dir, "annotations": annotations_dir, "lst": root / "data.lst",
            "rec": root / "data.rec", "objects": objects}


# ---- semantic segmentation -----------------------------------------------------------------------

# Pascal VOC's colour map for the first classes; index 255 (ignore) is drawn white as in VOC.
def voc_palette() -> list[int]:
    """The 256-entry Pascal VOC palette as a flat [r, g, b, …] list (PIL `putpalette` format)."""
    palette = []
    for index in range(256):
        r = g = b = 0
        value = index
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette += [r, g, b]
    palette[255 * 3:] = [224, 224, 192]
    return palette


def segmentation_sample(num_classes: int, size: tuple[int, int], rng: np.random.RandomState,
                        ignore_border: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(HxWx3 uint8 image, HxW uint8 class-id mask): a noisy grey background (class 0) with one to
    three filled rectangles or ellipses of classes 1…num_classes-1, coloured by class. With
    `ignore_border` a one-pixel outline around each shape is 255 (ignore), as in Pascal VOC."""
    height, width = size
    image = 110 + rng.normal(0, 10, (height, width, 3))
    mask = np.zeros((height, width), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(rng.randint(1, 4)):
        label = int(rng.randint(1, num_classes))
        box_h, box_w = max(2, int(height * rng.uniform(0.3, 0.6))), max(2, int(width * rng.uniform(0.3, 0.6)))
        top, left = rng.randint(0, height - box_h + 1), rng.randint(0, width - box_w + 1)
        if rng.rand() < 0.5:
            inside = (yy >= top) & (yy < top + box_h) & (xx >= left) & (xx < left + box_w)
        else:
            cy, cx = top + box_h / 2, left + box_w / 2
            inside = ((yy + 0.5 - cy) / (box_h / 2)) ** 2 + ((xx + 0.5 - cx) / (box_w / 2)) ** 2 <= 1
        image[inside] = class_colour(label, num_classes) + rng.normal(0, 8, (int(inside.sum()), 3))
        if ignore_border:
            grown = inside.copy()
            grown[1:, :] |= inside[:-1, :]
            grown[:-1, :] |= inside[1:, :]
            grown[:, 1:] |= inside[:, :-1]
            grown[:, :-1] |= inside[:, 1:]
            mask[grown & ~inside] = 255
        mask[inside] = label
    return np.clip(image, 0, 255).astype(np.uint8), mask


def encode_mask(mask: np.ndarray, mode: str = "P", label_map: dict | None = None) -> bytes:
    """A PNG of class ids: `P` (palette, VOC colours) or `L` (grayscale). `label_map` encodes the
    ids as a SageMaker label map would decode them: {"scale": k} writes id*k, {"map": {id: value}}
    writes value; 255 (ignore) is written unchanged."""
    encoded = mask.copy()
    if label_map and "scale" in label_map:
        scale = int(label_map["scale"])
        encoded = np.where(mask == 255, 255, mask.astype(np.int32) * scale).astype(np.uint8)
    elif label_map and "map" in label_map:
        lookup = np.arange(256, dtype=np.uint8)
        for label, value in label_map["map"].items():
            lookup[int(label)] = int(value)
        encoded = lookup[mask]
    image = Image.fromarray(encoded, mode="L")
    if mode == "P":
        image = image.convert("P")
        image.putpalette(voc_palette())
    elif mode != "L":
        raise ValueError("mode must be 'P' or 'L'")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_segmentation_set(root: Path, num_classes: int, num_images: int, size=(48, 64), mask_mode: str = "P",
                          ignore_border: bool = True, label_map: dict | None = None, seed: int = 0,
                          fmt: str = "JPEG") -> dict:
    """Writes root/{images/<name>.jpg|png, annotations/<name>.png} in the built-in's File-mode
    layout (image and mask share the base name), plus root/label_map.json when `label_map` is
    given ({"scale": k} or {"map": {label: encoded value}}). `size` is (height, width) or a list
    of them used in turn. Returns the paths and the class-id mask of each image."""
    rng = np.random.RandomState(seed)
    images_dir, masks_dir = root / "images", root / "annotations"
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    sizes = [size] if isinstance(size[0], int) else list(size)
    masks = {}
    for index in range(num_images):
        name = f"{index:05d}"
        image, mask = segmentation_sample(num_classes, sizes[index % len(sizes)], rng, ignore_border)
        (images_dir / f"{name}.{'jpg' if fmt == 'JPEG' else 'png'}").write_bytes(encode(image, fmt))
        (masks_dir / f"{name}.png").write_bytes(encode_mask(mask, mask_mode, label_map))
        masks[name] = mask
    label_map_file = None
    if label_map is not None:
        label_map_file = root / "label_map.json"
        label_map_file.write_text(json.dumps(
            {k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else str(v)) for k, v in label_map.items()}))
    return {"images": images_dir, "annotations": masks_dir, "label_map": label_map_file, "masks": masks}
