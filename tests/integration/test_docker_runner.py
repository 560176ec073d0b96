"""The Docker runner against a real engine: mounts, network, limits, logs, stop, ownership, GPU fallback.

The image's entry point is replaced by a probe (tests/integration/probe.py) that reports what the
container got; the training entry itself is covered in test_image.py.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from emulator.instance_types import GIB, HostCapacity
from emulator.runners.base import HostLayout, RunRequest
from emulator.runners.docker_runner import DockerRunner, DockerRunnerError, GpuUnavailableError

pytestmark = pytest.mark.docker

PROBE = (Path(__file__).parent / "probe.py").read_text()
OWNER = (4321, 4322)


def probe_runner(mode: str, *extra: str, **kwargs) -> DockerRunner:
    kwargs.setdefault("owner", OWNER)
    kwargs.setdefault("model_store", "")
    return DockerRunner(entrypoint=["python", "-c", PROBE, mode, *extra], **kwargs)


def job_tree(tmp_path: Path, hosts=("algo-1",), checkpoints=False) -> list[HostLayout]:
    layouts = []
    for host in hosts:
        base = tmp_path / host
        for sub in ("input/config", "input/data/train", "model", "output/data"):
            (base / sub).mkdir(parents=True)
        (base / "input" / "data" / "train" / "part-0.csv").write_text("1,2,3\n")
        config = {"current_host": host, "hosts": list(hosts), "network_interface_name": "eth0"}
        (base / "input" / "config" / "resourceconfig.json").write_text(json.dumps(config))
        checkpoint_dir = None
        if checkpoints:
            checkpoint_dir = tmp_path / f"checkpoints-{host}"
            checkpoint_dir.mkdir()
            (base / "input" / "config" / "checkpointconfig.json").write_text(json.dumps({"LocalPath": "/opt/ml/ckpt"}))
        layouts.append(HostLayout(host, base, checkpoint_dir))
    return layouts


def request(image: str, hosts: list[HostLayout], instance="ml.m5.large", name="probe-job") -> RunRequest:
    return RunRequest(job_name=name, algorithm="image-classification", image=image, instance_type=instance,
                      hosts=hosts, environment={"FOO": "bar"},
                      checkpoint_local_path="/opt/ml/ckpt" if hosts[0].checkpoint_dir else None)


def report(host: HostLayout) -> dict:
    return json.loads((host.base / "model" / "probe.json").read_text())


def leftover_containers(client, job: str) -> list:
    return client.containers.list(all=True, filters={"label": f"smlocal.job={job}"})


def test_single_host_gets_its_mounts_no_network_shm_and_instance_limits(ic_image, docker_client, tmp_path, log_lines):
    hosts = job_tree(tmp_path, checkpoints=True)
    # A pretend 1-CPU, 3 GiB machine: ml.c5.xlarge (4 vCPUs, 8 GiB) is capped at what it has.
    runner = probe_runner("report", host_capacity=HostCapacity(cpus=1, memory_bytes=3 * GIB))
    codes = runner.start(request(ic_image, hosts, instance="ml.c5.xlarge"), log_lines).wait(120)
    assert codes == {"algo-1": 0}, log_lines.text()
    got = report(hosts[0])
    assert got["pid"] == 1
    assert got["interfaces"] == ["lo"]
    assert got["hostname"] == "algo-1" and got["resolved"] == {"algo-1": "127.0.0.1"}
    assert got["limits"] == {"memory": 3 * GIB, "cpus": 1.0}
    assert got["shm_bytes"] == int(1.5 * GIB)
    assert got["writable"] == {"/opt/ml/input/config": False, "/opt/ml/input/data": False, "/opt/ml/model": True,
                               "/opt/ml/output": True, "/opt/ml/ckpt": True,
                               "/opt/ml-models": True}  # the image's own (empty) store: no store mounted
    assert got["channels"] == ["train"]
    assert got["env"] == {"TRAINING_JOB_NAME": "probe-job", "SAGEMAKER_ALGORITHM": "image-classification", "FOO": "bar"}
    assert (hosts[0].checkpoint_dir / "ckpt.bin").read_bytes() == b"c"
    assert "network none" in log_lines.text() and "1 CPUs, 3.0 GiB memory" in log_lines.text()
    assert leftover_containers(docker_client, "probe-job") == []


def test_files_the_container_wrote_belong_to_the_caller(ic_image, tmp_path, log_lines):
    hosts = job_tree(tmp_path, checkpoints=True)
    data_file = hosts[0].base / "input" / "data" / "train" / "part-0.csv"
    data_owner = (data_file.stat().st_uid, data_file.stat().st_gid)
    codes = probe_runner("report").start(request(ic_image, hosts), log_lines).wait(120)
    assert codes == {"algo-1": 0}, log_lines.text()
    written = [p for d in (hosts[0].base / "model", hosts[0].base / "output", hosts[0].checkpoint_dir)
               for p in [d, *d.rglob("*")]]
    assert {"probe.json", "weights.bin", "link", "extra.txt", "ckpt.bin"} <= {p.name for p in written}
    assert {(p.lstat().st_uid, p.lstat().st_gid) for p in written} == {OWNER}
    # Input data (possibly hard links to the user's files) is never touched.
    assert (data_file.stat().st_uid, data_file.stat().st_gid) == data_owner


def test_logs_stream_live_and_stop_delivers_sigterm_to_pid_1(ic_image, docker_client, tmp_path, log_lines):
    hosts = job_tree(tmp_path)
    job = probe_runner("wait").start(request(ic_image, hosts, name="stop-job"), log_lines)
    assert log_lines.wait_for("ready", 60), log_lines.text()
    assert job.wait(timeout=0.5) is None  # still running: the line arrived while the container ran
    started = time.monotonic()
    job.stop(grace_seconds=60)
    codes = job.wait(60)
    assert time.monotonic() - started < 15
    assert codes == {"algo-1": 0}
    assert (hosts[0].base / "output" / "stopped").read_text() == "SIGTERM"
    assert "got SIGTERM" in log_lines.text()
    assert leftover_containers(docker_client, "stop-job") == []


def test_stop_kills_what_ignores_sigterm_after_the_grace_period(ic_image, tmp_path, log_lines):
    hosts = job_tree(tmp_path)
    job = probe_runner("ignore-term").start(request(ic_image, hosts, name="kill-job"), log_lines)
    assert log_lines.wait_for("ready", 60), log_lines.text()
    started = time.monotonic()
    job.stop(grace_seconds=2)
    codes = job.wait(60)
    assert 1.5 < time.monotonic() - started < 20
    assert codes == {"algo-1": 137}  # 128 + SIGKILL


def test_two_hosts_share_the_host_network_and_one_failure_stops_the_other(ic_image, tmp_path, log_lines):
    hosts = job_tree(tmp_path, hosts=("algo-1", "algo-2"))
    runner = probe_runner("wait", "algo-2", fail_fast_grace_seconds=30)
    codes = runner.start(request(ic_image, hosts, name="pair-job"), log_lines).wait(120)
    assert codes == {"algo-1": 0, "algo-2": 3}, log_lines.text()
    first = report(hosts[0])
    assert first["hostname"] == "algo-1"
    assert first["resolved"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    assert first["interfaces"] != ["lo"]  # the machine's interfaces: --network host
    assert (hosts[0].base / "output" / "stopped").read_text() == "SIGTERM"
    assert "algo-2 fails on purpose" in log_lines.text("algo-2")
    assert "Host algo-2 exited with code 3; stopping the other hosts." in log_lines.text()


def _engine_has_gpus(client) -> bool:
    return "nvidia" in (client.info().get("Runtimes") or {})


def test_gpu_instance_type_without_gpus_runs_on_cpu_with_a_warning(ic_image, docker_client, tmp_path, log_lines):
    if _engine_has_gpus(docker_client):
        pytest.skip("this engine can give GPUs to containers; the fallback cannot happen here")
    hosts = job_tree(tmp_path)
    codes = probe_runner("report").start(request(ic_image, hosts, instance="ml.p3.2xlarge"), log_lines).wait(120)
    assert codes == {"algo-1": 0}
    warning = [line for _, line in log_lines.lines if line.startswith("WARNING")]
    assert len(warning) == 1 and "ml.p3.2xlarge has GPUs" in warning[0] and "training on CPU" in warning[0]


def test_strict_gpu_makes_a_missing_gpu_an_error(ic_image, docker_client, tmp_path, log_lines):
    if _engine_has_gpus(docker_client):
        pytest.skip("this engine can give GPUs to containers; the error cannot happen here")
    hosts = job_tree(tmp_path)
    with pytest.raises(GpuUnavailableError, match="ml.g4dn.xlarge needs GPUs"):
        probe_runner("report", strict_gpu=True).start(
            request(ic_image, hosts, instance="ml.g4dn.xlarge", name="strict-job"), log_lines)
    assert leftover_containers(docker_client, "strict-job") == []
    assert not (hosts[0].base / "model" / "probe.json").exists()


def test_missing_image_is_a_clear_error(docker_client, tmp_path, log_lines):
    with pytest.raises(DockerRunnerError, match="smlocal/no-such-image:1.*does not exist.*make build"):
        DockerRunner().start(request("smlocal/no-such-image:1", job_tree(tmp_path)), log_lines)


def test_model_store_is_mounted_read_only(ic_image, tmp_path, log_lines):
    store = tmp_path / "weights"
    store.mkdir()
    hosts = job_tree(tmp_path)
    codes = probe_runner("report", model_store=store).start(request(ic_image, hosts), log_lines).wait(120)
    assert codes == {"algo-1": 0}
    assert report(hosts[0])["writable"]["/opt/ml-models"] is False
    assert os.listdir(store) == []
