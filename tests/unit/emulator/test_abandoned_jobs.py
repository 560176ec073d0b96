"""Jobs whose process died are marked Failed by the next look; hosts are capped by the machine."""
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.instance_types import HostCapacity, host_limit, machine_host_limit
from emulator.jobhome import JobHome
from emulator.lifecycle import TrainingJob, fail_if_abandoned, hosts_in_use
from emulator.runners.process import ProcessRunner
from emulator.spec import RequestValidationError, TrainingJobSpec

GIB = 1024 ** 3


def running_state(name, secondary="Training", **emulator):
    return {"TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
            "TrainingJobStatus": "InProgress", "SecondaryStatus": secondary,
            "SecondaryStatusTransitions": [{"Status": secondary, "StartTime": "2024-01-01T00:00:00+00:00",
                                            "StatusMessage": "..."}],
            "CreationTime": "2024-01-01T00:00:00+00:00", "FinalMetricDataList": [],
            "Emulator": {"OwnerPid": 999999, "ExitCodes": {}, **emulator}}


def request_body(name, output, instance_count=1):
    return {"TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
            "OutputDataConfig": {"S3OutputPath": str(output)},
            "ResourceConfig": {"InstanceType": "local", "InstanceCount": instance_count, "VolumeSizeInGB": 1}}


def make_job(home: JobHome, name, state, output):
    job = home.create_job_dir(name)
    job.write_json(job.request_file, request_body(name, output))
    job.write_json(job.state_file, state)
    return job


def test_a_job_whose_owner_is_gone_is_marked_failed_with_the_reason(tmp_path):
    home = JobHome(tmp_path / "home")
    job = make_job(home, "orphan", running_state("orphan"), tmp_path / "out")
    assert fail_if_abandoned(job)
    state = job.read_state()
    assert (state["TrainingJobStatus"], state["SecondaryStatus"]) == ("Failed", "Failed")
    assert state["FailureReason"].startswith("InternalServerError: The process that ran this job (pid 999999) ended "
                                             "while the job was InProgress (Training) without finishing it")
    assert [t["Status"] for t in state["SecondaryStatusTransitions"]] == ["Training", "Failed"]
    assert "ModelArtifacts" not in state
    assert "pid 999999" in job.log_file.read_text()
    assert not fail_if_abandoned(job)  # once is enough


def test_a_job_whose_owner_lives_is_left_alone(tmp_path):
    job = make_job(JobHome(tmp_path / "home"), "alive", running_state("alive"), tmp_path / "out")
    owner = job.claim()
    try:
        assert not fail_if_abandoned(job)
        assert job.read_state()["TrainingJobStatus"] == "InProgress"
    finally:
        owner.release()


def test_a_model_packed_before_the_owner_died_is_kept(tmp_path):
    model = tmp_path / "out" / "packed" / "output" / "model.tar.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"complete tarball")
    job = make_job(JobHome(tmp_path / "home"), "packed", running_state("packed", "Uploading"), tmp_path / "out")
    assert fail_if_abandoned(job)
    assert job.read_state()["ModelArtifacts"] == {"S3ModelArtifacts": str(model)}


def test_processes_the_dead_owner_left_are_killed(tmp_path):
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                                env={**os.environ, "TRAINING_JOB_NAME": "leftover"})
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                                env={**os.environ, "TRAINING_JOB_NAME": "someone-else"})
    try:
        state = running_state("leftover", Processes={"pids": {"algo-1": leftover.pid, "algo-2": stranger.pid}})
        job = make_job(JobHome(tmp_path / "home"), "leftover", state, tmp_path / "out")
        assert fail_if_abandoned(job)
        assert leftover.wait(5) == -9
        assert stranger.poll() is None  # a reused pid of another job's process is not touched
    finally:
        for proc in (leftover, stranger):
            proc.kill()
            proc.wait()


def smlocal(*args):
    return CliRunner().invoke(main, list(args))


def test_commands_mark_an_abandoned_job_failed_so_it_can_be_deleted(tmp_path):
    home = JobHome(tmp_path / "home")
    make_job(home, "dead-owner", running_state("dead-owner"), tmp_path / "out")
    listed = smlocal("list", "--home", str(home.root))
    assert "Failed" in listed.output and "dead-owner" in listed.output
    stopped = smlocal("stop", "dead-owner", "--home", str(home.root))
    assert stopped.exit_code == 2 and "training job is in status Failed" in stopped.output
    assert smlocal("delete", "dead-owner", "--home", str(home.root)).exit_code == 0
    assert not (home.jobs / "dead-owner").exists()


def test_delete_refuses_a_job_a_live_process_runs(tmp_path):
    home = JobHome(tmp_path / "home")
    owner = make_job(home, "busy", running_state("busy"), tmp_path / "out").claim()
    try:
        result = smlocal("delete", "busy", "--home", str(home.root))
        assert result.exit_code == 2 and "ResourceInUse: The training job busy is InProgress; stop it first" in result.output
        assert (home.jobs / "busy").is_dir()
    finally:
        owner.release()


@pytest.mark.parametrize("content", ["{not json", "[]", '{"TrainingJobStatus": "Completed"}', ""])
def test_list_skips_a_corrupt_job_json_with_a_warning(tmp_path, content):
    home = JobHome(tmp_path / "home")
    good = make_job(home, "good", running_state("good"), tmp_path / "out")
    bad = home.create_job_dir("bad")
    bad.state_file.write_text(content)
    result = smlocal("list", "--home", str(home.root))
    assert result.exit_code == 0, result.output
    assert f"Warning: skipping bad: {bad.state_file} is not a job's state" in result.output
    assert good.name in result.output
    described = smlocal("describe", "bad", "--home", str(home.root))
    assert described.exit_code == 2 and "Error: ClientError:" in described.output


@pytest.mark.parametrize("cpus, memory_gib, expected", [(2, 23, 2), (1, 8, 2), (16, 64, 16), (16, 4, 4), (8, 1, 1)])
def test_machine_host_limit(cpus, memory_gib, expected):
    assert machine_host_limit(HostCapacity(cpus=cpus, memory_bytes=memory_gib * GIB)) == expected


def test_the_host_limit_can_be_raised_by_the_environment():
    capacity = HostCapacity(cpus=2, memory_bytes=8 * GIB)
    assert host_limit({}, capacity) == 2
    assert host_limit({"SMLOCAL_MAX_HOSTS": "6"}, capacity) == 6
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match=f"SMLOCAL_MAX_HOSTS must be a whole number of hosts, 1 or more; "
                                             f"got '{bad}'"):
            host_limit({"SMLOCAL_MAX_HOSTS": bad}, capacity)


def test_an_instance_count_over_the_limit_is_refused_before_anything_is_created(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    body = request_body("fifty-hosts", tmp_path / "out", instance_count=50)
    body["InputDataConfig"] = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": str(tmp_path / "data")}}}]
    spec = TrainingJobSpec.from_request(body)
    home = JobHome(tmp_path / "home")
    with pytest.raises(RequestValidationError) as info:
        TrainingJob.submit(spec, home, ProcessRunner(), max_hosts=4)
    assert info.value.code == "ResourceLimitExceeded"
    assert info.value.message.startswith("ResourceConfig.InstanceCount is 50, but this machine runs at most 4 host(s)")
    assert "--max-hosts N" in info.value.message and "SMLOCAL_MAX_HOSTS=N" in info.value.message
    with pytest.raises(RequestValidationError, match=r"at most 4 host\(s\) at once .*, and 3 of them run already "
                                                     r"\(other-job\)"):
        TrainingJob.submit(TrainingJobSpec.from_request({**body, "ResourceConfig": {"InstanceCount": 2}}), home,
                           ProcessRunner(), max_hosts=4, busy_hosts={"other-job": 3})
    assert not home.jobs.exists()


def test_hosts_in_use_counts_running_jobs_of_live_owners_only(tmp_path):
    home = JobHome(tmp_path / "home")
    live = make_job(home, "live", running_state("live"), tmp_path / "out")
    make_job(home, "dead", running_state("dead"), tmp_path / "out")
    queued = make_job(home, "queued", running_state("queued", "Starting"), tmp_path / "out")
    owners = [live.claim(), queued.claim()]
    try:
        assert hosts_in_use(home) == {"live": 1}
    finally:
        for owner in owners:
            owner.release()
    assert hosts_in_use(home) == {}  # released: nobody runs anything now
