"""Jobs whose channels, outputs and checkpoints live in S3 (SeaweedFS on loopback)."""
import gzip
import hashlib
import io
import json
import tarfile
import threading
import time

import pytest

from emulator.lifecycle import TrainingJob
from emulator.recordio import encode_record
from emulator.runners.process import ProcessRunner
from emulator.spec import RequestValidationError, TrainingJobSpec

pytestmark = pytest.mark.s3


def s3_channel(name, uri, **options):
    return {"ChannelName": name, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}, **options}


def s3_tar(client, bucket, key):
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_s3_channels_and_outputs_and_incremental_model_channel(make_request, run_job, s3_env, s3_bucket):
    client = s3_env.client()
    client.put_object(Bucket=s3_bucket, Key="data/train/a.jpg", Body=b"A")
    client.put_object(Bucket=s3_bucket, Key="data/train/sub/b.jpg", Body=b"BB")
    output = f"s3://{s3_bucket}/output"
    first = run_job(make_request(name="s3-first", InputDataConfig=[s3_channel("train", f"s3://{s3_bucket}/data/train")],
                                 OutputDataConfig={"S3OutputPath": output})).result
    assert first.status == "Completed", first.failure_reason
    assert first.model_artifacts == f"{output}/s3-first/output/model.tar.gz"
    assert "model-algo-1.txt" in s3_tar(client, s3_bucket, "output/s3-first/output/model.tar.gz")
    seen = json.loads(s3_tar(client, s3_bucket, "output/s3-first/output/output.tar.gz")["seen-algo-1.json"])
    assert sorted(seen["channels"]["train"]) == ["a.jpg", "sub/b.jpg"]

    model = {"ChannelName": "model", "ContentType": "application/x-sagemaker-model", "InputMode": "File",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": first.model_artifacts,
                                             "S3DataDistributionType": "FullyReplicated"}}}
    second = run_job(make_request(name="s3-second", OutputDataConfig={"S3OutputPath": output},
                                  InputDataConfig=[s3_channel("train", f"s3://{s3_bucket}/data/train/"), model])).result
    seen = json.loads(s3_tar(client, s3_bucket, "output/s3-second/output/output.tar.gz")["seen-algo-1.json"])
    assert list(seen["channels"]["model"]) == ["model.tar.gz"]


def test_empty_prefix_fails_at_submission_with_sagemakers_wording(make_request, job_home, fake_command, s3_bucket):
    request = make_request(name="empty-prefix", InputDataConfig=[s3_channel("train", f"s3://{s3_bucket}/nothing/")])
    with pytest.raises(RequestValidationError) as info:
        TrainingJob.submit(TrainingJobSpec.from_request(request), job_home, ProcessRunner(fake_command))
    assert info.value.message.startswith(f'No S3 objects found under S3 URL "s3://{s3_bucket}/nothing/" given in '
                                         f"input data source. Please ensure that the bucket exists in the selected "
                                         f"region (us-east-1)")
    assert not job_home.job("empty-prefix").root.exists()


def test_pipe_mode_streams_from_s3(make_request, run_job, s3_env, s3_bucket):
    client = s3_env.client()
    payloads = [b"first object", b"second" * 1000]
    for i, payload in enumerate(payloads):
        client.put_object(Bucket=s3_bucket, Key=f"pipe/{i}.gz", Body=gzip.compress(payload))
    channel = s3_channel("train", f"s3://{s3_bucket}/pipe/", InputMode="Pipe", CompressionType="Gzip",
                         RecordWrapperType="RecordIO")
    job = run_job(make_request(hyperparameters={"pipe_epochs": 2}, InputDataConfig=[channel]))
    with tarfile.open(job.result.output_artifacts) as tar:
        seen = json.loads(tar.extractfile("seen-algo-1.json").read())
    expected = hashlib.sha256(b"".join(encode_record(p) for p in payloads)).hexdigest()
    assert seen["pipes"]["train"] == [expected, expected]


def test_s3_checkpoints_resume_a_stopped_job(make_request, job_home, fake_command, s3_env, s3_bucket):
    uri = f"s3://{s3_bucket}/checkpoints/run-1"
    spec = TrainingJobSpec.from_request(make_request(name="ckpt-stopped", hyperparameters={"checkpoints": 2, "sleep": 60},
                                                     CheckpointConfig={"S3Uri": uri}))
    job = TrainingJob.submit(spec, job_home, ProcessRunner(fake_command), stop_grace_seconds=5,
                             checkpoint_interval_seconds=0.2)
    client = s3_env.client()

    def stop_once_uploaded():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if client.list_objects_v2(Bucket=s3_bucket, Prefix="checkpoints/run-1/").get("KeyCount") == 2:
                break
            time.sleep(0.2)
        job.stop()
    threading.Thread(target=stop_once_uploaded, daemon=True).start()
    started = time.monotonic()
    result = job.run()
    assert time.monotonic() - started < 30
    assert result.status == "Stopped"
    listed = s3_env.client().list_objects_v2(Bucket=s3_bucket, Prefix="checkpoints/run-1/")
    assert sorted(o["Key"] for o in listed["Contents"]) == ["checkpoints/run-1/ckpt-0.txt",
                                                            "checkpoints/run-1/ckpt-1.txt"]
    successor = TrainingJob.submit(TrainingJobSpec.from_request(make_request(name="ckpt-resumed",
                                                                             CheckpointConfig={"S3Uri": uri})),
                                   job_home, ProcessRunner(fake_command))
    successor.run()
    with tarfile.open(successor.result.output_artifacts) as tar:
        seen = json.loads(tar.extractfile("seen-algo-1.json").read())
    assert seen["checkpoints_at_start"] == ["ckpt-0.txt", "ckpt-1.txt"]


def test_manifest_file_in_s3_and_replicated_data_fetched_once(s3_env, s3_bucket, tmp_path):
    from emulator.channels import resolve_channels
    from emulator.staging import stage_channels
    from emulator.storage import Storage

    client = s3_env.client()
    for key in ("imgs/a.jpg", "imgs/b.jpg", "imgs/unlisted.jpg"):
        client.put_object(Bucket=s3_bucket, Key=key, Body=key.encode())
    client.put_object(Bucket=s3_bucket, Key="train.manifest",
                      Body=json.dumps([{"prefix": f"s3://{s3_bucket}/imgs/"}, "a.jpg", "b.jpg"]).encode())
    spec = TrainingJobSpec.from_request({
        "TrainingJobName": "manifest-job", "RoleArn": "arn:aws:iam::123456789012:role/R",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
        "OutputDataConfig": {"S3OutputPath": str(tmp_path / "out")},
        "ResourceConfig": {"InstanceCount": 2},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "ManifestFile", "S3Uri": f"s3://{s3_bucket}/train.manifest"}}}]})
    storage = Storage()
    sources = resolve_channels(spec, storage, "us-east-1")
    hosts = [(h, tmp_path / h) for h in spec.hosts]
    fetched = stage_channels(sources, hosts, storage)
    assert fetched == len(b"imgs/a.jpg") + len(b"imgs/b.jpg")  # once, although two hosts got the data
    for _, base in hosts:
        folder = base / "input" / "data" / "train"
        assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.jpg"]
        assert (folder / "b.jpg").read_bytes() == b"imgs/b.jpg"


def test_missing_output_bucket_fails_at_submission(make_request, job_home, fake_command, s3_env):
    request = make_request(name="no-bucket", OutputDataConfig={"S3OutputPath": "s3://bucket-that-is-not-there/out"})
    with pytest.raises(RequestValidationError, match="OutputDataConfig.S3OutputPath 's3://bucket-that-is-not-there/out'"):
        TrainingJob.submit(TrainingJobSpec.from_request(request), job_home, ProcessRunner(fake_command))
    assert not job_home.job("no-bucket").root.exists()
