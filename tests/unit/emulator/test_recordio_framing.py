import io

import pytest

from emulator.recordio import MAGIC, encode_record, read_records

MAGIC_BYTES = MAGIC.to_bytes(4, "little")
PAYLOADS = [b"abc", b"", b"12345678", MAGIC_BYTES + b"hello" + MAGIC_BYTES * 2 + b"1234" + MAGIC_BYTES,
            b"12" + MAGIC_BYTES]


def test_records_are_padded_to_four_bytes():
    encoded = encode_record(b"abcde")
    assert encoded[:4] == MAGIC_BYTES and int.from_bytes(encoded[4:8], "little") == 5
    assert len(encoded) == 8 + 8 and encoded.endswith(b"\0\0\0")


def test_round_trip_including_embedded_magic():
    stream = io.BytesIO(b"".join(encode_record(p) for p in PAYLOADS))
    assert list(read_records(stream)) == PAYLOADS


def test_byte_identical_to_mxnet_writer(tmp_path):
    mx = pytest.importorskip("mxnet")
    path = tmp_path / "ref.rec"
    writer = mx.recordio.MXRecordIO(str(path), "w")
    for payload in PAYLOADS:
        writer.write(payload)
    writer.close()
    assert path.read_bytes() == b"".join(encode_record(p) for p in PAYLOADS)
