"""MXNet RecordIO framing, for channels with RecordWrapperType=RecordIO.

A record is: magic 0xCED7230A (little endian), a length word whose low 29 bits are the payload
length and top 3 bits a continuation flag, the payload, zero padding to 4 bytes. Like MXNet's
writer, a payload containing the magic word at a 4-byte aligned offset is split there into
parts (flag 1 = first, 2 = middle, 3 = last; 0 = whole record) so readers can resynchronise;
MXNet's reader puts the magic back when it joins the parts.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
MAX_LENGTH = (1 << 29) - 1


def _header(flag: int, length: int) -> bytes:
    return _MAGIC_BYTES + struct.pack("<I", (flag << 29) | length)


def encode_record(payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"A RecordIO record holds at most {MAX_LENGTH} bytes, got {len(payload)}")
    parts = []
    start = 0
    for offset in range(0, len(payload) - len(payload) % 4, 4):
        if payload[offset:offset + 4] == _MAGIC_BYTES:
            parts.append(_header(1 if start == 0 else 2, offset - start) + payload[start:offset])
            start = offset + 4
    parts.append(_header(3 if start else 0, len(payload) - start) + payload[start:])
    parts.append(b"\0" * (-len(payload) % 4))
    return b"".join(parts)


def read_records(stream: BinaryIO) -> Iterator[bytes]:
    """Inverse of encode_record (used by tests and tools)."""
    pending: list[bytes] = []
    while True:
        head = stream.read(8)
        if not head:
            return
        if len(head) < 8 or head[:4] != _MAGIC_BYTES:
            raise ValueError("Invalid RecordIO stream: bad magic or truncated header")
        word = struct.unpack("<I", head[4:])[0]
        flag, length = word >> 29, word & MAX_LENGTH
        data = stream.read(length)
        # Only whole records and last parts are padded: earlier parts end at aligned offsets.
        if flag == 0:
            stream.read(-length % 4)
            yield data
        elif flag == 1:
            pending = [data]
        elif flag == 2:
            pending.append(data)
        else:
            pending.append(data)
            stream.read(-length % 4)
            yield _MAGIC_BYTES.join(pending)
            pending = []
