"""Safe tarball extraction: nothing may land outside the target directory."""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

from container.errors import ClientError


def _check_member(member: tarfile.TarInfo, target: Path, archive: Path) -> None:
    name = member.name
    where = f"{archive.name}: member {name!r}"
    if name.startswith("/") or os.path.isabs(name):
        raise ClientError(f"Unsafe archive {where} has an absolute path")
    resolved = (target / name).resolve()
    if resolved != target and target not in resolved.parents:
        raise ClientError(f"Unsafe archive {where} points outside the extraction directory")
    if member.isdev() or member.isfifo():
        raise ClientError(f"Unsafe archive {where} is a device or FIFO")
    if member.issym() or member.islnk():
        link = member.linkname
        base = resolved.parent if member.issym() else target
        dest = (base / link).resolve() if not os.path.isabs(link) else Path(link).resolve()
        if os.path.isabs(link) or (dest != target and target not in dest.parents):
            raise ClientError(f"Unsafe archive {where} links outside the extraction directory ({link!r})")


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a (gzipped) tarball into `target`, rejecting absolute paths, `..`, escaping links
    and device files before anything is written."""
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, target, archive)
            # Every member was checked above; the stdlib filter (Python >= 3.11.4; the image's Debian
            # Python is 3.11.2) is a second line of defence where it exists.
            extra = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
            tar.extractall(target, members=members, **extra)
    except tarfile.TarError as exc:
        raise ClientError(f"Cannot read archive {archive.name}: {exc}") from exc
    return target
