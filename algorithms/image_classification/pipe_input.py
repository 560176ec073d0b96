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

import numpy as np

from algorithms.common import pipe
from algorithms.common.pipe_epochs import PipeEpochFiles
from container.config import ChannelConfig
from container.errors import ClientError
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


def pipe_epochs(data_dir: Path, channel: ChannelConfig, hp, work: Path, stop: StopSignal | None) -> PipeEpochFiles:
    """The channel read epoch by epoch into `<work>/<channel>-epoch<N>.rec` by the shared reader,
    with augmented-manifest labels converted as this algorithm defines them."""
    fmt = label_format(channel) if pipe.is_augmented_manifest(channel) else None

    def label_of(example: pipe.Example, source: str):
        where = f"{source}, line {example.number}"
        return manifest_label(example.label_json(source), hp, fmt, where)

    return PipeEpochFiles(data_dir, channel, work, label_of, stop)
