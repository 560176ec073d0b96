"""The built CPU image: `docker run IMAGE train` on tiny jobs, SIGTERM handling, tags, hygiene."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from emulator.runners.base import HostLayout, RunRequest
from emulator.runners.docker_runner import DockerRunner
from tests.integration.conftest import ALGORITHMS, ic_job, image_name, require_image

pytestmark = pytest.mark.docker

ARTIFACTS = {"image-classification-symbol.json", "model-shapes.json", "image-classification-0001.params"}
OWNER = (4321, 4322)


def docker_run_train(image: str, base: Path) -> subprocess.CompletedProcess:
    """Exactly SageMaker's invocation: `docker run IMAGE train` with /opt/ml mounted, no network."""
    mounts = []
    for part in ("input", "model", "output"):
        (base / part).mkdir(parents=True, exist_ok=True)
        mounts += ["-v", f"{base / part}:/opt/ml/{part}"]
    return subprocess.run(["docker", "run", "--rm", "--network", "none", *mounts, image, "train"],
                          capture_output=True, text=True, timeout=600)


def test_docker_run_train_trains_a_tiny_image_classification_job(ic_image, ic_data, tmp_path):
    tree = ic_job(tmp_path / "job", ic_data)
    result = docker_run_train(ic_image, tree.base)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p.name for p in tree.model.iterdir()} == ARTIFACTS
    assert "Docker entrypoint called with argument(s): train" in result.stdout
    assert "Validation-accuracy=" in result.stdout
    assert (tree.base / "output" / "success").exists() and tree.failure is None


def test_bad_hyperparameter_fails_the_job_with_a_failure_file(ic_image, ic_data, tmp_path):
    tree = ic_job(tmp_path / "job", ic_data, num_layers=17)
    result = docker_run_train(ic_image, tree.base)
    assert result.returncode != 0
    assert tree.failure.startswith("ClientError") and "num_layers" in tree.failure
    assert not list(tree.model.glob("*.params"))


def runner_request(image: str, base: Path, name: str) -> RunRequest:
    return RunRequest(job_name=name, algorithm="image-classification", image=image, instance_type="local",
                      hosts=[HostLayout("algo-1", base)])


def test_image_classification_job_through_the_docker_runner(ic_image, ic_data, tmp_path, log_lines):
    tree = ic_job(tmp_path / "job", ic_data, epochs=2)
    job = DockerRunner(owner=OWNER, model_store="").start(runner_request(ic_image, tree.base, "ic-docker"), log_lines)
    assert job.wait(600) == {"algo-1": 0}, log_lines.text()
    assert {p.name for p in tree.model.iterdir()} >= {"image-classification-symbol.json", "model-shapes.json"}
    assert list(tree.model.glob("image-classification-000[12].params"))
    assert json.loads((tree.model / "model-shapes.json").read_text()) == [{"shape": [16, 3, 28, 28], "name": "data"}]
    assert "Epoch[1] Validation-accuracy=" in log_lines.text()
    assert {(p.stat().st_uid, p.stat().st_gid) for p in tree.model.iterdir()} == {OWNER}


def test_stopped_job_exits_promptly_with_a_saved_model(ic_image, ic_data, tmp_path, log_lines):
    tree = ic_job(tmp_path / "job", ic_data, epochs=200, mini_batch_size=8)
    job = DockerRunner(model_store="").start(runner_request(ic_image, tree.base, "ic-stop"), log_lines)
    assert log_lines.wait_for("Epoch[1] Train-accuracy", 300), log_lines.text()
    started = time.monotonic()
    job.stop(grace_seconds=120)  # StopTrainingJob: SIGTERM, SIGKILL only after 120 s
    codes = job.wait(180)
    assert codes == {"algo-1": 0}, log_lines.text()
    assert time.monotonic() - started < 60
    assert "Received SIGTERM" in log_lines.text()
    assert list(tree.model.glob("image-classification-*.params"))
    assert (tree.model / "image-classification-symbol.json").exists()


def test_the_three_algorithm_tags_share_every_layer(docker_client):
    images = [docker_client.images.get(require_image(docker_client, image_name(a))) for a in ALGORITHMS]
    layers = {tuple(image.attrs["RootFS"]["Layers"]) for image in images}
    assert len(layers) == 1, "the tags differ in more than their last (metadata-only) instruction"
    for algorithm, image in zip(ALGORITHMS, images):
        config = image.attrs["Config"]
        assert f"SAGEMAKER_ALGORITHM={algorithm}" in config["Env"]
        assert config["Entrypoint"] == ["python", "-m", "container"]


def test_image_is_lean(ic_image, docker_client):
    assert docker_client.images.get(ic_image).attrs["Size"] < 1_000_000_000
    out = docker_client.containers.run(
        ic_image, ["-c", "for t in gcc cc g++ make; do command -v $t; done; find /root/.cache /var/lib/apt/lists "
                         "/opt/venv/lib/python3.11/site-packages/pandas/tests -mindepth 1 2>/dev/null; true"],
        entrypoint=["sh"], network_mode="none", remove=True)
    assert out.decode().split() == []
