"""Pipe-mode input for image classification: each epoch's stream becomes a local .rec file.

MXNet's ImageRecordIter cannot read a FIFO (it needs the file size to split and seek), so every
epoch is first written to the work folder and then served by the same fast path as File mode
(C++ decoding threads, identical augmentation, num_parts for distributed training). Copying runs
at disk speed and takes a small part of an epoch's training time (docs/distributed-and-pipe.md);
the disk holds one epoch of one channel at a time.

- RecordIO channels (RecordWrapperType None): the stream is the channel's .rec files back to
  back and is copied as it is.
- Augmented manifests (RecordWrapperType RecordIO, AttributeNames image first, then label):
  each (image, label) pair is packed into an image record. The label is a class id ("3"), or
  for multi_label=1 a list: multi-hot ("[1, 0, 1]", the default) or class ids ("[0, 2]") as the
  `label-format` parameter of the channel's ContentType says.
"""
from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from algorithms.common import pipe
from algorithms.common.recordio import RECORDIO_MAGIC
from container.config import ChannelConfig
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

LABEL_FORMATS = ("multi-hot", "class-id")


def label_format(channel: ChannelConfig) -> str:
    value = (channel.content_type_param("label-format") or "multi-hot").lower()
    if value not in LABEL_FORMATS:
        raise ClientError(
            f"Unsupported label-format '{value}' in the ContentType of channel '{channel.name}'; allowed: "
            f"{', '.join(LABEL_FORMATS)}")
    return value


def manifest_label(value, hp, fmt: str, where: str):
    """An augmented-manifest label as the record header's label: a class id, or a multi-hot vector."""
    if not hp.multi_label:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ClientError(f"{where}: the label must be a class id like \"0\", got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise ClientError(f"{where}: the label must be a class id like \"0\", got {value!r}") from None
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ClientError(f"{where}: multi_label=1 needs a JSON list of numbers as the label ({fmt}), got {value!r}")
    if fmt == "multi-hot":
        return np.asarray(value, dtype=np.float32)  # length and 0/1 values are checked by the scan
    vector = np.zeros(hp.num_classes, dtype=np.float32)
    for class_id in value:
        if not float(class_id).is_integer() or not 0 <= class_id < hp.num_classes:
            raise ClientError(
                f"{where}: class id {class_id} (label-format=class-id) is out of range [0, {hp.num_classes - 1}]")
        vector[int(class_id)] = 1.0
    return vector


class PipeEpochs:
    """A Pipe-mode channel read epoch by epoch into `<work>/<channel>-epoch<N>.rec`."""

    def __init__(self, data_dir: Path, channel: ChannelConfig, hp, work: Path, stop: StopSignal | None) -> None:
        if channel.base_content_type not in (None, "application/x-recordio"):
            raise ClientError(
                f"Pipe mode for channel '{channel.name}' needs ContentType application/x-recordio (RecordIO "
                f"files, or an augmented manifest with RecordWrapperType RecordIO); got '{channel.content_type}'")
        self.channel = channel
        self.hp = hp
        self.work = work
        self.reader = pipe.PipeChannel(data_dir, channel.name, stop)
        self.augmented = pipe.is_augmented_manifest(channel)
        self.format = label_format(channel) if self.augmented else None
        self._current: Path | None = None

    def read_next(self) -> Path:
        """The next epoch as a .rec file; the previous epoch's file is removed (an iterator still
        holding it open keeps reading it: unlinking does not disturb open files)."""
        epoch = self.reader.epoch
        target = self.work / f"{self.channel.name}-epoch{epoch}.rec"
        if self.augmented:
            count = self._pack_manifest(target)
            get_logger().info("Channel '%s' epoch %d: %d augmented-manifest lines from %s", self.channel.name,
                              epoch, count, self.reader.fifo(epoch).name)
        else:
            size = self.reader.spool_next(target)
            self._check_recordio(target, epoch)
            get_logger().info("Channel '%s' epoch %d: %.1f MB of RecordIO from %s", self.channel.name, epoch,
                              size / 1e6, self.reader.fifo(epoch).name)
        if self._current is not None:
            self._current.unlink(missing_ok=True)
        self._current = target
        return target

    def _check_recordio(self, path: Path, epoch: int) -> None:
        """The common mistake, named: an augmented manifest streamed without RecordIO wrapping."""
        with open(path, "rb") as handle:
            head = handle.read(4)
        if head and head != RECORDIO_MAGIC.to_bytes(4, "little"):
            path.unlink()
            raise ClientError(
                f"The {self.reader.describe(epoch)} is not RecordIO (it starts with {head!r}). With "
                f"RecordWrapperType None the channel must hold .rec files; an augmented manifest needs "
                f"RecordWrapperType RecordIO")

    def _pack_manifest(self, target: Path) -> int:
        source = self.reader.describe(self.reader.epoch)
        partial = target.with_name(target.name + ".partial")
        writer = mx.recordio.MXRecordIO(str(partial), "w")
        count = 0
        try:
            for example in self.reader.examples(2):
                where = f"{source}, line {example.number}"
                label = manifest_label(example.label_json(source), self.hp, self.format, where)
                header = mx.recordio.IRHeader(0, label, example.number, 0)
                writer.write(mx.recordio.pack(header, example.image))
                count += 1
        except BaseException:
            writer.close()
            partial.unlink(missing_ok=True)
            raise
        writer.close()
        partial.replace(target)
        return count
