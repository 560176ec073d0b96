"""A real `python -m container serve` (gunicorn) on a free loopback port, over model directories
written by the algorithms' own export code."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.functional.serving import models

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def invoke(self, body: bytes, content_type: str | None = "image/jpeg", accept: str | None = None,
               timeout: float = 120) -> requests.Response:
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        return requests.post(f"{self.url}/invocations", data=body, headers=headers, timeout=timeout)

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def start_server(base: Path, algorithm: str, log_path: Path, wait: bool = True, **env: str) -> Server:
    """Serve `base`/model; returns once /ping answers 200 (unless wait=False)."""
    port = free_port()
    environ = {**os.environ, "SAGEMAKER_ALGORITHM": algorithm, "SAGEMAKER_BASE_DIR": str(base),
               "SAGEMAKER_BIND_TO_PORT": str(port), "SMLOCAL_SERVE_HOST": "127.0.0.1",
               "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "PYTHONPATH": str(REPO), **env}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "container", "serve"], cwd=REPO, env=environ,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    if wait:
        wait_until_healthy(server)
    return server


def wait_for_ping(url: str, timeout: float, stopped=lambda: False) -> bool:
    """True once GET url/ping answers 200; False after `timeout` s or once `stopped()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopped():
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return True
        except requests.RequestException:  # not listening yet, or no worker free
            pass
        time.sleep(0.1)
    return False


def wait_until_healthy(server: Server, timeout: float = 180) -> None:
    if not wait_for_ping(server.url, timeout, lambda: server.process.poll() is not None):
        raise AssertionError(f"server not healthy (exit code {server.process.poll()}):\n{server.log()[-3000:]}")


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    """One SAGEMAKER_BASE_DIR per algorithm, its model/ written by the algorithm's export."""
    root = tmp_path_factory.mktemp("serving-models")
    builders = {"image-classification": models.image_classification, "object-detection": models.object_detection,
                "semantic-segmentation": models.semantic_segmentation,
                "builtin-image-classification": models.builtin_image_classification}
    bases = {}
    for name, build in builders.items():
        build(root / name / "model")
        bases[name] = root / name
    return bases


@pytest.fixture(scope="session")
def servers(model_dirs, tmp_path_factory):
    """Running servers, started on first use and stopped at the end of the session."""
    started: dict[str, Server] = {}
    logs = tmp_path_factory.mktemp("serving-logs")

    def get(name: str) -> Server:
        if name not in started:
            algorithm = name.removeprefix("builtin-")
            started[name] = start_server(model_dirs[name], algorithm, logs / f"{name}.log")
        return started[name]

    yield get
    for server in started.values():
        server.stop()
