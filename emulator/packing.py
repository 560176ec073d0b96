"""model.tar.gz and output.tar.gz: every host's /opt/ml/model (resp. output/data) in one tarball.

Hosts are merged in order (algo-1 first); when two hosts write the same file name the first
host's file is kept. Only regular files and folders are packed (no links, FIFOs or devices), and
only complete ones: the algorithm writes each artifact as `<name>.tmp` (or inside a `*.tmp`
folder) and renames it when done, so whatever still has a `.tmp` name was cut short by a kill and
is left out.
The tarball appears at its destination in one step: a temporary file renamed in place locally,
or an S3 upload that only becomes visible when it completes.
"""
from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from tqdm import tqdm

from emulator.storage import Storage, is_s3, local_path

# Model weights barely compress (45 MB of ResNet-18 float32 params: 41.7 MB at level 1, 41.5 MB at
# level 6) while level 6 takes ~40 % longer; waiting for the tarball is a known pain, so favour speed.
COMPRESS_LEVEL = 1


PARTIAL_SUFFIX = ".tmp"


def is_partial(name: str) -> bool:
    """A file or folder the algorithm had not finished writing (see the module doc)."""
    return name.endswith(PARTIAL_SUFFIX)


def _entries(roots: list[Path]) -> list[tuple[Path, str]]:
    seen: set[str] = set()
    entries = []
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not is_partial(d))
            for name in dirnames + sorted(f for f in filenames if not is_partial(f)):
                path = Path(dirpath) / name
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    continue
                arcname = path.relative_to(root).as_posix()
                if arcname not in seen:
                    seen.add(arcname)
                    entries.append((path, arcname))
    return entries


def write_tarball(roots: list[Path], target: Path) -> int:
    """Write a gzip tarball of the merged roots to `target`; returns the number of files packed."""
    files = 0
    with tarfile.open(target, "w:gz", compresslevel=COMPRESS_LEVEL, format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in _entries(roots):
            info = tar.gettarinfo(str(path), arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if info.isreg():
                with open(path, "rb") as stream:
                    tar.addfile(info, stream)
                files += 1
            else:
                tar.addfile(info)
    return files


def pack_and_store(roots: list[Path], destination: str, storage: Storage, scratch: Path,
                   desc: str | None = None) -> int:
    """Pack `roots` into the tarball `destination` (local path/file:// URI or s3://)."""
    if not is_s3(destination):
        target = local_path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            files = write_tarball(roots, Path(tmp))
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return files
    scratch.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pack-", suffix=".tar.gz", dir=scratch)
    os.close(fd)
    try:
        files = write_tarball(roots, Path(tmp))
        size = Path(tmp).stat().st_size
        with tqdm(total=size, unit="B", unit_scale=True, desc=desc or f"Uploading {destination.rsplit('/', 1)[-1]}",
                  disable=None, leave=False) as bar:
            storage.upload(Path(tmp), destination, bar.update)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return files
