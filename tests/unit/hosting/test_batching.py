"""Batch transform records: what each SplitType cuts, how BatchStrategy packs them, how outputs assemble."""
import io

import pytest

from emulator.hosting.batching import Assembler, BatchError, payloads, records
from emulator.hosting.transform import settle
from emulator.recordio import encode_record, read_records


def cut(data: bytes, split: str, strategy: str, limit: int = 100) -> list[bytes]:
    return list(payloads(records(io.BytesIO(data), split, limit), split, strategy, limit))


def test_split_none_sends_the_whole_object_once():
    assert cut(b"a\nb\n", "None", "MultiRecord") == [b"a\nb\n"]
    with pytest.raises(BatchError, match="larger than MaxPayloadInMB"):
        cut(b"x" * 101, "None", "SingleRecord")


def test_lines_single_record_drops_newlines_and_empty_lines():
    assert cut(b"one\r\ntwo\n\nthree", "Line", "SingleRecord") == [b"one", b"two", b"three"]


def test_lines_multi_record_packs_whole_lines_up_to_the_limit():
    data = b"".join(b"%02d-456789\n" % i for i in range(20))  # 20 lines of 10 bytes
    batches = cut(data, "Line", "MultiRecord", limit=35)
    assert [len(b) for b in batches] == [30] * 6 + [20]
    assert b"".join(batches) == data


def test_a_record_over_the_limit_is_named():
    with pytest.raises(BatchError, match="record 2 .* is larger than MaxPayloadInMB"):
        cut(b"short\n" + b"y" * 200 + b"\n", "Line", "MultiRecord")


def test_recordio_single_record_sends_payloads_multi_record_keeps_the_framing():
    data = encode_record(b"abc") + encode_record(b"defgh")
    assert cut(data, "RecordIO", "SingleRecord") == [b"abc", b"defgh"]
    multi = cut(data, "RecordIO", "MultiRecord")
    assert multi == [data] and list(read_records(io.BytesIO(multi[0]))) == [b"abc", b"defgh"]
    with pytest.raises(BatchError, match="not MXNet RecordIO"):
        cut(b"plain text here", "RecordIO", "SingleRecord")


def test_assemble_with_line_ends_each_response_with_one_newline():
    out = io.BytesIO()
    assembler = Assembler(out, "Line")
    for response in (b'{"a": 1}', b"done\n"):
        assembler.add(response)
    assert out.getvalue() == b'{"a": 1}\ndone\n'
    out = io.BytesIO()
    Assembler(out, "None").add(b"x")
    assert out.getvalue() == b"x"


def test_settings_come_from_the_request_then_the_container_then_the_defaults():
    assert settle({}, None).log_line().endswith("MaxConcurrentTransforms=1, MaxPayloadInMB=6, "
                                                "BatchStrategy=MULTI_RECORD")
    container = {"MaxConcurrentTransforms": 4, "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 6}
    assert settle({}, container).concurrency == 4 and settle({}, container).strategy == "SingleRecord"
    assert settle({"MaxConcurrentTransforms": 2, "BatchStrategy": "MultiRecord"}, container).concurrency == 2
    assert settle({}, {"BatchStrategy": "MULTI_RECORD"}).strategy == "MultiRecord"  # MMS spells it so
    assert settle({}, {"MaxConcurrentTransforms": "nonsense"}).concurrency == 1
