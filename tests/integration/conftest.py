"""Fixtures for tests that drive the built images through a Docker engine.

Without an engine or without the image these tests skip on a workstation, and fail under CI
(CI=true), where `.ci/run` starts dockerd and builds the images first.
"""
from __future__ import annotations

import os
import threading
import time

import pytest

from tests.unavailable import unavailable as missing

IMAGE_REPO = os.environ.get("SMLOCAL_IMAGE_REPO", "smlocal")
IMAGE_TAG = os.environ.get("SMLOCAL_IMAGE_TAG", "latest")
ALGORITHMS = ("image-classification", "object-detection", "semantic-segmentation")


def unavailable(reason: str) -> None:
    missing(reason, ".ci/run starts dockerd and builds the images")


def image_name(algorithm: str, tag: str = IMAGE_TAG) -> str:
    return f"{IMAGE_REPO}/{algorithm}:{tag}"


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable engine
        unavailable(f"no Docker engine ({exc})")
    return client


def require_image(client, name: str) -> str:
    import docker.errors

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        unavailable(f"image {name} is not built (make build)")
    return name


@pytest.fixture(scope="session")
def ic_image(docker_client) -> str:
    return require_image(docker_client, image_name("image-classification"))


class LogLines:
    """A LogSink that keeps (host, line) pairs and lets a test wait for a line."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def __call__(self, host: str, line: str) -> None:
        with self._changed:
            self.lines.append((host, line))
            self._changed.notify_all()

    def text(self, host: str | None = None) -> str:
        with self._changed:
            return "\n".join(line for h, line in self.lines if host is None or h == host)

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(needle in line for _, line in self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True


@pytest.fixture
def log_lines() -> LogLines:
    return LogLines()


# ---- a tiny image-classification job (4 classes, 32x32 images, RecordIO channels) -------------

IC_CLASSES = 4


@pytest.fixture(scope="session")
def ic_data(tmp_path_factory):
    from emulator.sample_data import make_classification_set

    root = tmp_path_factory.mktemp("ic-data")
    return {"train": make_classification_set(root / "train", IC_CLASSES, 16, size=(32, 32), seed=1),
            "validation": make_classification_set(root / "validation", IC_CLASSES, 4, size=(32, 32), seed=2)}


def ic_job(base, data, **hyperparameters):
    """A job tree (tests/jobtree.py) for a one-epoch ResNet-18 on `data`; keyword args override."""
    from tests.jobtree import make_tree

    hp = {"num_layers": 18, "num_classes": IC_CLASSES, "num_training_samples": 64, "image_shape": "3,28,28",
          "mini_batch_size": 16, "epochs": 1, "learning_rate": 0.05, **hyperparameters}
    channels = {name: {"files": [data[name]["rec"]], "content_type": "application/x-recordio"}
                for name in ("train", "validation")}
    return make_tree(base, hp, channels)
