"""Pipe input mode: FIFOs `<channel>_<epoch>` in the channel folder, fed while the algorithm reads.

For each (host, Pipe channel) one thread creates `<channel>_0`, waits for a reader to open it,
streams the host's objects through it (gunzipped for CompressionType=Gzip, each object or each
augmented-manifest attribute wrapped as one RecordIO record for RecordWrapperType=RecordIO),
closes it so the reader sees end-of-file, removes it and creates `<channel>_1`, and so on until
the job ends. A reader that closes a FIFO early simply moves the feeder on to the next epoch.
"""
from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from container.contract import MLPaths
from emulator.channels import ChannelSource
from emulator.recordio import encode_record
from emulator.spec import path_segment
from emulator.storage import Storage

CHUNK = 1024 * 1024


def fifo_path(host_base: Path, channel: str, epoch: int) -> Path:
    return MLPaths(host_base).pipe(path_segment(channel, "Channel name"), epoch)


def create_fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    os.mkfifo(path, 0o666)


class PipeFeeder(threading.Thread):
    def __init__(self, source: ChannelSource, storage: Storage, host_base: Path, host_index: int,
                 host_count: int, stop: threading.Event, on_error=None) -> None:
        super().__init__(name=f"pipe-{source.channel.name}-{host_index + 1}", daemon=True)
        self.source = source
        self.storage = storage
        self.host_base = host_base
        self.host_index = host_index
        self.host_count = host_count
        self.stop_event = stop
        self.on_error = on_error
        self.epochs_delivered = 0

    @property
    def channel(self) -> str:
        return self.source.channel.name

    def run(self) -> None:
        epoch = 0
        try:
            while not self.stop_event.is_set():
                path = fifo_path(self.host_base, self.channel, epoch)
                if not path.exists():
                    create_fifo(path)
                fd = self._open_for_writing(path)
                if fd is None:
                    return
                try:
                    with os.fdopen(fd, "wb", buffering=0) as pipe:
                        self._feed(pipe, epoch)
                    self.epochs_delivered += 1
                except BrokenPipeError:
                    pass  # the reader closed the FIFO early: that epoch is over for it
                path.unlink(missing_ok=True)
                epoch += 1
        except Exception as exc:  # noqa: BLE001 - reported to the job log, the algorithm sees EOF
            if self.on_error:
                self.on_error(f"Pipe mode feeder for channel '{self.channel}' failed: {exc}")

    def _open_for_writing(self, path: Path) -> int | None:
        """Wait for a reader without blocking forever: O_NONBLOCK open fails with ENXIO until one opens."""
        while not self.stop_event.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno in (errno.ENXIO, errno.EINTR):
                    self.stop_event.wait(0.05)
                    continue
                raise
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
            return fd
        return None

    def _feed(self, pipe: BinaryIO, epoch: int) -> None:
        items = self.source.for_host(self.host_index, self.host_count, epoch=epoch)
        wrap = self.source.channel.record_wrapper == "RecordIO"
        for payload in self._payloads(items):
            if self.stop_event.is_set():
                return
            if wrap:
                pipe.write(encode_record(b"".join(payload)))
            else:
                for chunk in payload:
                    pipe.write(chunk)

    def _payloads(self, items) -> Iterator[Iterator[bytes]]:
        if self.source.is_augmented_manifest:
            for line in items:
                for name, value in line.items():
                    if name.endswith("-ref"):
                        yield self._object_chunks(value)
                    else:
                        text = value if isinstance(value, str) else json.dumps(value)
                        yield iter([text.encode("utf-8")])
        else:
            for info in items:
                yield self._object_chunks(info.uri)

    def _object_chunks(self, uri: str) -> Iterator[bytes]:
        with self.storage.open(uri) as raw:
            stream = gzip.GzipFile(fileobj=raw) if self.source.channel.compression == "Gzip" else raw
            while chunk := stream.read(CHUNK):
                yield chunk


def start_feeders(sources: dict[str, ChannelSource], hosts: list[tuple[str, Path]], storage: Storage,
                  stop: threading.Event, on_error=None) -> list[PipeFeeder]:
    feeders = []
    for source in sources.values():
        if not source.channel.is_pipe:
            continue
        for index, (_, base) in enumerate(hosts):
            feeder = PipeFeeder(source, storage, base, index, len(hosts), stop, on_error)
            feeder.start()
            feeders.append(feeder)
    return feeders


def prepare_fifos(sources: dict[str, ChannelSource], hosts: list[tuple[str, Path]]) -> None:
    """Create each Pipe channel's first FIFO before the algorithm starts."""
    for source in sources.values():
        if source.channel.is_pipe:
            for _, base in hosts:
                create_fifo(fifo_path(base, source.channel.name, 0))
