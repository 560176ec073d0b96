"""Put File and FastFile channels on each host's disk: `<host>/input/data/<channel>/<relative path>`.

Local sources are hard-linked where possible (File mode), so staging a big local data set is
instant; FastFile data is copied and then made read-only (the write bits removed, nothing else:
a 0600 source stays owner-only as a 0400 copy), since a hard link would share the permission
bits with the user's own files. An object already staged for an earlier host is hard-linked
from there (File from File, FastFile from FastFile), so FullyReplicated data is fetched once.
Pipe channels are not staged: `emulator.pipe` feeds them while the algorithm reads.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from tqdm import tqdm

from container.contract import MLPaths
from emulator.channels import ChannelSource
from emulator.spec import path_segment
from emulator.storage import ObjectInfo, Storage

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def channel_dir(host_base: Path, channel: str) -> Path:
    return MLPaths(host_base).channel(path_segment(channel, "Channel name"))


def stage_channels(sources: dict[str, ChannelSource], hosts: list[tuple[str, Path]], storage: Storage,
                   progress_desc: str = "Downloading input data", should_stop=lambda: False) -> int:
    """Stage every File/FastFile channel on every host; returns the bytes fetched from storage.

    `should_stop` is asked between channels and hosts, so a stop does not wait for the whole download.
    """
    plan: list[tuple[ChannelSource, str, Path, list[ObjectInfo]]] = []
    for source in sources.values():
        if source.channel.is_pipe:
            continue
        for index, (host, base) in enumerate(hosts):
            target = channel_dir(base, source.channel.name)
            target.mkdir(parents=True, exist_ok=True)
            plan.append((source, host, target, source.for_host(index, len(hosts))))

    total = sum(info.size for *_, items in plan for info in items)
    fetched = 0
    # (object URI, private copy?) -> where it already is on this job's disk. A FastFile copy is
    # never a link to a File channel's link, whose chmod would change the user's own file.
    staged: dict[tuple[str, bool], Path] = {}
    with tqdm(total=total, unit="B", unit_scale=True, desc=progress_desc, disable=None, leave=False) as bar:
        for source, host, target, items in plan:
            if should_stop():
                break
            private = source.channel.input_mode == "FastFile"
            downloads = []
            for info in items:
                dest = target / info.relative
                if (info.uri, private) in staged and _link(staged[info.uri, private], dest):
                    bar.update(info.size)
                else:
                    downloads.append((info, dest))
            # File mode may hard-link the user's own files; FastFile gets private copies (made read-only).
            storage.download(downloads, bar.update, allow_links=not private)
            fetched += sum(info.size for info, _ in downloads)
            for info, dest in downloads:
                staged.setdefault((info.uri, private), dest)
            if private:
                make_read_only(target)
    return fetched


def _link(src: Path, dest: Path) -> bool:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if dest.exists():
            dest.unlink()
        os.link(src, dest)
        return True
    except OSError:
        return False


def _drop_write_bits(path: Path) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) & ~WRITE_BITS)


def make_read_only(root: Path) -> None:
    """Remove the write bits of everything below `root`; read bits stay as they were (never more)."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            _drop_write_bits(Path(dirpath) / name)
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        for name in dirnames:
            _drop_write_bits(Path(dirpath) / name)
    _drop_write_bits(root)


def remove_tree(root: Path) -> None:
    """rmtree that also removes read-only FastFile folders."""
    def make_writable_and_retry(func, path, exc_info):  # noqa: ARG001
        os.chmod(Path(path).parent, stat.S_IRWXU)
        if os.path.isdir(path):
            os.chmod(path, stat.S_IRWXU)
        func(path)

    if root.exists():
        shutil.rmtree(root, onerror=make_writable_and_retry)
