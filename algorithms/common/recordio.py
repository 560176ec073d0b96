"""RecordIO: pack images + .lst into .rec/.idx once, and scan .rec files (index + validation).

Images are stored as their original encoded bytes (no re-encoding), so packing costs one read
per image and the C++ record iterator decodes them with its threads at training time.
"""
from __future__ import annotations

import io
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import mxnet as mx
import numpy as np
from PIL import Image
from tqdm import tqdm

from container.errors import ClientError
from container.logs import get_logger

RECORDIO_MAGIC = 0xCED7230A


@dataclass(frozen=True)
class ListEntry:
    index: int
    label: tuple[float, ...]
    path: str


def read_lst(path: Path) -> list[ListEntry]:
    """`<index>\t<label columns…>\t<relative path>` per line (single-, multi-label, detection)."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) < 3:
            raise ClientError(
                f"{path.name} line {number}: expected '<index>\\t<label>\\t<path>' separated by tabs, "
                f"got {line!r}")
        try:
            index = int(float(cols[0]))
            label = tuple(float(c) for c in cols[1:-1])
        except ValueError:
            raise ClientError(f"{path.name} line {number}: index and labels must be numbers: {line!r}") from None
        entries.append(ListEntry(index, label, cols[-1].strip()))
    if not entries:
        raise ClientError(f"{path.name} lists no images")
    return entries


def listed_image(image_root: Path, entry: ListEntry, lst_name: str) -> Path:
    """The file a list entry names, inside the channel folder `image_root`, or a ClientError.

    Resolved on the real file system, so neither `..`, an absolute path, nor a symbolic link in
    the channel can make the algorithm read a file from outside the channel.
    """
    root = image_root.resolve()
    image = (root / entry.path).resolve()
    if root not in image.parents:
        raise ClientError(
            f"{lst_name} lists {entry.path!r}, which is outside the channel: paths in a .lst file must be "
            f"relative to the channel folder and stay inside it (no '..', no absolute paths, no links out)")
    if not image.is_file():
        raise ClientError(f"{lst_name} lists {entry.path!r}, which is not in the channel")
    return image


def pack_lst(entries: list[ListEntry], image_root: Path, rec_path: Path, lst_name: str) -> Path:
    """Write `rec_path` (+ .idx) from listed images; every listed file must exist inside `image_root`."""
    log = get_logger()
    log.info("Creating record files for %s", lst_name)
    rec_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_rec, tmp_idx = rec_path.with_suffix(".rec.tmp"), rec_path.with_suffix(".idx.tmp")
    writer = mx.recordio.MXIndexedRecordIO(str(tmp_idx), str(tmp_rec), "w")
    try:
        for pos, entry in enumerate(tqdm(entries, desc=f"packing {lst_name}", unit="img",
                                         mininterval=5, disable=len(entries) < 1000)):
            image = listed_image(image_root, entry, lst_name)
            label = entry.label[0] if len(entry.label) == 1 else np.asarray(entry.label, dtype=np.float32)
            flag = 0 if len(entry.label) == 1 else len(entry.label)
            header = mx.recordio.IRHeader(flag, label, entry.index, 0)
            writer.write_idx(pos, mx.recordio.pack(header, image.read_bytes()))
    finally:
        writer.close()
    tmp_rec.rename(rec_path)
    tmp_idx.rename(rec_path.with_suffix(".idx"))
    log.info("Done creating record files...")
    return rec_path


@dataclass(frozen=True)
class Record:
    offset: int
    label: np.ndarray
    image: bytes


def read_payloads(handle: BinaryIO, source: str) -> Iterator[tuple[int, bytes]]:
    """(byte offset, payload) of every record read from a file or a stream (a Pipe-mode FIFO);
    multi-part records are joined. Corrupt framing is a ClientError naming `source`
    ("file x.rec", "stream train_0 of channel 'train'")."""
    offset = 0
    while True:
        start = offset
        head = handle.read(8)
        if not head:
            return
        payload = b""
        while True:  # a record is one part (flag 0) or parts flagged 1, 2..., 3
            if len(head) < 8:
                raise ClientError(f"Corrupt RecordIO {source}: truncated record at byte {start}")
            magic, lrec = struct.unpack("<II", head)
            if magic != RECORDIO_MAGIC:
                raise ClientError(f"Corrupt RecordIO {source}: bad magic number at byte {offset}")
            cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
            part = handle.read(length)
            padding = (4 - length % 4) % 4
            if len(part) < length or len(handle.read(padding)) < padding:
                raise ClientError(f"Corrupt RecordIO {source}: truncated record at byte {start}")
            offset += 8 + length + padding
            payload += part
            if cflag in (0, 3):
                break
            payload += struct.pack("<I", RECORDIO_MAGIC)  # the writer split the payload at a magic word
            head = handle.read(8)
        yield start, payload


def iter_records(path: Path) -> Iterator[Record]:
    """Every record of a .rec file with its byte offset; corrupt framing is a ClientError."""
    with open(path, "rb") as handle:
        for offset, payload in read_payloads(handle, f"file {path.name}"):
            try:
                header, image = mx.recordio.unpack(payload)
            except Exception as exc:  # noqa: BLE001 - any unpack failure is a corrupt record
                raise ClientError(f"Corrupt RecordIO file {path.name}: unreadable record at byte {offset}") from exc
            label = np.atleast_1d(np.asarray(header.label, dtype=np.float32))
            yield Record(offset, label, image)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the encoded image's header, without decoding; None if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - PIL raises many types for bad data
        return None


def write_index(path: Path, offsets: list[int]) -> Path:
    idx = path.with_suffix(".idx")
    tmp = idx.with_suffix(".idx.tmp")
    tmp.write_text("".join(f"{i}\t{off}\n" for i, off in enumerate(offsets)))
    tmp.rename(idx)
    return idx


def channel_recordio(directory: Path, channel: str, work: Path) -> Path:
    """The channel's .rec files as one file. Several files are concatenated into `work`
    (RecordIO is a stream of self-delimited records); one file is used in place."""
    get_logger().info("Searching for .rec files in %s.", directory)
    files = sorted(p for p in directory.rglob("*.rec") if p.is_file())
    if not files:
        raise ClientError(f"No .rec file found in channel '{channel}'")
    if len(files) == 1:
        return files[0]
    work.mkdir(parents=True, exist_ok=True)
    merged = work / f"{channel}-merged.rec"
    with open(merged, "wb") as out:
        for path in files:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out)
    return merged
