"""What the Docker runner asks the engine for, per host (no engine needed)."""
import json

from emulator.instance_types import GIB, HostCapacity, lookup
from emulator.runners.base import HostLayout, RunRequest
from emulator.runners.docker_runner import DockerRunner

HOST = HostCapacity(cpus=64, memory_bytes=512 * GIB)


def runner(**kwargs):
    kwargs.setdefault("host_capacity", HOST)
    kwargs.setdefault("model_store", "")
    return DockerRunner(client=object(), **kwargs)


def request_for(tmp_path, hosts=("algo-1",), checkpoints=False, instance="ml.m5.xlarge", local_path=None):
    layouts = [HostLayout(h, tmp_path / h, (tmp_path / f"ckpt-{h}") if checkpoints else None) for h in hosts]
    return RunRequest(job_name="opts-job", algorithm="image-classification", image="smlocal/image-classification:latest",
                      instance_type=instance, hosts=layouts, environment={"FOO": "bar"},
                      checkpoint_local_path=local_path)


def options(run, req, host=0, gpu=False):
    return run.container_options(req, req.hosts[host], lookup(req.instance_type), gpu)


def mounts_by_target(opts):
    return {m["Target"]: (m["Source"], m["ReadOnly"]) for m in opts["mounts"]}


def test_single_host_runs_train_isolated_with_the_opt_ml_parts_mounted(tmp_path):
    req = request_for(tmp_path)
    opts = options(runner(), req)
    assert opts["command"] == ["train"] and opts["entrypoint"] is None
    assert opts["network_mode"] == "none"
    assert opts["hostname"] == "algo-1" and opts["extra_hosts"] == {"algo-1": "127.0.0.1"}
    base = tmp_path / "algo-1"
    assert mounts_by_target(opts) == {
        "/opt/ml/input/config": (str(base / "input" / "config"), True),
        "/opt/ml/input/data": (str(base / "input" / "data"), True),
        "/opt/ml/model": (str(base / "model"), False),
        "/opt/ml/output": (str(base / "output"), False),
    }
    env = opts["environment"]
    assert env["FOO"] == "bar" and env["TRAINING_JOB_NAME"] == "opts-job"
    assert json.loads(env["SMLOCAL_HOST_ADDRESSES"]) == {"algo-1": "127.0.0.1"}
    assert "device_requests" not in opts
    assert "ulimits" not in opts  # never above the host's hard limits: the engine's defaults apply


def test_instance_type_sets_cpu_memory_and_shm(tmp_path):
    opts = options(runner(), request_for(tmp_path, instance="ml.c5.2xlarge"))
    assert opts["nano_cpus"] == 8 * 10**9
    assert opts["mem_limit"] == 16 * GIB
    assert opts["shm_size"] == 8 * GIB
    local = options(runner(), request_for(tmp_path, instance="local"))
    assert "nano_cpus" not in local and "mem_limit" not in local and local["shm_size"] >= GIB


def test_checkpoint_directory_is_mounted_where_the_job_says(tmp_path):
    default = mounts_by_target(options(runner(), request_for(tmp_path, checkpoints=True)))
    assert default["/opt/ml/checkpoints"] == (str(tmp_path / "ckpt-algo-1"), False)
    custom = mounts_by_target(options(runner(), request_for(tmp_path, checkpoints=True, local_path="/ckpt")))
    assert custom["/ckpt"] == (str(tmp_path / "ckpt-algo-1"), False)
    assert "/opt/ml/checkpoints" not in custom


def test_several_hosts_share_the_host_network_with_names_mapped(tmp_path):
    req = request_for(tmp_path, hosts=("algo-1", "algo-2"))
    second = options(runner(), req, host=1)
    assert second["network_mode"] == "host"
    assert second["hostname"] == "algo-2"
    assert second["name"] == "smlocal-opts-job-algo-2"
    assert second["extra_hosts"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    assert json.loads(second["environment"]["SMLOCAL_HOST_ADDRESSES"]) == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    assert mounts_by_target(second)["/opt/ml/model"][0] == str(tmp_path / "algo-2" / "model")


def test_gpu_request_asks_for_all_gpus(tmp_path):
    opts = options(runner(), request_for(tmp_path, instance="ml.p3.2xlarge"), gpu=True)
    (device,) = opts["device_requests"]
    assert device["Count"] == -1 and device["Capabilities"] == [["gpu"]]


def test_model_store_is_mounted_read_only_when_it_exists(tmp_path):
    store = tmp_path / "weights"
    store.mkdir()
    mounts = mounts_by_target(options(runner(model_store=store), request_for(tmp_path)))
    assert mounts["/opt/ml-models"] == (str(store), True)
    missing = mounts_by_target(options(runner(model_store=tmp_path / "nope"), request_for(tmp_path)))
    assert "/opt/ml-models" not in missing


def test_model_store_defaults_to_the_callers_environment(tmp_path, monkeypatch):
    store = tmp_path / "from-env"
    store.mkdir()
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(store))
    run = DockerRunner(client=object(), host_capacity=HOST)
    assert mounts_by_target(options(run, request_for(tmp_path)))["/opt/ml-models"] == (str(store), True)


def test_container_entrypoint_replaces_train(tmp_path):
    opts = options(runner(entrypoint=["python", "-c", "print(1)"]), request_for(tmp_path))
    assert opts["entrypoint"] == ["python", "-c", "print(1)"] and opts["command"] is None


def test_model_store_defaults_to_the_store_smlocal_pretrained_fills(tmp_path, monkeypatch):
    monkeypatch.delenv("SMLOCAL_MODEL_STORE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    store = tmp_path / ".smlocal" / "models"
    store.mkdir(parents=True)
    run = DockerRunner(client=object(), host_capacity=HOST)
    assert mounts_by_target(options(run, request_for(tmp_path)))["/opt/ml-models"] == (str(store), True)
