"""Pipe-mode input: an augmented manifest per channel (`train`, `validation`), read anew each epoch.

Each manifest line streams two RecordIO records, in AttributeNames order: the image (`source-ref`)
and its PNG mask (an attribute whose name ends in `-ref`, so the stream carries the object's bytes
rather than its S3 URI). An epoch's lines are written to
`<work>/<channel>-epoch<N>/{images,masks}/line-<n>.{jpg|png}` and checked and loaded exactly like
File-mode pairs (`data.check_pairs`); the disk holds one epoch of a channel at a time.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from algorithms.common import pipe
from algorithms.common.pipe_epochs import EpochSource, check_pipe_content_type
from algorithms.semantic_segmentation import data
from algorithms.semantic_segmentation.label_map import LabelMap
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

MANIFEST_SETUP = ('an augmented manifest (S3DataType AugmentedManifestFile, AttributeNames ["source-ref", '
                  '"<name>-ref"], RecordWrapperType RecordIO, ContentType application/x-recordio)')
_JPEG, _PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


def check_pipe_channel(env: TrainingEnv, channel: str) -> None:
    """A Pipe-mode channel must be an augmented manifest that carries its own masks."""
    config = env.channels[channel]
    if not pipe.is_augmented_manifest(config):
        raise ClientError(
            f"Channel '{channel}' uses Pipe mode with RecordWrapperType {config.record_wrapper}; semantic "
            f"segmentation reads Pipe mode from {MANIFEST_SETUP} only. Images with PNG masks in separate "
            f"channels need File mode")
    check_pipe_content_type(config, hint=f" (semantic segmentation reads {MANIFEST_SETUP} in Pipe mode)")
    annotations = data.annotation_channel(channel)
    if annotations in env.channels:
        raise ClientError(
            f"Channel '{channel}' is an augmented manifest in Pipe mode, whose lines carry the masks, but channel "
            f"'{annotations}' is configured too; annotation channels go with File-mode image channels. Remove "
            f"'{annotations}', or use File mode for '{channel}'")


class ChannelData(EpochSource):
    """A channel epoch by epoch (algorithms.common.pipe_epochs.EpochSource): one SegmentationSet,
    checked once, in File mode; each epoch's manifest lines written out and checked in Pipe mode."""

    def __init__(self, env: TrainingEnv, channel: str, label_map: LabelMap, num_classes: int, work: Path,
                 stop: StopSignal | None = None) -> None:
        data.require_channel(env, channel)
        self.label_map, self.num_classes = label_map, num_classes
        self.reader: pipe.PipeChannel | None = None
        self._current: Path | None = None
        super().__init__(env, channel, work, stop)

    def read_file_mode(self) -> data.SegmentationSet:
        return data.prepare(self.env, self.name, self.label_map, self.num_classes)

    def open_pipe(self, stop: StopSignal | None) -> None:
        check_pipe_channel(self.env, self.name)
        self.reader = pipe.PipeChannel(self.env.paths.data, self.name, stop)

    def set_stop(self, stop: StopSignal | None) -> None:
        self.reader.stop = stop

    def read_pipe_epoch(self) -> data.SegmentationSet:
        return self._read_epoch()

    def _read_epoch(self) -> data.SegmentationSet:
        epoch = self.reader.epoch
        source = self.reader.describe(epoch)
        target = self.work / f"{self.name}-epoch{epoch}"
        pairs = write_pairs(self.reader, target, source)
        get_logger().info("Channel '%s' epoch %d: %d augmented-manifest lines from %s", self.name, epoch,
                          len(pairs), self.reader.fifo(epoch).name)
        ds = data.check_pairs(pairs, self.name, data.Sources(source, f"{source} (label attribute)"),
                              self.label_map, self.num_classes)
        # The previous epoch's loaders have finished with its files by now.
        if self._current is not None:
            shutil.rmtree(self._current, ignore_errors=True)
        self._current = target
        return ds


def write_pairs(reader: pipe.PipeChannel, target: Path, source: str) -> list[tuple[Path, Path]]:
    """The next epoch's manifest lines as (image, mask) files under `target` (built under a
    temporary name and renamed when complete, so nothing half-written is left on an error)."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    (partial / "images").mkdir(parents=True)
    (partial / "masks").mkdir()
    names: list[tuple[str, str]] = []
    try:
        for example in reader.examples(2):
            stem = f"line-{example.number}"
            image_name = stem + _image_suffix(example, source)
            if not example.label.startswith(_PNG):
                raise ClientError(
                    f"{source}: the label attribute of line {example.number} is not a PNG mask (it starts with "
                    f"{example.label[:40]!r}). The label attribute's name must end in '-ref' so that the "
                    f"stream carries the PNG it points to: AttributeNames [\"source-ref\", \"<name>-ref\"]")
            (partial / "images" / image_name).write_bytes(example.image)
            (partial / "masks" / f"{stem}.png").write_bytes(example.label)
            names.append((image_name, f"{stem}.png"))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if not names:
        shutil.rmtree(partial, ignore_errors=True)
        raise ClientError(f"{source} holds no manifest lines; the channel's augmented manifest is empty")
    partial.replace(target)
    return [(target / "images" / image, target / "masks" / mask) for image, mask in names]


def _image_suffix(example: pipe.Example, source: str) -> str:
    """The File-mode loader reads JPEG and PNG images; so does Pipe mode."""
    if example.image.startswith(_JPEG):
        return ".jpg"
    if example.image.startswith(_PNG):
        return ".png"
    raise ClientError(f"{source}: the image of line {example.number} is neither JPEG nor PNG "
                      f"(it starts with {example.image[:8]!r}); semantic segmentation reads JPEG and PNG images")
