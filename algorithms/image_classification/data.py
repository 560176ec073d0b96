"""Training and validation data: RecordIO channels, or images + .lst packed into RecordIO once,
or Pipe-mode streams written to a .rec file each epoch (pipe_input.py).

Either way one fast path serves training: MXNet's C++ ImageRecordIter with decode threads.
Every record is scanned once up front (labels, image sizes, counts), so bad data fails before
the first batch with a ClientError naming the file.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mxnet as mx
import numpy as np

from algorithms.common.content_types import holds_recordio
from algorithms.common.pipe_epochs import PipeEpochFiles, RecordEpochSource
from algorithms.common.recordio import (
    channel_recordio, image_size, iter_records, pack_lst, read_lst, write_index,
)
from algorithms.image_classification.pipe_input import pipe_epochs
from algorithms.image_classification.preprocess import Preprocessing
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal



@dataclass
class DataSet:
    name: str
    rec: Path
    idx: Path
    count: int
    positives: np.ndarray | None = None  # per-class positive counts (multi-label)
    class_counts: Counter = field(default_factory=Counter)


def _single_file(directory: Path, suffix: str, channel: str) -> list[Path]:
    files = sorted(p for p in directory.rglob(f"*{suffix}") if p.is_file())
    if not files:
        raise ClientError(f"No {suffix} file found in channel '{channel}'")
    return files


def _recordio_source(env: TrainingEnv, channel: str, work: Path) -> Path:
    return channel_recordio(env.paths.channel(channel), channel, work)


def _image_source(env: TrainingEnv, channel: str, work: Path) -> Path:
    lst_channel = f"{channel}_lst"
    if lst_channel not in env.channels:
        raise ClientError(
            f"Channel '{channel}' holds images (ContentType application/x-image) but channel "
            f"'{lst_channel}' with its .lst file is missing")
    lst_files = _single_file(env.paths.channel(lst_channel), ".lst", lst_channel)
    if len(lst_files) != 1:
        raise ClientError(f"Channel '{lst_channel}' must hold exactly one .lst file, found {len(lst_files)}")
    entries = read_lst(lst_files[0])
    return pack_lst(entries, env.paths.channel(channel), work / f"{channel}.rec", lst_files[0].name)


class ChannelData(RecordEpochSource):
    """A channel's data epoch by epoch (algorithms.common.pipe_epochs.EpochSource): one DataSet,
    scanned once, in File mode; a new scanned DataSet per epoch in Pipe mode."""

    def __init__(self, env: TrainingEnv, channel: str, hp, work: Path, stop: StopSignal | None = None) -> None:
        self.hp = hp
        super().__init__(env, channel, work, stop)

    def read_file_mode(self) -> DataSet:
        return prepare(self.env, self.name, self.hp, self.work)

    def pipe_files(self, stop: StopSignal | None) -> PipeEpochFiles:
        return pipe_epochs(self.env.paths.data, self.config, self.hp, self.work, stop)

    def scan(self, path: Path) -> DataSet:
        return scan(path, self.name, self.hp, self.work)


def prepare(env: TrainingEnv, channel: str, hp, work: Path) -> DataSet:
    """A File-mode channel as one scanned .rec file."""
    if channel not in env.channels:
        raise ClientError(f"Missing required channel '{channel}'; this algorithm needs 'train' and 'validation'")
    work.mkdir(parents=True, exist_ok=True)
    if holds_recordio(env, channel, f"{channel}_lst"):
        rec = _recordio_source(env, channel, work)
    else:
        rec = _image_source(env, channel, work)
    return scan(rec, channel, hp, work)


def scan(rec: Path, channel: str, hp, work: Path) -> DataSet:
    """Validate every record and write the index the shuffling iterator needs."""
    _, height, width = hp.image_shape
    offsets, counts = [], Counter()
    positives = np.zeros(hp.num_classes) if hp.multi_label else None
    for number, record in enumerate(iter_records(rec)):
        where = f"channel '{channel}' ({rec.name}), record {number}"
        label = record.label
        if hp.multi_label:
            if label.size != hp.num_classes:
                raise ClientError(
                    f"Mismatch between number of labels in the multi-label data ({label.size}) and the "
                    f"num_classes parameter ({hp.num_classes}) in {where}")
            if not np.isin(label, (0.0, 1.0)).all():
                raise ClientError(f"Multi-label labels must be 0 or 1 (multi-hot) in {where}, got {label.tolist()}")
            positives += label
        else:
            if label.size != 1:
                raise ClientError(
                    f"{where} has {label.size} labels; set multi_label=1 for multi-label data")
            value = float(label[0])
            if not value.is_integer() or not 0 <= value < hp.num_classes:
                raise ClientError(
                    f"Label {value:g} in {where} is out of range: labels must be integers in "
                    f"[0, num_classes-1] = [0, {hp.num_classes - 1}]")
            counts[int(value)] += 1
        size = image_size(record.image)
        if size is None:
            raise ClientError(f"Cannot decode the image in {where}")
        if hp.resize is None and (size[0] < width or size[1] < height):
            raise ClientError(
                f"Image in {where} is {size[0]}x{size[1]} (WxH), smaller than image_shape "
                f"{height}x{width}; use larger images or set 'resize'")
        offsets.append(record.offset)
    if not offsets:
        raise ClientError(f"Channel '{channel}' holds no records")
    idx = write_index(work / f"{channel}-index.rec", offsets)
    get_logger().info("Channel '%s': %d images in %s", channel, len(offsets), rec.name)
    return DataSet(channel, rec, idx, len(offsets), positives, counts)


def augmentation_args(augmentation: str | None) -> dict:
    """The built-in's augmentation_type as ImageRecordIter arguments."""
    if augmentation is None:
        return {"rand_crop": False, "rand_mirror": False}
    args = {"rand_crop": True, "rand_mirror": True}
    if augmentation in ("crop_color", "crop_color_transform"):
        args.update(random_h=36, random_s=50, random_l=50)
    if augmentation == "crop_color_transform":
        args.update(max_rotate_angle=10, max_shear_ratio=0.1, max_aspect_ratio=0.25)
    return args


def train_iterator(ds: DataSet, hp, batch_size: int, threads: int, epoch: int, part_index: int = 0,
                   num_parts: int = 1) -> mx.io.DataIter:
    """One epoch of training batches: every record of this worker's part exactly once, in an
    order of its own (the seed is the epoch), in ceil(records / batch_size) batches; the last one
    is filled up with records from the start of the order and says so in `pad`.

    A new iterator per epoch, never `reset()`: with round_batch, MXNet's iterator carries the
    records that filled the last batch over into the next epoch, and a reset with batches already
    prefetched skips or repeats up to a batch, so reset epochs hold the wrong records and report
    the wrong `pad` (docs/image-classification.md, "Epochs")."""
    return mx.io.ImageRecordIter(
        path_imgrec=str(ds.rec), path_imgidx=str(ds.idx), data_shape=hp.image_shape,
        batch_size=batch_size, label_width=label_width(hp),
        resize=hp.resize or -1, shuffle=True, seed=epoch, preprocess_threads=threads,
        num_parts=num_parts, part_index=part_index, round_batch=True, prefetch_buffer=4,
        **augmentation_args(hp.augmentation_type))


def validation_iterator(ds: DataSet, hp, batch_size: int, threads: int) -> mx.io.DataIter:
    """One pass over every record, in order; as in training, a new iterator per pass and the
    last batch's filler counted in `pad`."""
    pre = Preprocessing(hp.image_shape, hp.resize)
    return mx.io.ImageRecordIter(
        path_imgrec=str(ds.rec), path_imgidx=str(ds.idx), batch_size=batch_size,
        label_width=label_width(hp), shuffle=False,
        preprocess_threads=threads, round_batch=True, **pre.iterator_args())


def label_width(hp) -> int:
    return hp.num_classes if hp.multi_label else 1


def batch_shapes(hp, batch_size: int) -> tuple[list[mx.io.DataDesc], list[mx.io.DataDesc]]:
    """The data and label shapes of the iterators' batches, to bind a network before any epoch."""
    label = (batch_size, hp.num_classes) if hp.multi_label else (batch_size,)
    return ([mx.io.DataDesc("data", (batch_size,) + tuple(hp.image_shape))],
            [mx.io.DataDesc("softmax_label", label)])
