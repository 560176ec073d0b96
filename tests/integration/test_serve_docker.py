"""`docker run IMAGE serve` from the built image: the model directory mounted at /opt/ml/model,
the port given by SAGEMAKER_BIND_TO_PORT on the host network, predictions over HTTP equal to the
in-process predictor's, and `docker stop` (SIGTERM) ending the server with exit code 0."""
from __future__ import annotations

import json
import subprocess
import uuid

import numpy as np
import pytest
import requests

from algorithms.image_classification.inference import load
from emulator.sample_data import class_image, encode
from tests.functional.serving import models
from tests.functional.serving.conftest import free_port, wait_for_ping

pytestmark = pytest.mark.docker


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def test_image_classification_image_serves_a_model(ic_image, tmp_path):
    model = models.image_classification(tmp_path / "model")
    image = encode(class_image(1, 4, (40, 50), np.random.RandomState(0)))
    expected = json.loads(load(model).predict(image, "image/jpeg", None)[0])
    port, name = free_port(), f"smlocal-serve-test-{uuid.uuid4().hex[:8]}"
    started = _docker("run", "-d", "--name", name, "--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={port}",
                      "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1", "-v", f"{model}:/opt/ml/model:ro", ic_image, "serve")
    assert started.returncode == 0, started.stderr
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_ping(url, 120):
            pytest.fail("no healthy /ping:\n" + _docker("logs", name).stdout[-3000:])
        response = requests.post(f"{url}/invocations", data=image, headers={"Content-Type": "application/x-image"},
                                 timeout=60)
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json(), expected, rtol=1e-4, atol=1e-5)
        bad = requests.post(f"{url}/invocations", data=b"", headers={"Content-Type": "image/jpeg"}, timeout=30)
        assert bad.status_code == 400 and "empty" in bad.text
        assert _docker("stop", "-t", "30", name).returncode == 0
        assert _docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
        logs = _docker("logs", name)
        assert "Docker entrypoint called with argument(s): serve" in logs.stdout + logs.stderr
    finally:
        _docker("rm", "-f", name)
