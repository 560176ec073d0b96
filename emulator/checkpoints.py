"""CheckpointConfig: S3Uri <-> each host's LocalPath, both ways.

At the start every object under S3Uri is copied into each host's checkpoint folder. While the
job runs the folders are scanned every few seconds; a file is uploaded once it has stopped
changing between two scans (so a checkpoint being written is never uploaded half-done), and a
file the algorithm deleted is deleted under S3Uri too. At the end everything changed is
uploaded regardless. A stopped job's successor with the same S3Uri therefore starts with the
stopped job's last checkpoints. Files still named `*.tmp` (or inside a `*.tmp` folder) are never
uploaded: the algorithm renames each checkpoint file when it is complete, so those are partial,
from a write in progress or cut short by a kill.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from emulator.packing import is_partial
from emulator.storage import ObjectInfo, Storage, StorageError, contained_relative, join

Signature = tuple[int, int]  # (size, mtime_ns)


def _scan(folder: Path) -> dict[str, Signature]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not is_partial(d)]
        for name in filenames:
            if is_partial(name):
                continue
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except FileNotFoundError:
                continue  # deleted while scanning
            if path.is_file():
                found[path.relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


class CheckpointSync:
    def __init__(self, storage: Storage, uri: str, folders: list[Path], interval_seconds: float = 2.0,
                 log: Callable[[str], None] | None = None) -> None:
        self.storage = storage
        self.uri = uri
        self.folders = folders
        self.interval = interval_seconds
        self.log = log or (lambda message: None)
        self._synced: dict[Path, dict[str, Signature]] = {f: {} for f in folders}   # what S3Uri holds
        self._previous: dict[Path, dict[str, Signature]] = {f: {} for f in folders}  # last scan
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.uploaded = 0

    def download(self) -> int:
        """Copy what S3Uri holds into every host's folder; returns the number of files per host."""
        remote = self.storage.list_tree(self.uri)
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            items = []
            for rel, info in remote.items():
                placed = contained_relative(rel)
                if placed is None:  # a key such as "ckpt/../../x" must not write outside the folder
                    raise StorageError(f"Checkpoint object '{info.uri}' cannot be placed inside the checkpoint "
                                       f"folder (absolute path or '..')")
                items.append((ObjectInfo(info.uri, placed, info.size), folder / placed))
            self.storage.download(items, lambda n: None, allow_links=False)
            self._synced[folder] = _scan(folder)
            self._previous[folder] = dict(self._synced[folder])
        return len(remote)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkpoint-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync(final=False)
            except Exception as exc:  # noqa: BLE001 - keep training; the final sync reports again
                self.log(f"Checkpoint upload to {self.uri} failed (will retry): {exc}")

    def sync(self, final: bool) -> None:
        with self._lock:
            for folder in self.folders:
                current = _scan(folder)
                synced = self._synced[folder]
                for rel, signature in current.items():
                    stable = final or self._previous[folder].get(rel) == signature
                    if synced.get(rel) != signature and stable:
                        self.storage.upload(folder / rel, join(self.uri, rel))
                        synced[rel] = signature
                        self.uploaded += 1
                for rel in [rel for rel in synced if rel not in current]:
                    self.storage.delete(join(self.uri, rel))
                    del synced[rel]
                self._previous[folder] = current

    def stop(self) -> None:
        """Stop scanning and upload whatever changed since the last scan."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sync(final=True)
