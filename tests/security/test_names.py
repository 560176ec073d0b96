"""Names are names: a job, channel or host name never becomes anything but one folder name.

Each hostile name goes through every `smlocal` command that takes one, and through the library
calls that join names into paths; a canary tree (a job home with a finished job, and a folder
beside it) must come out byte for byte, mode for mode, unchanged.
"""
import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.jobhome import JobDir, JobHome
from emulator.jobstate import JobResult
from emulator.pipe import fifo_path
from emulator.spec import RequestValidationError, TrainingJobSpec, path_segment
from emulator.staging import channel_dir
from emulator.store import JobStore

HOSTILE = {
    "dot-dot": "..",
    "dot": ".",
    "empty": "",
    "parent-path": "../../x",
    "slash": "a/b",
    "absolute": "/tmp",
    "backslashes": "..\\..\\x",
    "backslash": "a\\b",
    "unicode": "jöb",
    "fullwidth-dots": "\uff0e\uff0e",
    "fullwidth-slash": "a\uff0fb",
    "nul": "a\x00b",
    "newline": "job\n",
    "very-long": "a" * 300,
}
SAFE = ["job-1", "train", "validation_2", "...", "a.b", "model", "A" * 255]


def tree_checksums(root: Path) -> dict[str, tuple]:
    """Every path below root: (kind, mode, content hash or link target)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if path.is_symlink():
                found[str(path.relative_to(root))] = ("link", st.st_mode, os.readlink(path))
            elif path.is_file():
                found[str(path.relative_to(root))] = ("file", st.st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[str(path.relative_to(root))] = ("dir", st.st_mode, None)
    return found


@pytest.fixture
def canary(tmp_path):
    """A job home with a finished job (its record, folder and artifacts), and a folder beside it."""
    home = tmp_path / "home"
    job = home / "jobs" / "keep-me"
    (job / "hosts" / "algo-1" / "input" / "config").mkdir(parents=True)
    (job / "hosts" / "algo-1" / "input" / "config" / "hyperparameters.json").write_text('{"epochs": "1"}')
    (job / "job.log").write_text("2024-01-01T00:00:00.000+00:00 [smlocal] Completed - Training job completed\n")
    (home / "output" / "keep-me" / "output").mkdir(parents=True)
    (home / "output" / "keep-me" / "output" / "model.tar.gz").write_bytes(b"model bytes")
    done = JobResult("keep-me", "arn:aws:sagemaker:us-east-1:123456789012:training-job/keep-me",
                     datetime(2024, 1, 1, tzinfo=timezone.utc), "Completed", "Completed")
    store = JobStore.open(JobHome(home))
    store.insert_job("keep-me", done.arn, {"TrainingJobName": "keep-me"}, done.to_record(), {})
    store.close()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious.txt").write_text("do not touch")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("training data")
    return tmp_path


def smlocal(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_path_segment_refuses_what_is_not_one_safe_folder_name(name):
    with pytest.raises(RequestValidationError, match="cannot be used as a file or folder name: it must be 1 to 255 "
                                                     "of the characters A-Z a-z 0-9 . _ - and neither '.' nor '..'"):
        path_segment(name, "Channel name")


@pytest.mark.parametrize("name", SAFE)
def test_path_segment_keeps_safe_names(name):
    assert path_segment(name, "Channel name") == name


def test_refusals_name_what_and_show_at_most_a_bounded_part_of_the_value():
    with pytest.raises(RequestValidationError) as info:
        path_segment("x" * 100_000, "Endpoint name")
    assert info.value.message.startswith("Endpoint name 'xxx")
    assert len(info.value.message) < 500 and "(100000 characters)" in info.value.message


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_path_built_from_a_name_refuses_it(tmp_path, name):
    home = JobHome(tmp_path / "home")
    for build in (lambda: home.job(name), lambda: home.create_job_dir(name),
                  lambda: JobDir(tmp_path / "job").host_base(name), lambda: JobDir(tmp_path / "job").checkpoint_dir(name),
                  lambda: channel_dir(tmp_path / "host", name), lambda: fifo_path(tmp_path / "host", name, 0)):
        with pytest.raises(RequestValidationError):
            build()
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("command", ["describe", "stop", "delete"])
@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_commands_taking_a_job_name_refuse_hostile_names_and_change_nothing(canary, command, name):
    before = tree_checksums(canary)
    result = smlocal("--home", str(canary / "home"), command, name)
    assert result.exit_code == 2, result.output
    assert "Error: ValidationException: 1 validation error detected: Value" in result.output
    assert "at 'trainingJobName' failed to satisfy constraint" in result.output
    assert tree_checksums(canary) == before


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_train_refuses_a_hostile_job_name_before_creating_anything(canary, name):
    before = tree_checksums(canary)
    result = smlocal("--home", str(canary / "home"), "train", "--algorithm", "image-classification", "--job-name", name, "--channel", f"train={canary / 'data'}")
    assert result.exit_code == 2, result.output
    assert tree_checksums(canary) == before


# --channel NAME=... strips spaces around NAME (it is command-line syntax), and an empty NAME is a usage error.
CHANNEL_NAMES = {k: n for k, n in HOSTILE.items() if n and n == n.strip()}


@pytest.mark.parametrize("name", CHANNEL_NAMES.values(), ids=CHANNEL_NAMES.keys())
def test_train_refuses_a_hostile_channel_name_before_creating_anything(canary, name):
    # '..' and '.' pass SageMaker's channel pattern: before, input/data/.. was input/ and the
    # channel's files replaced the job's own hyperparameters.json.
    before = tree_checksums(canary)
    result = smlocal("--home", str(canary / "home"), "train", "--algorithm", "image-classification", "--job-name",
                     "hostile-channel", "--channel", f"{name}={canary / 'data'}")
    assert result.exit_code == 2, result.output
    assert "Error: ValidationException" in result.output and "channelname" in result.output.lower()
    assert tree_checksums(canary) == before


@pytest.mark.parametrize("name", ["..", "."])
def test_dot_channel_names_are_refused_by_the_request_validation(name):
    request = {"TrainingJobName": "j", "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
               "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
               "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
               "InputDataConfig": [{"ChannelName": name, "DataSource": {"S3DataSource": {
                   "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train"}}}]}
    with pytest.raises(RequestValidationError, match=rf"Channel name \(InputDataConfig.1.ChannelName\) '{name}' "
                                                     r"cannot be used as a file or folder name"):
        TrainingJobSpec.from_request(request)


def test_the_canary_sees_a_real_delete(canary):
    """The checksums notice what the refused commands would have done."""
    before = tree_checksums(canary)
    result = smlocal("--home", str(canary / "home"), "delete", "keep-me")
    assert result.exit_code == 0, result.output
    after = tree_checksums(canary)
    assert "home/jobs/keep-me/job.log" in before and "home/jobs/keep-me" not in after
    assert JobStore.open(JobHome(canary / "home")).job("keep-me") is None
    unchanged = ("home/jobs/keep-me", "home/smlocal.db")
    assert {k: v for k, v in before.items() if not k.startswith(unchanged)} == \
        {k: v for k, v in after.items() if not k.startswith(unchanged)}


def test_list_ignores_folders_whose_names_are_not_job_names(canary):
    (canary / "home" / "jobs" / "not a job").mkdir()
    (canary / "home" / "jobs" / "not a job" / "job.log").write_text("")
    result = smlocal("--home", str(canary / "home"), "list")
    assert result.exit_code == 0, result.output
    assert "keep-me" in result.output and "not a job" not in result.output
