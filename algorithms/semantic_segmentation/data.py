"""File-mode input: images in `train`/`validation`, PNG masks in `<channel>_annotation`, paired by
base name (`X.jpg` ↔ `X.png`). Pipe mode (`pipe_input`) writes each epoch's augmented-manifest
lines out as such pairs and checks them here, the same way.

Every pair is checked before training (in parallel threads): the mask is a single-channel 8-bit
PNG of the image's size, and every pixel value maps to a class id below num_classes or to 255
(ignore). Bad data fails up front with a ClientError naming the file, never mid-epoch.

Training samples are augmented as GluonCV's segmentation training does: random horizontal flip,
long side rescaled to base_size × U(0.5, 2.0), padding to crop_size, a random crop_size square
and a Gaussian blur half of the time. One deliberate difference: padding is marked 255 (ignore) in
the mask, where GluonCV pads with class 0, so padding is never learned as background.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mxnet.gluon.data import Dataset
from PIL import Image, ImageFilter, ImageOps

from algorithms.common import devices
from algorithms.common.dataloader import parallel_loader
from algorithms.semantic_segmentation.hyperparameters import IGNORE_LABEL
from algorithms.semantic_segmentation.label_map import UNMAPPED, LabelMap
from algorithms.semantic_segmentation.preprocess import centre_crop, read_image, to_network_input
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MASK_SUFFIX = ".png"
CONTENT_TYPES = ("image/jpeg", "image/png", "application/x-image", "image/jpg")
MASK_MODES = ("L", "P")
LOSS_IGNORE = -1.0  # what 255 becomes in the label arrays the loss sees
_SHOW = 5  # file names quoted per error


@dataclass(frozen=True)
class Sample:
    image: Path
    mask: Path
    width: int
    height: int


@dataclass
class SegmentationSet:
    channel: str
    samples: list[Sample]
    label_map: LabelMap
    class_pixels: np.ndarray  # labelled pixels per class id

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def largest_image(self) -> tuple[int, int]:
        sample = max(self.samples, key=lambda s: s.width * s.height)
        return sample.width, sample.height


def annotation_channel(channel: str) -> str:
    return f"{channel}_annotation"


def require_channel(env: TrainingEnv, name: str) -> None:
    if name not in env.channels:
        raise ClientError(f"Missing required channel '{name}'; semantic segmentation needs 'train', "
                          f"'validation', 'train_annotation' and 'validation_annotation' (or, in Pipe mode, "
                          f"augmented manifests in 'train' and 'validation')")


def _check_channel(env: TrainingEnv, name: str) -> Path:
    require_channel(env, name)
    config = env.channels[name]
    if config.is_pipe:
        raise ClientError(
            f"Channel '{name}' uses Pipe mode; images and PNG masks in separate channels are read in File mode. "
            f"Pipe mode takes an augmented manifest in channels 'train' and 'validation' (RecordWrapperType "
            f"RecordIO, AttributeNames [\"source-ref\", \"<name>-ref\"]) and no annotation channels")
    content_type = config.base_content_type
    if content_type is not None and content_type not in CONTENT_TYPES:
        raise ClientError(f"Unsupported ContentType '{config.content_type}' for channel '{name}'; allowed: "
                          f"{', '.join(CONTENT_TYPES[:3])} (or none)")
    directory = env.paths.channel(name)
    if not directory.is_dir():
        raise ClientError(f"Channel '{name}' is configured but its directory {directory} is missing")
    return directory


def _files_by_stem(directory: Path, suffixes: tuple[str, ...], channel: str,
                   siblings: tuple[str, ...] = ()) -> dict[str, Path]:
    """The channel's files by base name, leaving out the top-level folders named in `siblings`."""
    files: dict[str, Path] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if path.relative_to(directory).parts[0] in siblings:
            continue
        if path.stem in files:
            raise ClientError(f"Channel '{channel}' holds two files with base name '{path.stem}' "
                              f"({files[path.stem].relative_to(directory)}, {path.relative_to(directory)}); "
                              f"images and masks are paired by base name, which must be unique")
        files[path.stem] = path
    return files


def pair_files(env: TrainingEnv, channel: str) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of a data channel and its annotation channel, by base name."""
    masks_channel = annotation_channel(channel)
    # An S3Prefix without a trailing slash (`s3://b/p/train`, as the public notebook writes it) also
    # matches the sibling prefix `p/train_annotation/`, whose objects SageMaker places in the channel
    # as `train_annotation/...`: they belong to the other channel, not to this one's images.
    siblings = tuple(name for name in env.channels if name != channel and name.startswith(channel))
    images = _files_by_stem(_check_channel(env, channel), IMAGE_SUFFIXES, channel, siblings)
    masks = _files_by_stem(_check_channel(env, masks_channel), (MASK_SUFFIX,), masks_channel)
    if not images:
        raise ClientError(f"Channel '{channel}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    without_mask = sorted(set(images) - set(masks))
    if without_mask:
        names = ", ".join(images[s].name for s in without_mask[:_SHOW])
        raise ClientError(f"{len(without_mask)} image(s) in channel '{channel}' have no mask with the same base "
                          f"name (<name>.png) in channel '{masks_channel}': {names}")
    without_image = sorted(set(masks) - set(images))
    if without_image:
        names = ", ".join(masks[s].name for s in without_image[:_SHOW])
        raise ClientError(f"{len(without_image)} mask(s) in channel '{masks_channel}' have no image with the same "
                          f"base name in channel '{channel}': {names}")
    return [(images[stem], masks[stem]) for stem in sorted(images)]


def read_mask(path: Path, source: str) -> np.ndarray:
    """The mask's pixel values as HxW uint8; only single-channel 8-bit PNGs are masks.
    `source` says where the file came from: "channel 'train_annotation'"."""
    where = f"Mask {path.name} in {source}"
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise ClientError(f"{where} is a {image.format} file; masks must be PNG")
            if image.mode not in MASK_MODES:
                kind = "an RGB/colour" if image.mode in ("RGB", "RGBA", "CMYK", "LA", "PA") else f"a mode-{image.mode}"
                raise ClientError(
                    f"{where} is {kind} image; masks must be single-channel 8-bit PNGs (grayscale 'L' or "
                    f"palette 'P') whose pixel values are class ids, 255 = ignore. Convert colour masks to "
                    f"class ids (a palette PNG keeps the colours for viewing)")
            return np.asarray(image, dtype=np.uint8)
    except (OSError, SyntaxError) as exc:
        raise ClientError(f"Cannot read mask {path.name} in {source}: {exc}") from None


def image_size(path: Path, source: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError) as exc:
        raise ClientError(f"Cannot read image {path.name} in {source}: {exc}") from None


@dataclass(frozen=True)
class Sources:
    """Where a channel's images and masks came from, as error messages name them."""

    images: str  # "channel 'train'"
    masks: str   # "channel 'train_annotation'"

    @classmethod
    def file_mode(cls, channel: str) -> "Sources":
        return cls(f"channel '{channel}'", f"channel '{annotation_channel(channel)}'")


def check_pair(image: Path, mask: Path, sources: Sources, label_map: LabelMap,
               num_classes: int) -> tuple[Sample, np.ndarray]:
    """Validate one pair; returns the sample and its labelled-pixel count per class."""
    width, height = image_size(image, sources.images)
    values = read_mask(mask, sources.masks)
    if values.shape != (height, width):
        raise ClientError(
            f"Mask {mask.name} in {sources.masks} is {values.shape[1]}x{values.shape[0]} (WxH) but image "
            f"{image.name} in {sources.images} is {width}x{height}; a mask must have its image's size")
    present = np.flatnonzero(np.bincount(values.ravel(), minlength=256))
    mapped = label_map.lookup[present]
    unmapped = present[mapped == UNMAPPED]
    if unmapped.size:
        raise ClientError(
            f"Mask {mask.name} in {sources.masks} holds pixel value(s) {_list(unmapped)} that label map "
            f"{label_map.source} does not map to a class")
    bad = (mapped != IGNORE_LABEL) & (mapped >= num_classes)
    if bad.any():
        via = "" if label_map.kind == "identity" else f" (after label map {label_map.source})"
        raise ClientError(
            f"Mask {mask.name} in {sources.masks} holds class id(s) {_list(mapped[bad])}{via}, but "
            f"num_classes is {num_classes}: class ids must be in [0, {num_classes - 1}] or 255 (ignore)")
    labels = label_map.apply(values)
    counts = np.bincount(labels[labels != IGNORE_LABEL].ravel(), minlength=num_classes)[:num_classes]
    return Sample(image, mask, width, height), counts


def _list(values: np.ndarray) -> str:
    shown = ", ".join(str(int(v)) for v in values[:10])
    return shown + (" …" if len(values) > 10 else "")


def prepare(env: TrainingEnv, channel: str, label_map: LabelMap, num_classes: int) -> SegmentationSet:
    """A File-mode channel and its annotation channel, checked."""
    return check_pairs(pair_files(env, channel), channel, Sources.file_mode(channel), label_map, num_classes)


def check_pairs(pairs: list[tuple[Path, Path]], channel: str, sources: Sources, label_map: LabelMap,
                num_classes: int) -> SegmentationSet:
    with ThreadPoolExecutor(max_workers=devices.cpu_threads()) as pool:  # PIL decodes without the GIL
        checked = list(pool.map(lambda pair: check_pair(*pair, sources, label_map, num_classes), pairs))
    samples = [sample for sample, _ in checked]
    class_pixels = np.sum([counts for _, counts in checked], axis=0)
    if not class_pixels.sum():
        raise ClientError(f"Every mask in {sources.masks} is entirely 255 (ignore); "
                          f"there is nothing to learn or measure")
    get_logger().info("Channel '%s': %d images with masks; labelled pixels per class: %s", channel,
                      len(samples), ", ".join(f"{c}={int(n)}" for c, n in enumerate(class_pixels)))
    return SegmentationSet(channel, samples, label_map, class_pixels)


# ---- datasets --------------------------------------------------------------------------------

def _load_pair(sample: Sample, label_map: LabelMap) -> tuple[Image.Image, Image.Image]:
    image = read_image(sample.image)
    with Image.open(sample.mask) as mask:
        labels = label_map.apply(np.asarray(mask, dtype=np.uint8)).astype(np.uint8)
    return image, Image.fromarray(labels, mode="L")


def _to_arrays(image: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(mask, dtype=np.float32).copy()
    labels[labels == IGNORE_LABEL] = LOSS_IGNORE
    return to_network_input(image), labels


def augment(image: Image.Image, mask: Image.Image, base_size: int, crop_size: int,
            rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """GluonCV's segmentation training augmentation (see the module docstring)."""
    if rng.random() < 0.5:
        image, mask = image.transpose(Image.FLIP_LEFT_RIGHT), mask.transpose(Image.FLIP_LEFT_RIGHT)
    long_size = int(rng.integers(int(base_size * 0.5), int(base_size * 2.0) + 1))
    width, height = image.size
    if height > width:
        new_h, new_w = long_size, max(1, int(width * long_size / height + 0.5))
    else:
        new_w, new_h = long_size, max(1, int(height * long_size / width + 0.5))
    image = image.resize((new_w, new_h), Image.BILINEAR)
    mask = mask.resize((new_w, new_h), Image.NEAREST)
    pad_w, pad_h = max(crop_size - new_w, 0), max(crop_size - new_h, 0)
    if pad_w or pad_h:
        image = ImageOps.expand(image, border=(0, 0, pad_w, pad_h), fill=0)
        mask = ImageOps.expand(mask, border=(0, 0, pad_w, pad_h), fill=IGNORE_LABEL)
    width, height = image.size
    left, top = int(rng.integers(0, width - crop_size + 1)), int(rng.integers(0, height - crop_size + 1))
    box = (left, top, left + crop_size, top + crop_size)
    image, mask = image.crop(box), mask.crop(box)
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(radius=rng.random()))
    return image, mask


class TrainDataset(Dataset):
    def __init__(self, ds: SegmentationSet, base_size: int, crop_size: int):
        self.ds, self.base_size, self.crop_size = ds, base_size, crop_size

    def __len__(self) -> int:
        return self.ds.count

    def __getitem__(self, index: int):
        # A fresh OS-seeded generator per sample: forked loader workers would otherwise share one
        # random state and repeat each other's augmentations.
        rng = np.random.default_rng()
        image, mask = _load_pair(self.ds.samples[index], self.ds.label_map)
        return _to_arrays(*augment(image, mask, self.base_size, self.crop_size, rng))


class ValidationDataset(Dataset):
    """Centre crops of crop_size, or (crop_size None) whole images at their own size."""

    def __init__(self, ds: SegmentationSet, crop_size: int | None):
        self.ds, self.crop_size = ds, crop_size

    def __len__(self) -> int:
        return self.ds.count

    def __getitem__(self, index: int):
        image, mask = _load_pair(self.ds.samples[index], self.ds.label_map)
        if self.crop_size is not None:
            image, mask = centre_crop(image, mask, self.crop_size)
        return _to_arrays(image, mask)


def _batch_bytes(batch_size: int, height: int, width: int) -> int:
    return batch_size * height * width * 4 * 4  # float32 image (3 planes) + float32 labels


def loader_workers() -> int:
    return min(8, devices.cpu_threads())


def train_loader(ds: SegmentationSet, hp, workers: int):
    crop = hp.crop_size
    # Every image once per epoch: the short last batch is kept, and the training loop fills it
    # (dataloader.fill_batch) so BatchNorm never sees a tiny batch.
    return parallel_loader(TrainDataset(ds, hp.base_size, crop), hp.mini_batch_size, workers,
                           _batch_bytes(hp.mini_batch_size, crop, crop), shuffle=True, last_batch="keep")


def validation_loader(ds: SegmentationSet, hp, workers: int):
    whole = hp.validation_mini_batch_size == 1
    width, height = ds.largest_image if whole else (hp.crop_size, hp.crop_size)
    batch = hp.validation_mini_batch_size
    return parallel_loader(ValidationDataset(ds, None if whole else hp.crop_size), batch, workers,
                           _batch_bytes(batch, height, width), shuffle=False, last_batch="keep")
