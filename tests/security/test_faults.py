"""kill -9 loses nothing: `smlocal train` killed at staging, training or packing leaves no process
running, the next `smlocal describe` / `list` shows the job Failed with the reason, and every
model.tar.gz that was complete is valid and warm-starts a next job.

The CLI runs as a user runs it (a subprocess, the process runner); to kill it at a chosen moment,
a wrapper pauses it inside staging or packing (the test's only hook: it replaces a function of
the running CLI, nothing in the product waits for tests).
"""
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.jobhome import JobHome
from emulator.store import JobStore
from tests import ic_jobs

REPO = Path(__file__).resolve().parents[2]
FAKE_ALGORITHM = REPO / "tests" / "functional" / "emulator" / "fake_algorithm.py"
# The algorithm of the training-phase kill: leaves a child of its own (like a data loader worker).
SPAWNING_ALGORITHM = ("import subprocess, sys, time; "
                      "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
                      "print('ready', flush=True); time.sleep(120)")
PAUSING_CLI = """
import os, sys, time
from pathlib import Path
import emulator.lifecycle as lifecycle
import emulator.packing as packing

point, marker = os.environ["PAUSE_AT"], Path(os.environ["PAUSE_MARKER"])

def pause():
    marker.write_text(point)
    time.sleep(3600)

if point == "staging":
    lifecycle.stage_channels = lambda *args, **kwargs: pause()
elif point.startswith("packing"):
    write_tarball, calls = packing.write_tarball, []
    def paused_write(roots, target):
        files = write_tarball(roots, target)  # complete, under its temporary name
        calls.append(target)
        if point == "packing-model" or len(calls) == 2:  # the model, or output.tar.gz after the model
            pause()
        return files
    packing.write_tarball = paused_write

from emulator.cli import main
main()
"""


def smlocal(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def start_train(tmp_path, name, *args, pause_at=None, command=None):
    """`smlocal train` in the background; its output goes to <tmp>/<name>.out."""
    env = {**os.environ, "SMLOCAL_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO),
           "SMLOCAL_PROCESS_COMMAND": shlex.join(command or [sys.executable, str(FAKE_ALGORITHM)]),
           "PAUSE_AT": pause_at or "", "PAUSE_MARKER": str(tmp_path / f"{name}.paused")}
    code = ["-c", PAUSING_CLI] if pause_at else ["-m", "emulator.cli"]
    out = open(tmp_path / f"{name}.out", "w")
    return subprocess.Popen([sys.executable, *code, "train", "--algorithm", "image-classification",
                             "--job-name", name, *args], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def job_processes(name: str) -> list[int]:
    """Live processes that run job `name` (the runner gives each TRAINING_JOB_NAME)."""
    marker = f"TRAINING_JOB_NAME={name}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def kill_cli(proc):
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL


def described(tmp_path, name) -> dict:
    result = smlocal("--home", tmp_path / "home", "describe", name)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def assert_failed_because_abandoned(tmp_path, name, phase):
    state = described(tmp_path, name)
    assert (state["TrainingJobStatus"], state["SecondaryStatus"]) == ("Failed", "Failed")
    assert state["FailureReason"].startswith("InternalServerError: The process that ran this job (pid ")
    assert f"ended while the job was InProgress ({phase}) without finishing it" in state["FailureReason"]
    listed = smlocal("--home", tmp_path / "home", "list").output
    assert any(line.split()[2:] == ["Failed", "Failed", name] for line in listed.splitlines()), listed
    return state


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    return folder


def test_killed_while_staging(tmp_path, data):
    proc = start_train(tmp_path, "kill-staging", "--channel", f"train={data}", pause_at="staging")
    wait_until((tmp_path / "kill-staging.paused").exists, 30, "the CLI to reach staging")
    kill_cli(proc)
    assert job_processes("kill-staging") == []
    assert_failed_because_abandoned(tmp_path, "kill-staging", "Downloading")
    assert smlocal("--home", tmp_path / "home", "delete", "kill-staging").exit_code == 0


def test_killed_while_training_leaves_no_process_behind(tmp_path, data):
    proc = start_train(tmp_path, "kill-training", "--channel", f"train={data}",
                       command=[sys.executable, "-c", SPAWNING_ALGORITHM])
    wait_until(lambda: "ready" in (tmp_path / "kill-training.out").read_text(), 30, "the algorithm to start")
    wait_until(lambda: len(job_processes("kill-training")) >= 2, 10, "the algorithm and its child")
    kill_cli(proc)
    wait_until(lambda: job_processes("kill-training") == [], 5, "the job's processes to end with the CLI")
    assert_failed_because_abandoned(tmp_path, "kill-training", "Training")


def test_killed_while_packing_the_model_leaves_no_partial_tarball(tmp_path, data):
    proc = start_train(tmp_path, "kill-packing", "--channel", f"train={data}", pause_at="packing-model")
    wait_until((tmp_path / "kill-packing.paused").exists, 30, "the CLI to pack the model")
    kill_cli(proc)
    state = assert_failed_because_abandoned(tmp_path, "kill-packing", "Uploading")
    # Describe names where model.tar.gz would be (the model requires it), but the job claims none.
    assert JobStore.open(JobHome(tmp_path / "home")).job("kill-packing").result.model_artifacts is None
    assert not Path(state["ModelArtifacts"]["S3ModelArtifacts"]).exists()
    assert not (tmp_path / "home" / "output" / "kill-packing" / "output" / "model.tar.gz").exists()


def test_a_model_packed_before_the_kill_is_kept_and_warm_starts_the_next_job(tmp_path, data):
    proc = start_train(tmp_path, "kill-after-model", "--channel", f"train={data}", pause_at="packing-output")
    wait_until((tmp_path / "kill-after-model.paused").exists, 30, "the CLI to pack output.tar.gz")
    kill_cli(proc)
    state = assert_failed_because_abandoned(tmp_path, "kill-after-model", "Uploading")
    model = Path(state["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(model) as tar:
        assert [m.name for m in tar.getmembers() if m.isfile()] == ["model-algo-1.txt"]
    nxt = start_train(tmp_path, "warm-start", "--channel", f"train={data}", "--model-uri", model)
    assert nxt.wait(60) == 0, (tmp_path / "warm-start.out").read_text()
    with tarfile.open(tmp_path / "home" / "output" / "warm-start" / "output" / "output.tar.gz") as tar:
        seen = json.load(tar.extractfile("seen-algo-1.json"))
    assert seen["channels"]["model"] == {
        "model.tar.gz": {"sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "writable": True}}


@pytest.mark.slow
def test_image_classification_killed_mid_training_then_warm_started_from_the_last_complete_model(tmp_path):
    """The real algorithm: its processes end with the CLI, and the earlier job's model still warm-starts."""
    data = ic_jobs.make_data(tmp_path / "data", shards=1)
    channels = [ic_jobs.channel("train", data["shards"]),
                ic_jobs.channel("validation", data["validation"]["rec"])]
    first = ic_jobs.run(ic_jobs.request("base", channels, tmp_path / "out", epochs=1, num_training_samples=32),
                        tmp_path / "home").result
    assert first.status == "Completed", first.failure_reason

    spec = tmp_path / "killed.json"
    body = ic_jobs.request("killed", channels + [ic_jobs.channel("model", first.model_artifacts, content_type=None)],
                           tmp_path / "out", epochs=500, num_training_samples=32)
    spec.write_text(json.dumps(body))
    proc = start_train(tmp_path, "killed", "--spec", spec, command=[sys.executable, "-m", "container", "train"])
    wait_until(lambda: "Epoch[0]" in (tmp_path / "killed.out").read_text(), 120, "training to begin")
    assert job_processes("killed")
    kill_cli(proc)
    wait_until(lambda: job_processes("killed") == [], 10, "the algorithm to end with the CLI")
    assert_failed_because_abandoned(tmp_path, "killed", "Training")

    again = ic_jobs.run(ic_jobs.request("resumed", channels + [ic_jobs.channel("model", first.model_artifacts,
                                                                                content_type=None)],
                                        tmp_path / "out", epochs=1, num_training_samples=32), tmp_path / "home")
    assert again.result.status == "Completed", again.result.failure_reason
    assert "Incremental training: initialising from" in (again.dir.root / "job.log").read_text()


def docker_image(tag: str):
    """The built image's tag; without an engine or the image: skip, or fail under CI."""
    from tests.integration.conftest import unavailable

    try:
        import docker

        docker.from_env().images.get(tag)
    except Exception as exc:  # noqa: BLE001 - no SDK, no engine, no image
        unavailable(f"needs a Docker engine and the image {tag} ({exc})")
    return tag


@pytest.mark.docker
@pytest.mark.slow
def test_docker_job_killed_mid_training_leaves_no_container(tmp_path):
    import docker

    image = docker_image(os.environ.get("SMLOCAL_IC_IMAGE", "smlocal/image-classification:latest"))
    data = ic_jobs.make_data(tmp_path / "data", shards=1)
    spec = tmp_path / "docker-killed.json"
    body = ic_jobs.request("docker-killed", [ic_jobs.channel("train", data["shards"]),
                                             ic_jobs.channel("validation", data["validation"]["rec"])],
                           tmp_path / "out", epochs=500, num_training_samples=32)
    body["AlgorithmSpecification"] = {"TrainingInputMode": "File", "TrainingImage": image}
    spec.write_text(json.dumps(body))
    proc = start_train(tmp_path, "docker-killed", "--spec", spec, "--image", image)
    wait_until(lambda: "Epoch[0]" in (tmp_path / "docker-killed.out").read_text(), 300, "training to begin")
    kill_cli(proc)
    client = docker.from_env()

    def container_gone():
        try:
            client.containers.get("smlocal-docker-killed-algo-1")
            return False
        except docker.errors.NotFound:
            return True

    wait_until(container_gone, 60, "the watcher to remove the container")
    assert job_processes("docker-killed") == []
    assert_failed_because_abandoned(tmp_path, "docker-killed", "Training")
