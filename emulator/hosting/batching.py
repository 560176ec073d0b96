"""Batch transform's records: one input object -> request bodies -> one `.out` object.

SplitType says what a record is: None, the whole object; Line, one line (without its newline;
empty lines are not records); RecordIO, one MXNet RecordIO record. BatchStrategy says how many
go in a request: SingleRecord, one (a RecordIO record without its header and padding, as
SageMaker removes padding only then); MultiRecord, as many whole records as fit in
MaxPayloadInMB (lines each ending with a newline, RecordIO records framed). A record that alone
exceeds MaxPayloadInMB is an error. AssembleWith=Line writes a newline after each response
that does not end with one; None writes the responses back to back.
"""
from __future__ import annotations

from typing import BinaryIO, Iterable, Iterator

from emulator.recordio import encode_record, read_records

MIB = 1024 * 1024
SPLIT_TYPES = ("None", "Line", "RecordIO")
STRATEGIES = ("SingleRecord", "MultiRecord")


class BatchError(Exception):
    """An object that cannot be cut into requests; the message says which record and why."""


def records(stream: BinaryIO, split_type: str, limit: int) -> Iterator[bytes]:
    if split_type == "None":
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise BatchError(f"the object is larger than MaxPayloadInMB ({limit // MIB} MB); with SplitType None "
                             f"each object is sent whole in one request")
        yield data
    elif split_type == "Line":
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line:
                yield line
    elif split_type == "RecordIO":
        try:
            yield from read_records(stream)
        except ValueError as exc:
            raise BatchError(f"the object is not MXNet RecordIO data: {exc}") from None
    else:
        raise BatchError(f"SplitType {split_type} is not supported (use None, Line or RecordIO)")


def _framed(record: bytes, split_type: str) -> bytes:
    if split_type == "Line":
        return record + b"\n"
    if split_type == "RecordIO":
        return encode_record(record)
    return record


def payloads(items: Iterable[bytes], split_type: str, strategy: str, limit: int) -> Iterator[bytes]:
    """The request bodies for an object's records, in order."""
    batch: list[bytes] = []
    size = 0
    for number, record in enumerate(items, 1):
        body = record if strategy == "SingleRecord" else _framed(record, split_type)
        if len(body) > limit:
            raise BatchError(f"record {number} ({len(body)} bytes) is larger than MaxPayloadInMB ({limit // MIB} MB)")
        if strategy == "SingleRecord":
            yield body
            continue
        if batch and size + len(body) > limit:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(body)
        size += len(body)
    if batch:
        yield b"".join(batch)


class Assembler:
    """Writes an object's responses, in order, as its `.out`."""

    def __init__(self, out: BinaryIO, assemble_with: str) -> None:
        self.out = out
        self.lines = assemble_with == "Line"

    def add(self, response: bytes) -> None:
        self.out.write(response)
        if self.lines and not response.endswith(b"\n"):
            self.out.write(b"\n")
