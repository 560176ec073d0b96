"""Whole jobs through the process runner with the fake algorithm (no Docker, no MXNet)."""
import json
import os
import tarfile
import time

import pytest

from emulator.lifecycle import TrainingJob
from emulator.runners.process import ProcessRunner
from emulator.spec import RequestValidationError, TrainingJobSpec
from emulator.store import JobStore


def tar_members(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def seen(result, host="algo-1"):
    return json.loads(tar_members(result.output_artifacts)[f"seen-{host}.json"])


def statuses(result):
    return [t.status for t in result.transitions]


def test_completed_job_has_transitions_metrics_artifacts_and_environment(make_request, run_job, job_home, tmp_path):
    lines = ["Epoch[0] Train-accuracy=0.25", "Epoch[0] Validation-accuracy=0.5",
             "Epoch[1] Train-accuracy=0.75", "Epoch[1] Validation-accuracy=0.875"]
    job = run_job(make_request(hyperparameters={"lines": json.dumps(lines)},
                               Environment={"USER_VAR": "from-request"}))
    result = job.result
    assert (result.status, result.secondary_status) == ("Completed", "Completed")
    assert statuses(result) == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t.end_time is not None for t in result.transitions)
    assert {m.name: m.value for m in result.final_metrics} == {"train:accuracy": 0.75, "validation:accuracy": 0.875}
    assert result.model_artifacts == str(tmp_path / "output" / "fake-job" / "output" / "model.tar.gz")
    assert "model-algo-1.txt" in tar_members(result.model_artifacts)
    env = seen(result)["env"]
    assert env["SAGEMAKER_ALGORITHM"] == "image-classification"
    assert env["TRAINING_JOB_NAME"] == "fake-job"
    assert env["TRAINING_JOB_ARN"] == "arn:aws:sagemaker:us-east-1:123456789012:training-job/fake-job"
    assert env["USER_VAR"] == "from-request"
    assert json.loads(env["SMLOCAL_HOST_ADDRESSES"]) == {"algo-1": "127.0.0.1"}
    store = JobStore.open(job_home)
    stored = store.job("fake-job")
    assert stored.status == "Completed" and stored.result.model_artifacts
    assert "[algo-1] Epoch[1] Validation-accuracy=0.875" in job.dir.log_file.read_text()
    assert result.training_seconds >= 1
    assert stored.result == result  # the store restores the same result
    (stream,) = store.log_streams("fake-job/")
    assert "Epoch[1] Validation-accuracy=0.875" in [e.message for e in store.log_events(stream.name)]
    assert [p.value for p in store.metric_values("fake-job", "validation:accuracy")] == [0.5, 0.875]


def test_channel_is_staged_with_its_relative_paths(make_request, run_job, train_data):
    result = run_job(make_request()).result
    files = seen(result)["channels"]["train"]
    assert sorted(files) == ["a.txt", "sub/b.txt"]
    staged = (train_data.parent.parent / "home" / "jobs" / "fake-job" / "hosts" / "algo-1" / "input" / "data"
              / "train" / "a.txt")
    assert staged.read_text() == "alpha"
    assert os.stat(staged).st_ino == os.stat(train_data / "a.txt").st_ino  # File mode hard-links local data


def test_fast_file_channel_is_a_read_only_copy(make_request, run_job, train_data):
    request = make_request()
    request["InputDataConfig"][0]["InputMode"] = "FastFile"
    job = run_job(request)
    staged = job.dir.host_base("algo-1") / "input" / "data" / "train" / "a.txt"
    assert staged.read_text() == "alpha"
    assert os.stat(staged).st_ino != os.stat(train_data / "a.txt").st_ino
    assert staged.stat().st_mode & 0o222 == 0 and staged.parent.stat().st_mode & 0o222 == 0
    assert (train_data / "a.txt").stat().st_mode & 0o200  # the user's file keeps its permissions


def test_model_uri_is_staged_as_is_into_the_model_channel(make_request, run_job, tmp_path):
    first = run_job(make_request(name="first-job")).result
    request = make_request(name="second-job")
    request["InputDataConfig"].append({
        "ChannelName": "model", "ContentType": "application/x-sagemaker-model", "InputMode": "File",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": first.model_artifacts,
                                        "S3DataDistributionType": "FullyReplicated"}}})
    second = run_job(request).result
    assert list(seen(second)["channels"]["model"]) == ["model.tar.gz"]


def test_failure_file_becomes_the_failure_reason_and_artifacts_are_still_packed(make_request, run_job):
    text = "ClientError: num_classes must be at least 2, got 1. " + "x" * 2000
    result = run_job(make_request(hyperparameters={"failure": text, "exit_code": 2})).result
    assert (result.status, result.secondary_status) == ("Failed", "Failed")
    assert result.failure_reason == text[:1024]
    assert result.exit_codes == {"algo-1": 2}
    assert "model-algo-1.txt" in tar_members(result.model_artifacts)
    assert statuses(result)[-2:] == ["Uploading", "Failed"]


def test_empty_failure_file_gives_the_exit_code(make_request, run_job):
    result = run_job(make_request(hyperparameters={"failure": "", "exit_code": 3})).result
    assert result.failure_reason == "AlgorithmError: , exit code: 3"


def test_failure_text_without_prefix_is_an_algorithm_error(make_request, run_job):
    result = run_job(make_request(hyperparameters={"failure": "out of memory", "exit_code": 1})).result
    assert result.failure_reason == "AlgorithmError: out of memory"


def test_sigterm_stop_ends_stopped_with_what_the_algorithm_saved(make_request, job_home, fake_command):
    spec = TrainingJobSpec.from_request(make_request(hyperparameters={"sleep": 60, "lines": '["ready"]'}))
    job = TrainingJob.submit(spec, job_home, ProcessRunner(fake_command), stop_grace_seconds=10,
                             on_log=lambda host, line: job.stop() if line == "ready" else None)
    started = time.monotonic()
    result = job.run()
    assert time.monotonic() - started < 15
    assert (result.status, result.secondary_status) == ("Stopped", "Stopped")
    assert statuses(result)[-4:] == ["Training", "Stopping", "Uploading", "Stopped"]
    assert tar_members(result.model_artifacts)["stopped.txt"] == b"saved on SIGTERM"
    assert result.failure_reason is None


def test_algorithm_ignoring_sigterm_is_killed_after_the_grace_period(make_request, job_home, fake_command):
    spec = TrainingJobSpec.from_request(make_request(hyperparameters={"sleep": 60, "on_sigterm": "ignore",
                                                                      "lines": '["ready"]'}))

    def stop_from_outside(host, line):
        if line == "ready":  # what `smlocal stop` does from another process
            job.dir.stop_marker.touch()

    job = TrainingJob.submit(spec, job_home, ProcessRunner(fake_command), stop_grace_seconds=1,
                             on_log=stop_from_outside)
    started = time.monotonic()
    result = job.run()
    assert time.monotonic() - started < 10
    assert result.status == "Stopped" and result.exit_codes == {"algo-1": 137}
    assert "model-algo-1.txt" in tar_members(result.model_artifacts)


def test_max_runtime_stops_the_job_with_artifacts(make_request, run_job):
    started = time.monotonic()
    result = run_job(make_request(hyperparameters={"sleep": 60}, StoppingCondition={"MaxRuntimeInSeconds": 2})).result
    assert time.monotonic() - started < 20
    assert (result.status, result.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert statuses(result)[-3:] == ["Stopping", "Uploading", "MaxRuntimeExceeded"]
    assert os.path.exists(result.model_artifacts)


def test_duplicate_job_name_is_refused(make_request, run_job, job_home, fake_command):
    run_job(make_request(name="same-name"))
    with pytest.raises(RequestValidationError) as info:
        TrainingJob.submit(TrainingJobSpec.from_request(make_request(name="same-name")), job_home,
                           ProcessRunner(fake_command))
    assert info.value.code == "ResourceInUse"


def test_stop_before_training_skips_the_algorithm(make_request, job_home, fake_command):
    spec = TrainingJobSpec.from_request(make_request(hyperparameters={"sleep": 60}))
    job = TrainingJob.submit(spec, job_home, ProcessRunner(fake_command))
    job.stop()
    result = job.run()
    assert result.status == "Stopped" and result.exit_codes == {}
    assert "Training" not in statuses(result)


def test_invalid_data_creates_nothing(make_request, job_home, fake_command, tmp_path):
    request = make_request(name="no-data")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = str(tmp_path / "missing")
    with pytest.raises(RequestValidationError, match="No files found"):
        TrainingJob.submit(TrainingJobSpec.from_request(request), job_home, ProcessRunner(fake_command))
    assert not job_home.job("no-data").root.exists()


def test_an_image_that_cannot_start_fails_the_job_with_a_reason(make_request, run_job, tmp_path):
    job = run_job(make_request(), runner=ProcessRunner([str(tmp_path / "no-such-program")]))
    assert job.result.status == "Failed"
    assert job.result.failure_reason.startswith("ClientError: The training image could not be started:")
    assert job.result.model_artifacts  # still packed (empty)


def test_unusable_output_location_fails_at_submission(make_request, job_home, fake_command):
    request = make_request(name="bad-output", OutputDataConfig={"S3OutputPath": "https://example.com/out"})
    with pytest.raises(RequestValidationError, match="(?i)S3OutputPath"):
        TrainingJob.submit(TrainingJobSpec.from_request(request), job_home, ProcessRunner(fake_command))
    assert not job_home.job("bad-output").root.exists()
