"""Safe tarball extraction: whatever an archive holds, nothing is written outside the target.

Every tarball the project extracts goes through `safe_extract`. It does the extraction itself,
member by member, instead of trusting `tarfile.extractall`: the extraction `filter` is missing
from Debian's Python 3.11.2 in the image (and from every Python before 3.8.17/3.11.4), and even
where it exists it checks names, not the file system as the archive changes it. The same code
therefore runs identically on Python 3.8 to 3.13.

- The archive is read as one stream (`r|*`): a gzip bomb is refused when its header announces a
  member too large for the limits, before it is decompressed.
- Members land in a fresh folder beside the target, renamed onto the target only when every
  member was accepted; on any failure that folder is removed, so nothing is left behind.
- Names must be relative, without `..`, backslashes or NUL. Each folder on a member's way is
  opened with O_NOFOLLOW relative to its parent's descriptor, so no member is ever written
  through a symbolic link, not even one the archive itself created.
- A regular file is created with O_CREAT|O_EXCL|O_NOFOLLOW after removing whatever had its name,
  so no member writes into an existing inode (such as a hard link made by an earlier member).
- Symbolic and hard links must resolve, on the real file system as it is at that moment (links
  made by earlier members included), inside the extraction folder; absolute targets are refused.
  Symbolic links are checked again at the end, when every link they may pass through exists.
- Devices, FIFOs and other special members are refused.
- Permissions never widen: at most rwxr-xr-x, no setuid/setgid/sticky bit, no group or world
  write, the process's umask applies, and owners are never taken from the archive.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from container.environment import positive_int
from container.errors import ClientError

GIB = 1 << 30
MIB = 1 << 20
DEFAULT_MAX_MEMBERS = 10_000
# A model's float32 weights barely compress (ratio ~1.1), so an archive that expands much more is
# a bomb; small archives may always expand to EXPANSION_FLOOR.
DEFAULT_MAX_EXPANSION = 100
EXPANSION_FLOOR = GIB
MEMBERS_ENV = "SMLOCAL_ARCHIVE_MAX_MEMBERS"
EXPANSION_ENV = "SMLOCAL_ARCHIVE_MAX_EXPANSION"
# PAX and GNU long-name headers are read into memory whole; real ones are a few hundred bytes.
MAX_EXTENDED_HEADER = 64 * 1024
_EXTENDED_HEADERS = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                     tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_CHUNK = MIB
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MODE_MASK = 0o755  # drops setuid/setgid/sticky and group/world write


@dataclass(frozen=True)
class ArchiveLimits:
    """What one extraction may write. `bytes_reason` says where `max_bytes` comes from and how to
    change it, for the error message."""
    max_bytes: int
    bytes_reason: str
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclass(frozen=True)
class Budget:
    """One bound on the extracted bytes and what sets it."""
    max_bytes: int
    reason: str


def archive_limits(archive: Path, target: Path, budgets: tuple[Budget, ...] = (),
                   environ: Mapping[str, str] | None = None) -> ArchiveLimits:
    """The tightest of `budgets` (e.g. the job's volume), the free space where `target` will be
    and DEFAULT_MAX_EXPANSION times the archive's size (at least EXPANSION_FLOOR)."""
    env = os.environ if environ is None else environ
    expansion = positive_int(env, EXPANSION_ENV, DEFAULT_MAX_EXPANSION)
    members = positive_int(env, MEMBERS_ENV, DEFAULT_MAX_MEMBERS)
    size = archive.stat().st_size
    parent = _existing_parent(target)
    candidates = list(budgets) + [
        Budget(shutil.disk_usage(parent).free, f"the free space on the file system of {parent}"),
        Budget(max(expansion * size, EXPANSION_FLOOR),
               f"{expansion} times the archive's {human_size(size)} (at least {human_size(EXPANSION_FLOOR)}); "
               f"{EXPANSION_ENV} sets the factor"),
    ]
    tightest = min(candidates, key=lambda b: b.max_bytes)
    return ArchiveLimits(max(tightest.max_bytes, 0), tightest.reason, members)


def safe_extract(archive: Path, target: Path, limits: ArchiveLimits | None = None) -> Path:
    """Extract the tarball `archive` (plain, gzip, bzip2 or xz) into `target`, which must not
    exist or be empty; returns the resolved target. Raises ClientError, leaving `target` as it
    was, when a member is unsafe, a limit is exceeded or the archive is damaged."""
    archive, target = Path(archive), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"extraction target {target} exists and is not an empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    limits = limits or archive_limits(archive, target)
    # Beside the target (same file system, so the rename is atomic); mkdir applies the umask.
    staging = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    os.mkdir(staging, 0o755)
    try:
        _Extraction(archive, staging, limits).run()
        if target.exists():
            target.rmdir()
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target.resolve()


class _Refused(Exception):
    """A member that must not be extracted; the message says why."""


class _Corrupt(Exception):
    """The archive cannot be read to its end."""


class _TarInfo(tarfile.TarInfo):
    """Refuses oversized extended headers before tarfile reads them into memory.
    `_proc_member` is private but unchanged from Python 3.8 to 3.13, where tests run it."""

    def _proc_member(self, tarfile_):
        if self.type in _EXTENDED_HEADERS and self.size > MAX_EXTENDED_HEADER:
            raise _Refused(f"has an extended header of {human_size(self.size)} "
                           f"(at most {human_size(MAX_EXTENDED_HEADER)} allowed)")
        return super()._proc_member(tarfile_)


class _Extraction:
    def __init__(self, archive: Path, root: Path, limits: ArchiveLimits) -> None:
        self.archive, self.limits = archive, limits
        self.root = os.path.realpath(root)
        self.members = 0
        self.written = 0

    def run(self) -> None:
        name = self.archive.name
        self.current: str | None = None
        try:
            root_fd = os.open(self.root, _DIR_FLAGS)
            try:
                with _reading(), tarfile.open(self.archive, "r|*", tarinfo=_TarInfo) as tar:
                    while True:
                        self.current = None
                        member = tar.next()
                        if member is None:
                            break
                        self.current = member.name
                        self._count(member)
                        self._extract(tar, member, root_fd)
                self._check_symlinks()
            finally:
                os.close(root_fd)
        except _Refused as exc:
            where = f"member {_show(self.current)} " if self.current is not None else ""
            raise ClientError(
                f"Unsafe archive {name}: {where}{exc}. Archives may only hold regular files, folders "
                f"and links that stay inside the extraction folder") from None
        except _Corrupt as exc:
            raise ClientError(
                f"Cannot read archive {name}: {exc}; expected a complete tar archive (.tar, or .tar.gz/"
                f".tgz as SageMaker writes model.tar.gz)") from None

    def _count(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ClientError(
                f"Archive {self.archive.name} has more than {self.limits.max_members} members, the limit "
                f"for one extraction; {MEMBERS_ENV} sets it")
        total = self.written + member.size if member.isreg() else 0
        if total > self.limits.max_bytes:
            raise ClientError(
                f"Archive {self.archive.name} expands to more than {human_size(self.limits.max_bytes)}, the "
                f"limit set by {self.limits.bytes_reason}: member {_show(member.name)} "
                f"({human_size(member.size)}) would bring it to {human_size(total)}")

    def _extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo, root_fd: int) -> None:
        parts = _parts(member.name)
        if not parts:
            if member.isdir():
                return  # "." or "./": the extraction folder itself
            raise _Refused("has an empty name")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise _Refused("is a device, FIFO or other special file")
        parent_fd = _open_folder(root_fd, parts[:-1])
        try:
            leaf = parts[-1]
            where = os.path.join(self.root, *parts[:-1])  # a real path: no component is a link
            if member.isdir():
                os.close(_open_folder(parent_fd, [leaf], mode=(member.mode & _MODE_MASK) | 0o700))
                return
            _remove_non_folder(parent_fd, leaf)
            if member.isreg():
                self._write(tar, member, parent_fd, leaf)
            elif member.issym():
                self._inside(os.path.join(where, _link_name(member.linkname)), member.linkname)
                os.symlink(member.linkname, leaf, dir_fd=parent_fd)
            else:  # hard link: linkname is a member name, relative to the archive's root
                source = self._inside(os.path.join(self.root, _link_name(member.linkname)), member.linkname)
                if not os.path.isfile(source) or os.path.islink(source):
                    raise _Refused(f"is a hard link to {_show(member.linkname)}, which is not a file extracted before it")
                os.link(source, leaf, dst_dir_fd=parent_fd, follow_symlinks=False)
        finally:
            os.close(parent_fd)

    def _write(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent_fd: int, leaf: str) -> None:
        fd = os.open(leaf, _FILE_FLAGS, (member.mode & _MODE_MASK) | 0o400, dir_fd=parent_fd)
        with open(fd, "wb") as out, _reading():
            source = tar.extractfile(member)
            remaining = member.size
            while remaining:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise _Corrupt(f"member {_show(member.name)} ends early (truncated archive)")
                out.write(chunk)
                remaining -= len(chunk)
                self.written += len(chunk)

    def _inside(self, path: str, shown: str) -> str:
        """The real path `path` resolves to, which must be the extraction folder or below it."""
        resolved = os.path.realpath(path)
        if resolved != self.root and not resolved.startswith(self.root + os.sep):
            raise _Refused(f"links to {_show(shown)}, which resolves outside the extraction folder")
        return resolved

    def _check_symlinks(self) -> None:
        # A link checked when it was made may pass through a link made after it: check them all again.
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    try:
                        self._inside(path, os.readlink(path))
                    except _Refused as exc:
                        relative = os.path.relpath(path, self.root)
                        raise _Refused(f"the link {_show(relative)} {exc}, through links made after it") from None


class _reading:
    """Turns the ways a damaged or truncated archive fails into _Corrupt."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, (_Refused, _Corrupt, ClientError)):
            return False
        if isinstance(exc, (tarfile.TarError, EOFError, zlib.error)):
            raise _Corrupt(str(exc) or kind.__name__) from None
        if isinstance(exc, OSError) and exc.errno is None:  # decoder errors, e.g. gzip.BadGzipFile
            raise _Corrupt(str(exc) or kind.__name__) from None
        return False


def _parts(name: str) -> list[str]:
    if "\x00" in name or "\\" in name:
        raise _Refused("has a NUL or backslash in its name (only '/' separates folders)")
    if name.startswith("/"):
        raise _Refused("has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused("has '..' in its path")
    return parts


def _link_name(linkname: str) -> str:
    if not linkname or "\x00" in linkname or "\\" in linkname:
        raise _Refused(f"links to {_show(linkname)}: empty, or with a NUL or backslash")
    if linkname.startswith("/"):
        raise _Refused(f"links to the absolute path {_show(linkname)}")
    return linkname


def _open_folder(start_fd: int, parts: list[str], mode: int = 0o755) -> int:
    """Descend (creating as needed) through real folders only; returns the last one's descriptor."""
    fd = os.dup(start_fd)
    for i, part in enumerate(parts):
        try:
            os.mkdir(part, mode, dir_fd=fd)
        except FileExistsError:
            pass
        try:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _Refused(f"passes through {_show('/'.join(parts[:i + 1]))}, which is a link or a file, "
                               f"not a folder") from None
            raise
        os.close(fd)
        fd = child
    return fd


def _remove_non_folder(parent_fd: int, leaf: str) -> None:
    """A later member replaces an earlier one of the same name (as tar does), but never a folder."""
    try:
        st = os.stat(leaf, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise _Refused("would replace a folder of the same name")
    os.unlink(leaf, dir_fd=parent_fd)


def _existing_parent(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def _show(name: str, limit: int = 80) -> str:
    """A member or link name as the archive spells it, cut short: archives choose their names."""
    return repr(name) if len(name) <= limit else repr(name[:limit]) + f"... ({len(name)} characters)"


def human_size(n: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
