"""Locations the emulator cannot reach are refused at submission; staging keeps permissions."""
import json
import os
import stat

import pytest
from click.testing import CliRunner

from emulator.channels import resolve_channels
from emulator.cli import main
from emulator.jobhome import JobHome
from emulator.lifecycle import TrainingJob
from emulator.runners.process import ProcessRunner
from emulator.spec import RequestValidationError, TrainingJobSpec
from emulator.staging import stage_channels
from emulator.storage import Storage, StorageError, check_location

as_root = os.geteuid() == 0


def request(tmp_path, channels, **members):
    body = {"TrainingJobName": "loc-job", "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
            "OutputDataConfig": {"S3OutputPath": str(tmp_path / "out")}, "InputDataConfig": channels}
    body.update(members)
    return body


def channel(name, uri, mode="File", data_type="S3Prefix"):
    return {"ChannelName": name, "InputMode": mode,
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": str(uri)}}}


@pytest.mark.parametrize("uri", ["s3://bucket/key", "file:///data/x", "/data/x", "relative/x"])
def test_supported_locations(uri):
    check_location(uri)


@pytest.mark.parametrize("uri", ["ftp://host/x", "https://example.com/x", "S3://bucket/x", "s3://", "hdfs://n/x"])
def test_unsupported_locations(uri):
    with pytest.raises(StorageError):
        check_location(uri)


@pytest.mark.parametrize("member, where", [
    ("channel", "inputDataConfig.1.member.dataSource.s3DataSource.s3Uri"),
    ("output", "outputDataConfig.s3OutputPath"),
    ("checkpoint", "checkpointConfig.s3Uri"),
])
def test_unsupported_schemes_are_validation_errors_naming_the_member(tmp_path, member, where):
    uri = "ftp://files.example.com/data"
    body = request(tmp_path, [channel("train", uri if member == "channel" else tmp_path)])
    if member == "output":
        body["OutputDataConfig"] = {"S3OutputPath": uri}
    if member == "checkpoint":
        body["CheckpointConfig"] = {"S3Uri": uri}
    with pytest.raises(RequestValidationError) as info:
        TrainingJobSpec.from_request(body)
    assert (f"Value '{uri}' at '{where}' failed to satisfy constraint: Member must be an s3:// URI "
            f"(s3://bucket/key), a file:// URI or a local path") in info.value.message


def test_cli_reports_an_ftp_channel_as_a_validation_error_not_a_traceback(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "train", "--algorithm", "image-classification",
                                       "--channel", "train=ftp://host/train", "--output-path", "ftp://host/out"])
    assert result.exit_code == 2, result.output  # an uncaught exception would be exit code 1
    assert "Error: ValidationException: 2 validation errors detected" in result.output
    assert "s3Uri" in result.output and "s3OutputPath" in result.output


def test_an_output_path_below_a_file_fails_at_submission_and_creates_nothing(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    (tmp_path / "a-file").write_text("not a folder")
    spec = TrainingJobSpec.from_request(request(tmp_path, [channel("train", tmp_path / "data")],
                                                OutputDataConfig={"S3OutputPath": str(tmp_path / "a-file" / "out")}))
    with pytest.raises(RequestValidationError, match=r"OutputDataConfig.S3OutputPath '.*a-file/out' cannot be used: "
                                                     r".*a-file is not a folder"):
        TrainingJob.submit(spec, JobHome(tmp_path / "home"), ProcessRunner())
    assert not (tmp_path / "home" / "jobs" / "loc-job").exists()


@pytest.mark.skipif(as_root, reason="root may write into any folder")
def test_an_output_folder_without_write_permission_fails_at_submission(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    spec = TrainingJobSpec.from_request(request(tmp_path, [channel("train", tmp_path / "data")],
                                                OutputDataConfig={"S3OutputPath": str(locked / "out")}))
    with pytest.raises(RequestValidationError, match="locked is not writable by this user"):
        TrainingJob.submit(spec, JobHome(tmp_path / "home"), ProcessRunner())


def test_a_manifest_with_a_file_uri_prefix_stages_like_a_plain_path(tmp_path):
    data = tmp_path / "images"
    (data / "cats").mkdir(parents=True)
    (data / "cats" / "a.jpg").write_bytes(b"cat")
    (data / "b.jpg").write_bytes(b"bee")
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": f"file://{data}/"}, "cats/a.jpg", "b.jpg"]))
    spec = TrainingJobSpec.from_request(request(tmp_path, [channel("train", manifest, data_type="ManifestFile")]))
    sources = resolve_channels(spec, Storage(), "us-east-1")
    stage_channels(sources, [("algo-1", tmp_path / "host")], Storage())
    staged = tmp_path / "host" / "input" / "data" / "train"
    assert (staged / "cats" / "a.jpg").read_bytes() == b"cat" and (staged / "b.jpg").read_bytes() == b"bee"


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("source_mode, fast_file_mode", [(0o600, 0o400), (0o640, 0o440), (0o644, 0o444),
                                                         (0o400, 0o400)])
def test_staging_never_makes_a_file_more_readable_than_its_source(tmp_path, source_mode, fast_file_mode):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret.bin").write_bytes(b"private")
    os.chmod(data / "secret.bin", source_mode)
    spec = TrainingJobSpec.from_request(request(tmp_path, [channel("file", data), channel("fast", data, "FastFile")]))
    stage_channels(resolve_channels(spec, Storage(), "us-east-1"), [("algo-1", tmp_path / "h1"),
                                                                     ("algo-2", tmp_path / "h2")], Storage())
    for host in ("h1", "h2"):
        channels = tmp_path / host / "input" / "data"
        assert mode(channels / "file" / "secret.bin") == source_mode  # a hard link: the same file
        assert mode(channels / "fast" / "secret.bin") == fast_file_mode
        assert mode(channels / "fast") & 0o222 == 0
    assert mode(data / "secret.bin") == source_mode  # the user's own file is untouched


def test_job_homes_are_created_owner_only(tmp_path):
    home = JobHome(tmp_path / "new" / "home")
    job = home.create_job_dir("private-job")
    for folder in (tmp_path / "new", home.root, home.jobs, job.root):
        assert mode(folder) == 0o700, folder


def test_an_existing_home_keeps_its_mode(tmp_path):
    (tmp_path / "shared").mkdir(mode=0o755)
    os.chmod(tmp_path / "shared", 0o755)
    job = JobHome(tmp_path / "shared").create_job_dir("j")
    assert mode(tmp_path / "shared") == 0o755 and mode(job.root) == 0o700


def test_a_job_has_one_owner_at_a_time(tmp_path):
    job = JobHome(tmp_path).create_job_dir("owned")
    owner = job.claim()
    assert owner is not None and job.claim() is None
    owner.release()
    again = job.claim()
    assert again is not None
    again.release()
