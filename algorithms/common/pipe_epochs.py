"""A Pipe-mode channel as one local .rec file per epoch, for readers that need a file.

MXNet's record readers (ImageRecordIter, MXIndexedRecordIO) need the file size and seek, so a
FIFO cannot be read by them directly. Each epoch's stream is therefore written to
`<work>/<channel>-epoch<N>.rec` and read like a File-mode channel; the disk holds one epoch of a
channel at a time (the previous epoch's file is removed when the next one is complete).

- RecordIO channels (RecordWrapperType None): the stream is the channel's .rec files back to
  back and is copied as it is.
- Augmented manifests (RecordWrapperType RecordIO, AttributeNames image first, then label):
  each (image, label) line becomes one image record whose header label the algorithm's
  `label_of(example, source)` computes from the label attribute.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import mxnet as mx
import numpy as np

from algorithms.common import pipe
from algorithms.common.recordio import RECORDIO_MAGIC
from container.config import ChannelConfig, TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

RECORDIO = "application/x-recordio"

# example, "stream train_0 of channel 'train'" -> the record's header label
LabelOf = Callable[[pipe.Example, str], "float | np.ndarray"]


def check_pipe_content_type(channel: ChannelConfig, hint: str = "") -> None:
    """Pipe-mode channels carry RecordIO (or an augmented manifest wrapped in RecordIO)."""
    if channel.base_content_type not in (None, RECORDIO):
        raise ClientError(
            f"Pipe mode for channel '{channel.name}' needs ContentType {RECORDIO} (RecordIO files, or an "
            f"augmented manifest with RecordWrapperType RecordIO); got '{channel.content_type}'{hint}")


class PipeEpochFiles:
    """Reads a Pipe-mode channel epoch by epoch into local .rec files."""

    def __init__(self, data_dir: Path, channel: ChannelConfig, work: Path, label_of: LabelOf,
                 stop: StopSignal | None) -> None:
        check_pipe_content_type(channel)
        self.channel = channel
        self.work = work
        self.label_of = label_of
        self.reader = pipe.PipeChannel(data_dir, channel.name, stop)
        self.augmented = pipe.is_augmented_manifest(channel)
        self._current: Path | None = None

    def read_next(self) -> Path:
        """The next epoch as a .rec file (PipeInterrupted on SIGTERM, with nothing left behind).
        An iterator still reading the previous epoch's file keeps reading it: unlinking does
        not disturb open files."""
        epoch = self.reader.epoch
        self.work.mkdir(parents=True, exist_ok=True)
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
                # pack() sets the header's flag from the label (a number, or an array).
                header = mx.recordio.IRHeader(0, self.label_of(example, source), example.number, 0)
                writer.write(mx.recordio.pack(header, example.image))
                count += 1
        except BaseException:
            writer.close()
            partial.unlink(missing_ok=True)
            raise
        writer.close()
        partial.replace(target)
        return count


class EpochSource:
    """A channel's data epoch by epoch, shared by the algorithms' ChannelData classes.

    File mode hands out the data read at the start (`read_file_mode()`) every epoch. Pipe mode
    reads the first epoch at once, without interruption (its checks come before training, and
    every worker of a distributed job must reach the training loop, where a stop is agreed on
    together), then each later epoch's stream with `read_pipe_epoch()`, which a SIGTERM may cut
    short (PipeInterrupted)."""

    first: object
    passes: int = 0

    def __init__(self, env: TrainingEnv, channel: str, work: Path, stop: StopSignal | None = None) -> None:
        if channel not in env.channels:
            raise ClientError(f"Missing required channel '{channel}'; this algorithm needs 'train' and 'validation'")
        self.env, self.name, self.work = env, channel, work
        self.config = env.channels[channel]
        work.mkdir(parents=True, exist_ok=True)
        if self.config.is_pipe:
            self.open_pipe(stop=None)
            self.first = self.read_pipe_epoch()
            self.set_stop(stop)
        else:
            self.first = self.read_file_mode()

    # ---- what each algorithm defines ---------------------------------------------------------
    def read_file_mode(self):
        raise NotImplementedError

    def open_pipe(self, stop: StopSignal | None) -> None:
        raise NotImplementedError

    def read_pipe_epoch(self):
        raise NotImplementedError

    def set_stop(self, stop: StopSignal | None) -> None:
        raise NotImplementedError

    # ---- shared -------------------------------------------------------------------------------
    def next_epoch(self):
        """The data of the next pass over the channel (PipeInterrupted on SIGTERM)."""
        data = self.first if not self.config.is_pipe or self.passes == 0 else self.read_pipe_epoch()
        self.passes += 1
        return data


class RecordEpochSource(EpochSource):
    """A RecordIO channel (or an augmented manifest packed into RecordIO) as one checked .rec per
    epoch: `prepare_file_mode()` in File mode, `PipeEpochFiles` + `scan(path)` in Pipe mode."""

    pipe: PipeEpochFiles | None = None

    def pipe_files(self, stop: StopSignal | None) -> PipeEpochFiles:
        raise NotImplementedError

    def scan(self, path: Path):
        raise NotImplementedError

    def open_pipe(self, stop: StopSignal | None) -> None:
        self.pipe = self.pipe_files(stop)

    def read_pipe_epoch(self):
        return self.scan(self.pipe.read_next())

    def set_stop(self, stop: StopSignal | None) -> None:
        self.pipe.reader.stop = stop
