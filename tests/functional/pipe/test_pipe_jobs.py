"""Image classification from Pipe-mode channels, run by the emulator's process runner: RecordIO
streams and augmented manifests, local files and S3 (SeaweedFS)."""
import gzip
import tarfile

import pytest

from algorithms.common.recordio import iter_records
from tests.ic_jobs import channel, host_log, manifest, request, run

MANIFEST = {"RecordWrapperType": "RecordIO", "data_type": "AugmentedManifestFile"}


def params_of(job) -> bytes:
    """The trained weights in the job's model.tar.gz."""
    with tarfile.open(job.result.model_artifacts) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".params"))
        return tar.extractfile(member).read()


def manifest_lines(rec, images_dir, label_of):
    """One line per record of `rec`, in its order: the image written out as a file, then the label."""
    lines = []
    for number, record in enumerate(iter_records(rec)):
        path = images_dir / f"{number:04d}.jpg"
        path.write_bytes(record.image)
        lines.append({"source-ref": str(path), "class": label_of(int(record.label[0]))})
    return lines


def attributes(*names):
    return {"source": {"AttributeNames": list(names)}}


def test_pipe_recordio_trains_exactly_like_file_mode(pipe_data, tmp_path):
    """One epoch: the stream is written to a .rec file and read by the same iterator as in File mode."""
    def job(mode, name):
        return run(request(name, [channel("train", pipe_data["train_rec"], mode=mode),
                                  channel("validation", pipe_data["validation"]["rec"], mode=mode)],
                           tmp_path / "out", epochs=1), tmp_path / "home")
    file_job, pipe_job = job("File", "file-mode"), job("Pipe", "pipe-mode")
    assert pipe_job.result.status == "Completed", pipe_job.result.failure_reason
    log = host_log(pipe_job, "algo-1")
    assert "Channel 'train' epoch 0: 0.2 MB of RecordIO from train_0" in log
    assert "Channel 'train': 128 images in train-epoch0.rec" in log
    assert params_of(pipe_job) == params_of(file_job)


def test_pipe_reads_a_new_stream_every_epoch(pipe_data, tmp_path):
    body = request("pipe-epochs", [channel("train", pipe_data["shards"], mode="Pipe", ShuffleConfig={"Seed": 3}),
                                   channel("validation", pipe_data["validation"]["rec"], mode="Pipe")],
                   tmp_path / "out", epochs=3)
    job = run(body, tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    log = host_log(job, "algo-1")
    for epoch in range(3):
        assert f"Channel 'train' epoch {epoch}: " in log and f"Channel 'validation' epoch {epoch}: " in log
        assert f"Channel 'train': 128 images in train-epoch{epoch}.rec" in log
    assert "Channel 'train' epoch 3" not in log
    # Only the last epoch's copy is kept on disk.
    work = job.dir.host_base("algo-1") / "input" / "work" / "image-classification"
    assert sorted(p.name for p in work.glob("*.rec")) == ["train-epoch2.rec", "validation-epoch2.rec"]


def test_augmented_manifest_trains_like_the_same_records_in_recordio(pipe_data, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    train = manifest(tmp_path / "train.manifest", manifest_lines(pipe_data["train_rec"], images, int))
    validation = manifest(tmp_path / "validation.manifest",
                          manifest_lines(pipe_data["validation"]["rec"], images / "..", int))
    manifest_job = run(request("manifest", [
        channel("train", train, mode="Pipe", **MANIFEST, **attributes("source-ref", "class")),
        channel("validation", validation, mode="Pipe", **MANIFEST, **attributes("source-ref", "class"))],
        tmp_path / "out", epochs=1), tmp_path / "home")
    assert manifest_job.result.status == "Completed", manifest_job.result.failure_reason
    assert "Channel 'train' epoch 0: 128 augmented-manifest lines from train_0" in host_log(manifest_job, "algo-1")
    recordio_job = run(request("recordio", [channel("train", pipe_data["train_rec"]),
                                            channel("validation", pipe_data["validation"]["rec"])],
                               tmp_path / "out", epochs=1), tmp_path / "home")
    assert params_of(manifest_job) == params_of(recordio_job)


def test_multi_label_manifest_class_ids_equal_multi_hot(pipe_data, tmp_path):
    images = tmp_path / "images"
    images.mkdir()

    def job(name, fmt, label_of):
        lines = {ch: manifest(tmp_path / f"{name}-{ch}.manifest", manifest_lines(rec, images, label_of))
                 for ch, rec in (("train", pipe_data["train_rec"]), ("validation", pipe_data["validation"]["rec"]))}
        content_type = f"application/x-recordio; label-format={fmt}"
        return run(request(name, [
            channel(ch, lines[ch], mode="Pipe", content_type=content_type, **MANIFEST,
                    **attributes("source-ref", "class")) for ch in ("train", "validation")],
            tmp_path / "out", epochs=1, multi_label=1), tmp_path / "home")

    class_ids = job("class-ids", "class-id", lambda c: [c])
    multi_hot = job("multi-hot", "multi-hot", lambda c: [int(i == c) for i in range(4)])
    for result in (class_ids.result, multi_hot.result):
        assert result.status == "Completed", result.failure_reason
    assert params_of(class_ids) == params_of(multi_hot)


@pytest.mark.parametrize("train, message", [
    ("manifest-label-first", "line 0 does not start with an image"),
    ("rec-wrapped-again", "holds RecordIO files wrapped in RecordIO records: set RecordWrapperType to None"),
    ("manifest-unwrapped", "The stream train_0 of channel 'train' is not RecordIO (it starts with b'\\xff\\xd8\\xff"
                           "\\xe0'). With RecordWrapperType None the channel must hold .rec files; an augmented "
                           "manifest needs RecordWrapperType RecordIO"),
])
def test_misconfigured_pipe_channels_fail_with_a_client_error(pipe_data, tmp_path, train, message):
    images = tmp_path / "images"
    images.mkdir()
    lines = manifest(tmp_path / "train.manifest", manifest_lines(pipe_data["parts"][0]["rec"], images, int))
    channels = {
        "manifest-label-first": channel("train", lines, mode="Pipe", **MANIFEST, **attributes("class", "source-ref")),
        "rec-wrapped-again": channel("train", pipe_data["train_rec"], mode="Pipe", RecordWrapperType="RecordIO"),
        "manifest-unwrapped": channel("train", lines, mode="Pipe", data_type="AugmentedManifestFile",
                                      **attributes("source-ref", "class")),
    }
    job = run(request("bad-pipe", [channels[train], channel("validation", pipe_data["validation"]["rec"])],
                      tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert job.result.failure_reason.startswith("ClientError: ")
    assert message in job.result.failure_reason


@pytest.mark.s3
def test_pipe_channels_from_s3_gzip_and_manifest(pipe_data, s3_env, s3_bucket, tmp_path):
    client = s3_env.client()
    for i, part in enumerate(pipe_data["parts"]):
        client.put_object(Bucket=s3_bucket, Key=f"train/part-{i}.rec.gz", Body=gzip.compress(part["rec"].read_bytes()))
    lines = []
    for number, record in enumerate(iter_records(pipe_data["validation"]["rec"])):
        client.put_object(Bucket=s3_bucket, Key=f"validation/{number}.jpg", Body=record.image)
        lines.append({"source-ref": f"s3://{s3_bucket}/validation/{number}.jpg", "class": int(record.label[0])})
    client.put_object(Bucket=s3_bucket, Key="validation.manifest",
                      Body=manifest(tmp_path / "v.manifest", lines).read_bytes())
    body = request("s3-pipe", [
        channel("train", f"s3://{s3_bucket}/train/", mode="Pipe", CompressionType="Gzip"),
        channel("validation", f"s3://{s3_bucket}/validation.manifest", mode="Pipe", **MANIFEST,
                **attributes("source-ref", "class"))], f"s3://{s3_bucket}/output", epochs=2)
    job = run(body, tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    log = host_log(job, "algo-1")
    assert "Channel 'train': 128 images in train-epoch1.rec" in log
    assert "Channel 'validation' epoch 1: 32 augmented-manifest lines from validation_1" in log
    assert "Epoch[1] Validation-accuracy=" in log
