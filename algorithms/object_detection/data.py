"""Detection data: RecordIO channels, or images + JSON annotations packed into RecordIO once.

Either way training reads one format: records whose label is the built-in's packed detection
label `[header_width=2, object_width=5, cls, xmin, ymin, xmax, ymax, …]` (ratios of the image
size, class -1 = padding). Every record is checked once up front, so bad data fails before the
first batch with a ClientError naming the channel, file and record.

Pipe mode: each epoch's stream (RecordIO, or an augmented manifest whose label attribute is a
Ground Truth bounding-box object) becomes a local .rec file, checked the same way
(`ChannelData`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mxnet as mx
import numpy as np
from gluoncv.data.transforms import bbox as tbbox
from gluoncv.data.transforms import image as timage
from gluoncv.data.transforms.experimental.bbox import random_crop_with_constraints
from gluoncv.data.transforms.experimental.image import random_color_distort
from mxnet.gluon.data import DataLoader, Dataset
from gluoncv.data.batchify import Pad, Stack, Tuple

from algorithms.common.pipe import Example
from algorithms.common.content_types import holds_recordio
from algorithms.common.pipe_epochs import PipeEpochFiles, RecordEpochSource, check_pipe_content_type
from algorithms.common.recordio import channel_recordio, image_size, iter_records, pack_lst, write_index
from algorithms.object_detection import annotations
from algorithms.object_detection.network import PIXEL_MEAN
from algorithms.object_detection.preprocess import to_network_input
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

PADDING_CLASS = -1.0
COORD_TOLERANCE = 1e-3  # ratios written with %.4f may round a hair past 0 or 1

NOT_ENOUGH_LABEL = "Not enough label packed in img_list or rec file."
NOT_ENOUGH_ANNOTATION = (
    "Not enough annotation packed in the list file or the RecordIO file. Each object requires at "
    "least five numbers [label_id, xmin, ymin, ymax] for annotation.")


@dataclass
class DetectionSet:
    name: str
    rec: Path
    idx: Path
    count: int
    objects_per_class: Counter = field(default_factory=Counter)


def parse_objects(label: np.ndarray) -> np.ndarray:
    """(K, 5) float32 rows [cls, xmin, ymin, xmax, ymax] from a packed label; padding dropped.
    The label must have passed `check_label`."""
    header, width = int(label[0]), int(label[1])
    rows = label[header:].reshape(-1, width)[:, :5]
    return rows[rows[:, 0] != PADDING_CLASS].astype(np.float32)


def check_label(label: np.ndarray, hp, where: str) -> np.ndarray:
    """Validate one packed label against the hyperparameters; returns its objects."""
    if label.size < 2 or label[0] < 2 or not float(label[0]).is_integer():
        raise ClientError(f"{NOT_ENOUGH_LABEL} {where} has label {label[:8].tolist()}: it must start with "
                          f"the header [2, 5] (header width, numbers per object)")
    header, width = int(label[0]), label[1]
    if width < 5 or not float(width).is_integer() or (label.size - header) % int(width):
        raise ClientError(f"{NOT_ENOUGH_ANNOTATION} {where} has {label.size - header} numbers after its "
                          f"header with {width:g} numbers per object")
    if label.size > hp.label_width:
        raise ClientError(
            f"Invalid parameter value 'label_width'. Please ensure that the value of parameter "
            f"'label_width' ({hp.label_width}) is at least the length of the longest packed label: "
            f"{where} has {label.size} numbers (2 + 5 x objects)")
    objects = parse_objects(label)
    classes = objects[:, 0]
    bad = classes[(classes < 0) | (classes >= hp.num_classes) | (classes != np.round(classes))]
    if bad.size:
        raise ClientError(
            f"Class id {bad[0]:g} in {where} is out of range: class ids must be integers in "
            f"[0, num_classes-1] = [0, {hp.num_classes - 1}]")
    coords = objects[:, 1:]
    if coords.size and (coords.min() < -COORD_TOLERANCE or coords.max() > 1 + COORD_TOLERANCE):
        raise ClientError(
            f"Box coordinates in {where} must be ratios of the image width and height in [0, 1], got "
            f"values from {coords.min():g} to {coords.max():g} (absolute pixels are not allowed)")
    empty = (coords[:, 2] <= coords[:, 0]) | (coords[:, 3] <= coords[:, 1])
    if empty.any():
        raise ClientError(f"Box {objects[empty][0, 1:].tolist()} in {where} has no area: each box is "
                          f"[xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax")
    objects[:, 1:] = np.clip(coords, 0.0, 1.0)
    return objects


# ---- channels -> one checked RecordIO file per channel -------------------------------------------

def _pack_annotated(env: TrainingEnv, channel: str, work: Path) -> Path:
    annotation_channel = f"{channel}_annotation"
    if annotation_channel not in env.channels:
        raise ClientError(
            f"Channel '{channel}' holds images but channel '{annotation_channel}' with their JSON "
            f"annotations is missing")
    if env.channels[annotation_channel].is_pipe:
        raise ClientError(f"Channel '{annotation_channel}' must use File mode")
    entries = annotations.list_entries(env.paths.channel(channel), channel,
                                       env.paths.channel(annotation_channel), annotation_channel)
    return pack_lst(entries, env.paths.channel(channel), work / f"{channel}.rec", annotation_channel)


def _require(env: TrainingEnv, channel: str) -> None:
    if channel not in env.channels:
        raise ClientError(f"Missing required channel '{channel}'; this algorithm needs 'train' and 'validation'")


def prepare(env: TrainingEnv, channel: str, hp, work: Path) -> DetectionSet:
    """A File-mode channel as one checked .rec file."""
    _require(env, channel)
    work.mkdir(parents=True, exist_ok=True)
    if holds_recordio(env, channel, f"{channel}_annotation"):
        rec = channel_recordio(env.paths.channel(channel), channel, work)
    else:
        rec = _pack_annotated(env, channel, work)
    return scan(rec, channel, hp, work)


def manifest_label(example: Example, source: str) -> np.ndarray:
    """An augmented-manifest line's label attribute (Ground Truth's bounding-box object
    `{"image_size": [...], "annotations": [{"class_id", "left", "top", "width", "height"}, ...]}`)
    as the packed label; the scan then checks it like any RecordIO label."""
    where = f"{source}, line {example.number}, label attribute (the second of AttributeNames)"
    return np.asarray(annotations.packed_label(example.label_json(source), where), dtype=np.float32)


class ChannelData(RecordEpochSource):
    """A channel epoch by epoch (algorithms.common.pipe_epochs.EpochSource): one DetectionSet,
    checked once, in File mode; a new checked DetectionSet per epoch in Pipe mode."""

    def __init__(self, env: TrainingEnv, channel: str, hp, work: Path, stop: StopSignal | None = None) -> None:
        self.hp = hp
        super().__init__(env, channel, work, stop)

    def read_file_mode(self) -> DetectionSet:
        return prepare(self.env, self.name, self.hp, self.work)

    def pipe_files(self, stop: StopSignal | None) -> PipeEpochFiles:
        check_pipe_content_type(self.config, hint=" (images with JSON annotations need File mode)")
        return PipeEpochFiles(self.env.paths.data, self.config, self.work, manifest_label, stop)

    def scan(self, path: Path) -> DetectionSet:
        return scan(path, self.name, self.hp, self.work)


def scan(rec: Path, channel: str, hp, work: Path) -> DetectionSet:
    """Check every record and write the index the readers need."""
    offsets, per_class = [], Counter()
    for number, record in enumerate(iter_records(rec)):
        where = f"channel '{channel}' ({rec.name}), record {number}"
        objects = check_label(record.label, hp, where)
        per_class.update(int(c) for c in objects[:, 0])
        if image_size(record.image) is None:
            raise ClientError(f"Cannot decode the image in {where}")
        offsets.append(record.offset)
    if not offsets:
        raise ClientError(f"Channel '{channel}' holds no records")
    idx = write_index(work / f"{channel}-index.rec", offsets)
    get_logger().info("Channel '%s': %d images, %d objects (per class: %s) in %s", channel, len(offsets),
                      sum(per_class.values()), dict(sorted(per_class.items())), rec.name)
    return DetectionSet(channel, rec, idx, len(offsets), per_class)


# ---- reading and augmenting ----------------------------------------------------------------------

class RecordDataset(Dataset):
    """(image HxWx3 uint8 RGB NDArray, objects (K, 5)) per record of a checked channel."""

    def __init__(self, ds: DetectionSet):
        self._paths = (str(ds.idx), str(ds.rec))
        self._reader = None  # opened lazily: DataLoader worker processes open their own handle
        self._count = ds.count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int):
        if self._reader is None:
            self._reader = mx.recordio.MXIndexedRecordIO(*self._paths, "r")
        header, encoded = mx.recordio.unpack(self._reader.read_idx(index))
        image = mx.image.imdecode(encoded, flag=1, to_rgb=True)
        return image, parse_objects(np.atleast_1d(np.asarray(header.label, dtype=np.float32)))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_reader"] = None
        return state


class TrainTransform:
    """The built-in's augmentation (flip, rescale, jitter), as GluonCV's SSD training transform:
    colour distortion, random expansion onto a mean-colour canvas (zoom out), random crop with
    IoU constraints (zoom in), resize to the network side with a random interpolation, horizontal
    flip. Output: raw 0-255 CHW pixels and (K, 5) [cls, xmin, ymin, xmax, ymax] ratios."""

    def __init__(self, side: int):
        self.side = side

    def __call__(self, image: mx.nd.NDArray, objects: np.ndarray):
        height, width = image.shape[:2]
        # GluonCV's box layout: [xmin, ymin, xmax, ymax, cls] in pixels.
        boxes = np.concatenate([objects[:, 1:] * [width, height, width, height], objects[:, :1]], axis=1)
        img = random_color_distort(image.astype("float32")).clip(0, 255)
        if np.random.uniform(0, 1) > 0.5:
            img, expand = timage.random_expand(img, fill=list(PIXEL_MEAN))
            boxes = tbbox.translate(boxes, x_offset=expand[0], y_offset=expand[1])
        height, width = img.shape[:2]
        boxes, crop = random_crop_with_constraints(boxes, (width, height))
        img = mx.image.fixed_crop(img, *crop)
        height, width = img.shape[:2]
        img = timage.imresize(img, self.side, self.side, interp=np.random.randint(0, 5))
        boxes = tbbox.resize(boxes, (width, height), (self.side, self.side))
        img, flips = timage.random_flip(img, px=0.5)
        boxes = tbbox.flip(boxes, (self.side, self.side), flip_x=flips[0])
        label = np.concatenate([boxes[:, 4:5], boxes[:, :4] / self.side], axis=1).astype(np.float32)
        return img.transpose((2, 0, 1)).astype("float32"), _at_least_one_row(label)


class ValidationTransform:
    """The preprocessing of validation and inference (preprocess.to_network_input); also
    returns the original size, so mAP is computed in the original image's pixels."""

    def __init__(self, side: int):
        self.side = side

    def __call__(self, image: mx.nd.NDArray, objects: np.ndarray):
        height, width = image.shape[:2]
        data = to_network_input(image.asnumpy(), self.side)[0]
        return data, _at_least_one_row(objects), np.array([width, height], dtype=np.float32)


def _at_least_one_row(label: np.ndarray) -> np.ndarray:
    """Images without objects keep one padding row, so batches always have a label array."""
    if len(label):
        return label
    return np.full((1, 5), PADDING_CLASS, dtype=np.float32)


def loader_workers(uses_gpu: bool, cpu_threads: int) -> int:
    """On CPUs the network saturates every core and decoding is a few percent of a step, so the
    main process decodes; with GPUs worker processes keep them fed."""
    return min(8, cpu_threads) if uses_gpu else 0


def records(ds: DetectionSet, part_index: int = 0, num_parts: int = 1) -> Dataset:
    """Part `part_index` of `num_parts` of the channel's records (contiguous, sizes differ by at
    most one), the share of one host."""
    dataset = RecordDataset(ds)
    return dataset.shard(num_parts, part_index) if num_parts > 1 else dataset


def train_loader(ds: DetectionSet, hp, batch_size: int, workers: int, part_index: int = 0,
                 num_parts: int = 1) -> DataLoader:
    """One pass over the part's records per `iter()`, in a new order each time; the last batch
    may be short (the training loop fills it, dataloader.fill_batch)."""
    return DataLoader(records(ds, part_index, num_parts).transform(TrainTransform(hp.image_shape)), batch_size,
                      shuffle=True, last_batch="keep", num_workers=workers,
                      batchify_fn=Tuple(Stack(), Pad(pad_val=PADDING_CLASS)))


def validation_loader(ds: DetectionSet, hp, batch_size: int, workers: int, part_index: int = 0,
                      num_parts: int = 1) -> DataLoader | None:
    """None when this part holds no records (more hosts than validation images)."""
    part = records(ds, part_index, num_parts)
    if not len(part):
        return None
    return DataLoader(part.transform(ValidationTransform(hp.image_shape)), min(batch_size, len(part)),
                      shuffle=False, last_batch="keep", num_workers=workers,
                      batchify_fn=Tuple(Stack(), Pad(pad_val=PADDING_CLASS), Stack()))
