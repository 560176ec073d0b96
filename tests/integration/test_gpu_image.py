"""The GPU image on a GPU host (make gpu-test): MXNet sees the GPUs and a tiny job trains on them."""
from __future__ import annotations

import os

import pytest

from emulator.runners.base import HostLayout, RunRequest
from emulator.runners.docker_runner import DockerRunner
from tests.integration.conftest import ic_job, image_name, require_image

pytestmark = [pytest.mark.docker, pytest.mark.gpu]


@pytest.fixture(scope="module")
def gpu_image(docker_client):
    if "nvidia" not in (docker_client.info().get("Runtimes") or {}) and not os.path.exists("/dev/nvidiactl"):
        pytest.skip("no GPU on this machine")
    return require_image(docker_client, os.environ.get("SMLOCAL_GPU_IMAGE", image_name("image-classification", "gpu")))


def test_mxnet_in_the_gpu_image_sees_the_gpus(gpu_image, docker_client):
    from docker.types import DeviceRequest

    out = docker_client.containers.run(
        gpu_image, ["-c", "import mxnet as mx; print(mx.context.num_gpus(), mx.nd.ones((2, 2), ctx=mx.gpu(0)).sum())"],
        entrypoint=["python"], network_mode="none", remove=True,
        device_requests=[DeviceRequest(count=-1, capabilities=[["gpu"]])])
    assert int(out.decode().split()[0]) >= 1


def test_gpu_instance_type_trains_on_the_gpu(gpu_image, ic_data, tmp_path, log_lines):
    tree = ic_job(tmp_path / "job", ic_data)
    request = RunRequest(job_name="ic-gpu", algorithm="image-classification", image=gpu_image,
                         instance_type="ml.p3.2xlarge", hosts=[HostLayout("algo-1", tree.base)])
    job = DockerRunner(strict_gpu=True, model_store="").start(request, log_lines)
    assert job.wait(900) == {"algo-1": 0}, log_lines.text()
    assert job.gpu and "all GPUs" in log_lines.text()
    assert list(tree.model.glob("image-classification-*.params"))
