"""Jobs whose process died are marked Failed by the next look; hosts are capped by the machine."""
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.instance_types import HostCapacity, host_limit, machine_host_limit
from emulator.jobhome import JobHome
from emulator.jobs import Jobs
from emulator.jobstate import JobResult, Transition
from emulator.lifecycle import TrainingJob
from emulator.runners.process import ProcessRunner
from emulator.spec import RequestValidationError, TrainingJobSpec
from emulator.store import JobStore, StoreError

GIB = 1024 ** 3
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def request_body(name, output, instance_count=1):
    return {"TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
            "OutputDataConfig": {"S3OutputPath": str(output)},
            "ResourceConfig": {"InstanceType": "local", "InstanceCount": instance_count, "VolumeSizeInGB": 1}}


def make_job(home: JobHome, name, output, secondary="Training", processes=None):
    """A job as a process that ran it and died leaves it: its record InProgress, its folder, no lock."""
    job = home.create_job_dir(name)
    result = JobResult(job_name=name, arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
                       creation_time=START, secondary_status=secondary, transitions=[Transition(secondary, START, "...")],
                       owner_pid=999999, processes=processes or {})
    JobStore.open(home).insert_job(name, result.arn, request_body(name, output), result.to_record(), {})
    return job


def test_a_job_whose_owner_is_gone_is_marked_failed_with_the_reason(tmp_path):
    home = JobHome(tmp_path / "home")
    job = make_job(home, "orphan", tmp_path / "out")
    jobs = Jobs(home)
    assert jobs.settle_all() == ["orphan"]
    state = jobs.get("orphan").result
    assert (state.status, state.secondary_status) == ("Failed", "Failed")
    assert state.failure_reason.startswith("InternalServerError: The process that ran this job (pid 999999) ended "
                                           "while the job was InProgress (Training) without finishing it")
    assert [t.status for t in state.transitions] == ["Training", "Failed"]
    assert state.model_artifacts is None
    assert "pid 999999" in job.log_file.read_text()
    assert "[smlocal] InternalServerError: The process that ran this job (pid 999999)" in \
        jobs.store.log_events(jobs.store.log_streams("orphan/")[0].name)[-1].message
    assert jobs.settle_all() == []  # once is enough


def test_a_job_whose_owner_lives_is_left_alone(tmp_path):
    home = JobHome(tmp_path / "home")
    owner = make_job(home, "alive", tmp_path / "out").claim()
    try:
        assert Jobs(home).settle_all() == []
        assert Jobs(home).get("alive").status == "InProgress"
    finally:
        owner.release()


def test_a_model_packed_before_the_owner_died_is_kept(tmp_path):
    model = tmp_path / "out" / "packed" / "output" / "model.tar.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"complete tarball")
    home = JobHome(tmp_path / "home")
    make_job(home, "packed", tmp_path / "out", "Uploading")
    assert Jobs(home).get("packed").result.model_artifacts == str(model)


def test_processes_the_dead_owner_left_are_killed(tmp_path):
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                                env={**os.environ, "TRAINING_JOB_NAME": "leftover"})
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                                env={**os.environ, "TRAINING_JOB_NAME": "someone-else"})
    try:
        home = JobHome(tmp_path / "home")
        make_job(home, "leftover", tmp_path / "out",
                 processes={"pids": {"algo-1": leftover.pid, "algo-2": stranger.pid}})
        assert Jobs(home).settle_all() == ["leftover"]
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
    make_job(home, "dead-owner", tmp_path / "out")
    listed = smlocal("--home", str(home.root), "list")
    assert "Failed" in listed.output and "dead-owner" in listed.output
    stopped = smlocal("--home", str(home.root), "stop", "dead-owner")
    assert stopped.exit_code == 2 and "training job is in status Failed" in stopped.output
    assert smlocal("--home", str(home.root), "delete", "dead-owner").exit_code == 0
    assert not (home.jobs / "dead-owner").exists()
    assert JobStore.open(home).job("dead-owner") is None


def test_delete_refuses_a_job_a_live_process_runs(tmp_path):
    home = JobHome(tmp_path / "home")
    owner = make_job(home, "busy", tmp_path / "out").claim()
    try:
        result = smlocal("--home", str(home.root), "delete", "busy")
        assert result.exit_code == 2 and "ResourceInUse: The training job busy is InProgress; stop it first" in result.output
        assert (home.jobs / "busy").is_dir()
    finally:
        owner.release()


def test_a_folder_without_a_record_is_no_job(tmp_path):
    home = JobHome(tmp_path / "home")
    good = make_job(home, "good", tmp_path / "out")
    home.create_job_dir("stray")
    result = smlocal("--home", str(home.root), "list")
    assert result.exit_code == 0, result.output
    assert good.name in result.output and "stray" not in result.output
    described = smlocal("--home", str(home.root), "describe", "stray")
    assert described.exit_code == 2 and "Error: ValidationException: Requested resource not found." in described.output


def test_a_store_of_an_earlier_version_is_refused_with_a_way_out(tmp_path):
    home = JobHome(tmp_path / "home")
    home.root.mkdir()
    with sqlite3.connect(home.root / "smlocal.db") as db:  # job states in the old form, no version
        db.execute("CREATE TABLE jobs (name TEXT PRIMARY KEY, state TEXT)")
    with pytest.raises(StoreError, match="written by an earlier smlocal"):
        JobStore.open(home)
    result = smlocal("--home", str(home.root), "list")
    assert result.exit_code == 2 and "move it aside" in result.output


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


def test_busy_hosts_counts_running_jobs_of_live_owners_only(tmp_path):
    home = JobHome(tmp_path / "home")
    live = make_job(home, "live", tmp_path / "out")
    make_job(home, "dead", tmp_path / "out")
    queued = make_job(home, "queued", tmp_path / "out", "Starting")
    owners = [live.claim(), queued.claim()]
    try:
        assert Jobs(home).busy_hosts() == {"live": 1}
    finally:
        for owner in owners:
            owner.release()
    assert Jobs(home).busy_hosts() == {}  # released: nobody runs anything now
