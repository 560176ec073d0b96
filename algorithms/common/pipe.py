"""Pipe-mode channels: one FIFO per epoch, `/opt/ml/input/data/<channel>_<epoch>`.

SageMaker (and the emulator) creates `<channel>_0`, streams the channel's data through it,
closes it (end of file), then offers `<channel>_1`, and so on; the next epoch's FIFO may appear
only after the previous one was read. A `PipeChannel` opens them in order, waiting for each,
and gives up waiting or reading as soon as SIGTERM arrives (`PipeInterrupted`).

What flows through depends on the channel:
- RecordWrapperType None with `application/x-recordio`: the channel's .rec files one after
  the other, which is itself a RecordIO stream (`recordio.read_payloads`, or `spool_next` to
  keep using a file-based reader).
- RecordWrapperType RecordIO over an augmented manifest: one record per attribute, the
  attributes of a line in AttributeNames order (`examples`: (image, label) pairs).
"""
from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import select
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from algorithms.common.recordio import RECORDIO_MAGIC, read_payloads
from container.config import ChannelConfig
from container.contract import pipe_name
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal

CHUNK = 1 << 20
_POLL_MS = 200
WAIT_LOG_SECONDS = 60.0
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


class PipeInterrupted(Exception):
    """SIGTERM arrived while waiting for or reading a Pipe-mode FIFO."""


def is_augmented_manifest(channel: ChannelConfig) -> bool:
    """inputdataconfig.json does not carry S3DataType; RecordIO wrapping of a Pipe channel is
    what the built-ins use augmented manifests with (each attribute becomes one record)."""
    return channel.is_pipe and channel.record_wrapper == "RecordIO"


@dataclass(frozen=True)
class Example:
    """One augmented-manifest line: its attributes in AttributeNames order."""

    number: int            # 0-based line number within the epoch
    attributes: tuple[bytes, ...]

    @property
    def image(self) -> bytes:
        return self.attributes[0]

    @property
    def label(self) -> bytes:
        return self.attributes[1]

    def label_json(self, where: str):
        """The label attribute as JSON (numbers, lists, Ground Truth objects)."""
        try:
            return json.loads(self.label.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ClientError(
                f"{where}: the label attribute of line {self.number} is not JSON text "
                f"({self.label[:40]!r}); AttributeNames must list the image first, then the label") from None


class PipeChannel:
    """Reads a Pipe-mode channel epoch by epoch."""

    def __init__(self, data_dir: Path, name: str, stop: StopSignal | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.name = name
        self.stop = stop
        self.epoch = 0  # the FIFO the next open_next() reads

    def fifo(self, epoch: int) -> Path:
        return self.data_dir / pipe_name(self.name, epoch)

    def describe(self, epoch: int) -> str:
        return f"stream {self.fifo(epoch).name} of channel '{self.name}'"

    def open_next(self) -> "PipeStream":
        """The next epoch's stream (a binary file object; close it when done, early is fine)."""
        path = self.fifo(self.epoch)
        self._wait_for(path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:  # removed between the check and the open: wait again
            return self.open_next()
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, CHUNK)  # fewer, larger reads; a hint only
        except OSError:
            pass
        stream = PipeStream(fd, self.stop, self.describe(self.epoch))
        self.epoch += 1
        return stream

    def spool_next(self, target: Path) -> int:
        """Copy the next epoch's stream into `target` (written under a temporary name, renamed
        when complete); returns its size in bytes."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            with self.open_next() as stream, open(partial, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return target.stat().st_size

    def records(self) -> Iterator[bytes]:
        """The next epoch's RecordIO payloads."""
        epoch = self.epoch
        with self.open_next() as stream:
            for _, payload in read_payloads(stream, self.describe(epoch)):
                yield payload

    def examples(self, attributes: int = 2) -> Iterator[Example]:
        """The next epoch's augmented-manifest lines, `attributes` records each (image first)."""
        epoch = self.epoch
        yield from group_attributes(self.records(), attributes, self.describe(epoch))

    def _wait_for(self, path: Path) -> None:
        started = logged = time.monotonic()
        while not path.exists():
            if self.stop is not None and self.stop.requested:
                raise PipeInterrupted(f"stopped while waiting for {path.name}")
            now = time.monotonic()
            if now - logged >= WAIT_LOG_SECONDS:
                get_logger().info("Still waiting for %s (%.0f s).", path, now - started)
                logged = now
            time.sleep(0.05)


class PipeStream(io.RawIOBase):
    """A FIFO opened without blocking, so that waiting for the writer and for data can be cut
    short by SIGTERM; reads wait in poll() and check the stop flag in between."""

    def __init__(self, fd: int, stop: StopSignal | None, description: str) -> None:
        super().__init__()
        self._fd = fd
        self._stop = stop
        self.description = description
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLHUP)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            if self._stop is not None and self._stop.requested:
                raise PipeInterrupted(f"stopped while reading {self.description}")
            # Linux reports no POLLHUP before a writer has connected, so a FIFO whose feeder
            # has not opened it yet just waits here.
            if not self._poll.poll(_POLL_MS):
                continue
            try:
                return os.readv(self._fd, [buffer])
            except BlockingIOError:
                continue  # woken, but the data went elsewhere: poll again
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()

    def __enter__(self) -> BinaryIO:
        # Buffered reads: RecordIO parsing asks for 8-byte headers.
        self._buffered = io.BufferedReader(self, CHUNK)
        return self._buffered  # type: ignore[return-value]

    def __exit__(self, *exc) -> None:
        self._buffered.close()


def group_attributes(records: Iterable[bytes], attributes: int, source: str) -> Iterator[Example]:
    """Augmented-manifest records -> lines of `attributes` records. The first attribute must be
    an image; a stream of .rec files wrapped once more, or a line cut short, is a ClientError."""
    pending: list[bytes] = []
    number = 0
    for payload in records:
        if not pending:
            if payload[:4] == RECORDIO_MAGIC.to_bytes(4, "little"):
                raise ClientError(
                    f"{source} holds RecordIO files wrapped in RecordIO records: set RecordWrapperType to "
                    f"None for .rec data (RecordIO wrapping is for augmented manifests)")
            if not payload.startswith(_IMAGE_SIGNATURES):
                raise ClientError(
                    f"{source}: line {number} does not start with an image ({payload[:24]!r}); the "
                    f"augmented manifest's AttributeNames must list the image attribute (e.g. source-ref) "
                    f"first, then the label")
        pending.append(payload)
        if len(pending) == attributes:
            yield Example(number, tuple(pending))
            pending, number = [], number + 1
    if pending:
        raise ClientError(
            f"{source} ended in the middle of line {number}: every line needs {attributes} attributes "
            f"(AttributeNames: the image, then the label)")
