"""Batch transform jobs of the hosting service with real server processes (the fake server upper-cases
what it is sent): splitting, mini-batches, assembly, one `.out` per object, the settings' order of
precedence, a failing object, Gzip input, stop."""
from __future__ import annotations

import gzip
import time

import pytest

from emulator.hosting.logbook import TRANSFORM_GROUP
from emulator.hosting.records import TRANSFORM_JOB
from emulator.recordio import encode_record
from emulator.spec import RequestValidationError
from tests.functional.hosting.conftest import IC_IMAGE, model_tar, wait_status


@pytest.fixture
def upper(hosting, tmp_path):
    service = hosting()
    service.create_model({"ModelName": "upper", "PrimaryContainer": {
        "Image": IC_IMAGE, "ModelDataUrl": model_tar(tmp_path / "m.tar.gz", {"mode": "upper"}).as_uri()}})
    return service


def transform(service, name, source, destination, **members) -> dict:
    request = {"TransformJobName": name, "ModelName": "upper",
               "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                                  **members.pop("input", {})},
               "TransformOutput": {"S3OutputPath": destination, **members.pop("output", {})},
               "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": members.pop("instances", 1)},
               **members}
    service.create_transform_job(request)
    return wait_status(service, TRANSFORM_JOB, name, ("Completed", "Failed", "Stopped"))


def log_lines(service) -> list[str]:
    group = service.ctx.logs.group(TRANSFORM_GROUP)
    return [e.message for s in group.log_streams() for e in group.log_events(s.name)]


def test_lines_are_batched_and_assembled_into_one_out_per_object(upper, tmp_path):
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / "a.csv").write_text("one\ntwo\n\nthree\n")
    (source / "sub" / "b.csv").write_text("four")
    body = transform(upper, "lines", source.as_uri() + "/", (tmp_path / "out").as_uri(),
                     input={"SplitType": "Line"}, output={"AssembleWith": "Line"}, BatchStrategy="SingleRecord")
    assert body["TransformJobStatus"] == "Completed", body.get("FailureReason")
    assert (tmp_path / "out" / "a.csv.out").read_text() == "ONE\nTWO\nTHREE\n"   # one response per line
    assert (tmp_path / "out" / "sub" / "b.csv.out").read_text() == "FOUR\n"
    # The container's /execution-parameters (2 at once, 1 MB) fill in what the request left out.
    assert "[sagemaker logs]: MaxConcurrentTransforms=2, MaxPayloadInMB=1, BatchStrategy=SINGLE_RECORD" \
        in log_lines(upper)
    streams = upper.ctx.logs.group(TRANSFORM_GROUP).log_streams("lines/")
    assert len(streams) == 1 and streams[0].name.startswith("lines/i-")
    assert body["TransformStartTime"] <= body["TransformEndTime"]


def test_multi_record_batches_fill_the_payload_limit(upper, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    line = "x" * 1000
    (source / "big.txt").write_text("\n".join([line] * 2500) + "\n")  # 2.5 MB of 1 kB lines
    body = transform(upper, "multi", source.as_uri(), (tmp_path / "out").as_uri(), input={"SplitType": "Line"},
                     BatchStrategy="MultiRecord", MaxPayloadInMB=1)
    assert body["TransformJobStatus"] == "Completed", body.get("FailureReason")
    # AssembleWith None: the responses back to back; each request held whole lines.
    assert (tmp_path / "out" / "big.txt.out").read_text() == ("X" * 1000 + "\n") * 2500


def test_recordio_records_go_without_their_framing_one_at_a_time(upper, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.rec").write_bytes(encode_record(b"first") + encode_record(b"second record"))
    body = transform(upper, "recordio", source.as_uri(), (tmp_path / "out").as_uri(),
                     input={"SplitType": "RecordIO"}, output={"AssembleWith": "Line"}, BatchStrategy="SingleRecord")
    assert body["TransformJobStatus"] == "Completed", body.get("FailureReason")
    assert (tmp_path / "out" / "data.rec.out").read_bytes() == b"FIRST\nSECOND RECORD\n"


def test_gzip_objects_are_decompressed(upper, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt.gz").write_bytes(gzip.compress(b"zipped"))
    body = transform(upper, "gzip", source.as_uri(), (tmp_path / "out").as_uri(), input={"CompressionType": "Gzip"})
    assert body["TransformJobStatus"] == "Completed", body.get("FailureReason")
    assert (tmp_path / "out" / "a.txt.gz.out").read_bytes() == b"ZIPPED"


def test_a_failing_object_fails_the_job_and_the_others_keep_their_outputs(upper, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for name, text in (("1.txt", "fine"), ("2.txt", "FAIL here"), ("3.txt", "also fine")):
        (source / name).write_text(text)
    body = transform(upper, "partial", source.as_uri(), (tmp_path / "out").as_uri(), instances=2,
                     MaxConcurrentTransforms=2)
    assert body["TransformJobStatus"] == "Failed"
    reason = body["FailureReason"]
    assert reason.startswith("ClientError: 1 of 3 input object(s) could not be transformed")
    assert f"{source}/2.txt: cannot transform a record holding FAIL" in reason
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1.txt.out", "3.txt.out"]
    lines = log_lines(upper)
    assert f"[sagemaker logs]: {source}/2.txt: Bad HTTP status received from algorithm: 400" in lines
    # Two instances, a stream each, the objects dealt out between them.
    assert len(upper.ctx.logs.group(TRANSFORM_GROUP).log_streams("partial/")) == 2


def test_an_object_over_the_payload_limit_is_named(upper, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "huge.bin").write_bytes(b"\0" * (1024 * 1024 + 1))
    body = transform(upper, "huge", source.as_uri(), (tmp_path / "out").as_uri(), MaxPayloadInMB=1)
    assert body["TransformJobStatus"] == "Failed"
    assert "huge.bin: the object is larger than MaxPayloadInMB (1 MB)" in body["FailureReason"]


def test_stop_ends_the_job_stopped(upper, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(200):
        (source / f"{i:03}.txt").write_text("x")
    upper.create_transform_job({
        "TransformJobName": "stopme", "ModelName": "upper",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}}},
        "TransformOutput": {"S3OutputPath": (tmp_path / "out").as_uri()},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    deadline = time.monotonic() + 30
    while not (tmp_path / "out").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    upper.stop_transform_job("stopme")
    body = wait_status(upper, TRANSFORM_JOB, "stopme", ("Completed", "Failed", "Stopped"))
    assert body["TransformJobStatus"] == "Stopped"
    assert len(list((tmp_path / "out").iterdir())) < 200
    with pytest.raises(RequestValidationError, match="is in status Stopped"):
        upper.stop_transform_job("stopme")


@pytest.mark.parametrize("members,message", [
    ({"input": {"SplitType": "TFRecord"}}, "SplitType TFRecord is not supported"),
    ({"MaxPayloadInMB": 0}, "MaxPayloadInMB 0"),
    ({"MaxPayloadInMB": 20, "MaxConcurrentTransforms": 10}, "must not exceed 100 MB"),
    ({"DataProcessing": {"InputFilter": "$[1:]"}}, "DataProcessing"),
])
def test_unsupported_requests_are_refused_before_anything_runs(upper, tmp_path, members, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").write_text("a")
    with pytest.raises(RequestValidationError, match=message):
        transform(upper, "refused", (tmp_path / "in").as_uri(), (tmp_path / "out").as_uri(), **members)
    assert upper.ctx.resources.get(TRANSFORM_JOB, "refused") is None


def test_missing_input_and_model_are_refused(upper, tmp_path):
    with pytest.raises(RequestValidationError, match="No files found at local path"):
        transform(upper, "empty", (tmp_path / "nothing").as_uri(), (tmp_path / "out").as_uri())
    with pytest.raises(RequestValidationError, match='Could not find model "arn:aws:sagemaker:us-east-1:'
                                                     '123456789012:model/nope".'):
        upper.create_transform_job({
            "TransformJobName": "x", "ModelName": "nope",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:///x"}}},
            "TransformOutput": {"S3OutputPath": "file:///y"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
