"""Pipe mode FIFOs, sharding across hosts and several hosts, with local data (no S3 needed)."""
import gzip
import hashlib
import itertools
import threading
import time
import json
import tarfile

from emulator.recordio import encode_record


def seen(result, host="algo-1"):
    with tarfile.open(result.output_artifacts) as tar:
        return json.loads(tar.extractfile(f"seen-{host}.json").read())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_objects(folder, count, gz=False):
    folder.mkdir(parents=True)
    payloads = []
    for i in range(count):
        payload = f"record {i} ".encode() * (i + 1)
        payloads.append(payload)
        (folder / f"part-{i}.bin").write_bytes(gzip.compress(payload) if gz else payload)
    return payloads


def pipe_channel(uri, **options):
    return {"ChannelName": "train", "InputMode": "Pipe",
            "DataSource": {"S3DataSource": {"S3DataType": options.pop("data_type", "S3Prefix"), "S3Uri": str(uri),
                                            **options.pop("s3", {})}}, **options}


def test_pipe_mode_streams_every_epoch_gunzipped_and_recordio_wrapped(make_request, run_job, tmp_path):
    payloads = write_objects(tmp_path / "gz", 3, gz=True)
    request = make_request(hyperparameters={"pipe_epochs": 3},
                           InputDataConfig=[pipe_channel(tmp_path / "gz", CompressionType="Gzip",
                                                         RecordWrapperType="RecordIO")])
    job = run_job(request)
    assert job.result.status == "Completed", job.result.failure_reason
    expected = sha(b"".join(encode_record(p) for p in payloads))
    assert seen(job.result)["pipes"]["train"] == [expected] * 3
    # Consumed FIFOs are removed; the next epoch's FIFO was waiting for a reader.
    leftovers = sorted(p.name for p in (job.dir.host_base("algo-1") / "input" / "data").iterdir())
    assert leftovers in (["train_3"], [])


def test_pipe_mode_shuffles_each_epoch_with_the_seed(make_request, run_job, tmp_path):
    payloads = write_objects(tmp_path / "plain", 6)
    request = make_request(hyperparameters={"pipe_epochs": 3},
                           InputDataConfig=[pipe_channel(tmp_path / "plain", ShuffleConfig={"Seed": 1})])
    epochs = seen(run_job(request).result)["pipes"]["train"]
    orders = {sha(b"".join(p)) for p in itertools.permutations(payloads)}
    assert all(epoch in orders for epoch in epochs)  # every epoch holds each object exactly once
    assert len(set(epochs)) > 1                       # in a new order


def test_augmented_manifest_streams_attributes_in_order(make_request, run_job, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"JPEG-A")
    (images / "b.jpg").write_bytes(b"JPEG-B")
    manifest = tmp_path / "train.manifest"
    manifest.write_text(f'{{"source-ref": "{images}/a.jpg", "class": 1, "ignored": "x"}}\n'
                        f'{{"class": "0", "source-ref": "file://{images}/b.jpg"}}\n')
    channel = pipe_channel(manifest, data_type="AugmentedManifestFile", RecordWrapperType="RecordIO",
                           s3={"AttributeNames": ["source-ref", "class"]})
    job = run_job(make_request(InputDataConfig=[channel]))
    records = [b"JPEG-A", b"1", b"JPEG-B", b"0"]
    assert seen(job.result)["pipes"]["train"] == [sha(b"".join(encode_record(r) for r in records))]


def test_two_hosts_shard_by_key_and_know_each_other(make_request, run_job, tmp_path):
    write_objects(tmp_path / "shards", 4)
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": str(tmp_path / "shards"), "S3DataDistributionType": "ShardedByS3Key"}}}
    job = run_job(make_request(InputDataConfig=[channel], ResourceConfig={"InstanceCount": 2}))
    result = job.result
    assert result.status == "Completed" and result.exit_codes == {"algo-1": 0, "algo-2": 0}
    one, two = seen(result, "algo-1"), seen(result, "algo-2")
    assert sorted(one["channels"]["train"]) == ["part-0.bin", "part-2.bin"]
    assert sorted(two["channels"]["train"]) == ["part-1.bin", "part-3.bin"]
    assert (one["host"], two["host"]) == ("algo-1", "algo-2")
    assert json.loads(two["env"]["SMLOCAL_HOST_ADDRESSES"]) == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    config = json.loads((job.dir.host_base("algo-2") / "input" / "config" / "resourceconfig.json").read_text())
    assert config["current_host"] == "algo-2" and config["hosts"] == ["algo-1", "algo-2"]
    with tarfile.open(result.model_artifacts) as tar:
        assert {"model-algo-1.txt", "model-algo-2.txt"} <= set(tar.getnames())


def test_one_failing_host_stops_the_others_and_fails_the_job(make_request, run_job):
    request = make_request(hyperparameters={"sleep": 60, "fail_on_host": "algo-2", "exit_code": 4,
                                            "failure": "ClientError: host two broke"},
                           ResourceConfig={"InstanceCount": 2})
    started = time.monotonic()
    result = run_job(request).result
    assert time.monotonic() - started < 30  # algo-1 did not sleep its 60 s
    assert result.status == "Failed"
    assert result.failure_reason == "ClientError: host two broke"
    assert result.exit_codes["algo-2"] == 4
    assert result.exit_codes["algo-1"] in (0, 143)  # saved on SIGTERM (or terminated before its handler was set)


def test_checkpoints_survive_a_stop_and_seed_the_next_job(make_request, run_job, tmp_path):
    checkpoints = tmp_path / "ckpt-store"
    first = run_job(make_request(name="ckpt-first", hyperparameters={"checkpoints": 3},
                                 CheckpointConfig={"S3Uri": str(checkpoints)}))
    assert sorted(p.name for p in checkpoints.iterdir()) == ["ckpt-0.txt", "ckpt-1.txt", "ckpt-2.txt"]
    config = json.loads((first.dir.host_base("algo-1") / "input" / "config" / "checkpointconfig.json").read_text())
    assert config == {"LocalPath": str(first.dir.checkpoint_dir("algo-1")), "S3Uri": str(checkpoints)}
    second = run_job(make_request(name="ckpt-second", CheckpointConfig={"S3Uri": str(checkpoints)}))
    assert seen(second.result)["checkpoints_at_start"] == ["ckpt-0.txt", "ckpt-1.txt", "ckpt-2.txt"]


def test_checkpoints_are_uploaded_while_the_job_runs(make_request, job_home, fake_command, tmp_path):
    from emulator.lifecycle import TrainingJob
    from emulator.runners.process import ProcessRunner
    from emulator.spec import TrainingJobSpec

    store = tmp_path / "live-ckpt"
    spec = TrainingJobSpec.from_request(make_request(hyperparameters={"checkpoints": 2, "sleep": 60},
                                                     CheckpointConfig={"S3Uri": str(store)}))
    job = TrainingJob.submit(spec, job_home, ProcessRunner(fake_command), stop_grace_seconds=5,
                             checkpoint_interval_seconds=0.2)
    seen_while_running = []

    def watch():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and job.result.status == "InProgress":
            if store.exists() and len(list(store.iterdir())) == 2:
                seen_while_running.append(job.result.secondary_status)
                break
            time.sleep(0.1)
        job.stop()
    threading.Thread(target=watch, daemon=True).start()
    result = job.run()
    assert seen_while_running == ["Training"]
    assert result.status == "Stopped"
