"""Endpoints served by the built image with the Docker runner: `docker run IMAGE serve` with the
model mounted read-only, the container's port 8080 published on a loopback port, InService once
/ping answers, predictions through the runtime route, the container removed on delete, and a
model the server cannot load failing the endpoint with the container's own log line."""
from __future__ import annotations

import json
import tarfile
import time

import numpy as np
import pytest
import requests

from emulator.hosting.records import ENDPOINT
from emulator.sample_data import class_image, encode
from tests.functional.hosting.conftest import IC_IMAGE, deploy, start_hosting, wait_status
from tests.functional.serving import models

pytestmark = pytest.mark.docker


def packed(folder, target):
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return target


@pytest.fixture
def docker_hosting(tmp_path, ic_image):  # noqa: ARG001 - the image must exist
    service = start_hosting(tmp_path / "home", runner="docker")
    yield service
    service.shutdown(10)


def test_an_endpoint_in_docker_serves_and_goes_away(docker_hosting, docker_client, tmp_path):
    model = packed(models.image_classification(tmp_path / "model"), tmp_path / "model.tar.gz")
    deploy(docker_hosting, "docker-ep", model.as_uri())
    body = wait_status(docker_hosting, ENDPOINT, "docker-ep", ("InService", "Failed"), timeout=180)
    assert body["EndpointStatus"] == "InService", body.get("FailureReason")
    instance = docker_hosting.route("docker-ep")
    assert instance.server.url.startswith("http://127.0.0.1:")
    container = docker_client.containers.get(instance.server.name)
    assert container.labels["smlocal.serving"] == "docker-ep"
    mount = next(m for m in container.attrs["Mounts"] if m["Destination"] == "/opt/ml/model")
    assert mount["RW"] is False
    assert container.attrs["HostConfig"]["NanoCpus"] > 0  # the instance type's CPUs (capped at the machine's)
    image = encode(class_image(1, 4, (40, 50), np.random.RandomState(0)))
    answer = requests.post(f"{instance.server.url}/invocations", data=image,
                           headers={"Content-Type": "image/jpeg"}, timeout=60)
    probabilities = json.loads(answer.content)
    assert answer.status_code == 200 and len(probabilities) == 4 and abs(sum(probabilities) - 1) < 1e-5
    group = docker_hosting.ctx.logs.group("/aws/sagemaker/Endpoints/docker-ep")
    lines = [e.message for s in group.log_streams() for e in group.log_events(s.name)]
    assert any(line.startswith("[smlocal] Runner: docker (forced by --runner docker), image smlocal/image-"
                               "classification:latest") for line in lines)
    assert any("Docker entrypoint called with argument(s): serve" in line for line in lines)

    docker_hosting.delete_endpoint("docker-ep")
    deadline = time.monotonic() + 60
    while docker_hosting.ctx.resources.get(ENDPOINT, "docker-ep") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not docker_client.containers.list(all=True, filters={"label": "smlocal.serving=docker-ep"})


def test_a_model_the_image_cannot_load_fails_with_its_log(docker_hosting, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "notes.txt").write_text("no network here")
    deploy(docker_hosting, "docker-bad", packed(folder, tmp_path / "model.tar.gz").as_uri(), image=IC_IMAGE)
    body = wait_status(docker_hosting, ENDPOINT, "docker-bad", ("InService", "Failed"), timeout=180)
    assert body["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check. The container exited with code" in body["FailureReason"]
    # The image's own words for it, not gunicorn's shutdown traceback that follows them.
    cause = body["FailureReason"].split("Its last log lines:", 1)[1]
    assert "Customer Error: cannot load the model in /opt/ml/model" in cause, cause
