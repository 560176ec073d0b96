"""`smlocal serve` in the foreground, and `smlocal endpoints` / `smlocal transform` against a real
`smlocal api`, all as subprocesses, serving with the fake server (process runner)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.functional.api.conftest import ACCESS_KEY, SECRET_KEY, free_port
from tests.functional.hosting.conftest import FAKE_SERVE_COMMAND, model_tar

SMLOCAL = [sys.executable, "-m", "emulator.cli"]


@pytest.fixture
def hosting_env(api_env):
    return {**api_env, "SMLOCAL_SERVE_COMMAND": FAKE_SERVE_COMMAND}


def smlocal(*args: str, env: dict, input_bytes: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SMLOCAL, *args], env=env, input=input_bytes, capture_output=True, timeout=120)


class _Foreground:
    """`smlocal serve` as a subprocess whose output is read as it comes, so a test can wait for a
    line (sending Ctrl-C before the command has seen the server healthy tests another path)."""

    def __init__(self, model, port: int, env: dict) -> None:
        self.process = subprocess.Popen([*SMLOCAL, "serve", str(model), "--algorithm", "image-classification",
                                         "--runner", "process", "--port", str(port), "--workers", "1"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output:
            assert self.process.poll() is None and time.monotonic() < deadline, self.output
            time.sleep(0.05)

    def ctrl_c(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self._reader.join(10)
        return code


def test_serve_runs_a_model_in_the_foreground_until_ctrl_c(tmp_path, hosting_env):
    port = free_port()
    serving = _Foreground(model_tar(tmp_path / "model.tar.gz", {"answer": "served"}), port, hosting_env)
    try:
        serving.wait_for("[smlocal] Healthy after")
        answer = requests.post(f"http://127.0.0.1:{port}/invocations", data=b"x", timeout=10).json()
        assert answer["answer"] == "served" and answer["workers"] == "1"
    finally:
        code = serving.ctrl_c()
    output = serving.output
    assert code == 0, output
    assert "[smlocal] Runner: process (forced by --runner process), algorithm image-classification" in output
    assert f"POST http://127.0.0.1:{port}/invocations" in output
    assert "fake serve: stopped" in output  # SIGTERM reached the server: it stopped by itself


def test_ctrl_c_while_the_model_loads_stops_the_server_too(tmp_path, hosting_env):
    serving = _Foreground(model_tar(tmp_path / "model.tar.gz", {"load_seconds": 120}), free_port(), hosting_env)
    try:
        serving.wait_for("fake serve: listening on port")  # up, but /ping answers 503 for two minutes
    finally:
        code = serving.ctrl_c()
    output = serving.output
    assert code == 0, output
    assert "[smlocal] Stopping the server (stopped before it was healthy)." in output
    assert "fake serve: stopped" in output and "Healthy after" not in output


def test_serve_refuses_a_model_it_cannot_unpack(tmp_path, hosting_env):
    (tmp_path / "model.tar.gz").write_bytes(b"not a tarball")
    result = smlocal("serve", str(tmp_path / "model.tar.gz"), "--algorithm", "image-classification",
                     "--runner", "process", env=hosting_env)
    assert result.returncode == 2
    assert b"Failed to extract model data archive" in result.stderr


def test_endpoints_and_transform_commands_drive_the_api(make_server, hosting_env, tmp_path):
    server = make_server("--runner", "process", env=hosting_env)
    env = {**hosting_env, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1"}
    model = model_tar(tmp_path / "model.tar.gz", {"answer": "cli", "mode": "upper"})
    created = smlocal("endpoints", "create", "cli-ep", str(model), "--algorithm", "image-classification", env=env)
    assert created.returncode == 0, created.stderr
    assert b"Endpoint cli-ep: InService" in created.stdout
    listed = smlocal("endpoints", env=env)
    assert b"InService" in listed.stdout and b"cli-ep  (cli-ep)" in listed.stdout
    invoked = smlocal("endpoints", "invoke", "cli-ep", "-", "--content-type", "text/plain", env=env,
                      input_bytes=b"shout")
    assert invoked.returncode == 0 and invoked.stdout == b"SHOUT"
    described = json.loads(smlocal("endpoints", "describe", "cli-ep", env=env).stdout)
    assert described["EndpointStatus"] == "InService"
    deleted = smlocal("endpoints", "delete", "cli-ep", env=env)
    assert deleted.returncode == 0 and b"Deleting endpoint cli-ep" in deleted.stdout
    missing = smlocal("endpoints", "invoke", "nope", "-", env=env, input_bytes=b"x")
    assert missing.returncode == 2 and b"ValidationError: Endpoint nope of account 123456789012 not found." \
        in missing.stderr

    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt").write_text("one\ntwo\n")
    transformed = smlocal("transform", str(model), "--algorithm", "image-classification", "--input", str(source),
                          "--output", str(tmp_path / "out"), "--split-type", "Line", "--assemble-with", "Line",
                          "--strategy", "SingleRecord", "--content-type", "text/plain", "--name", "cli-tj", env=env)
    assert transformed.returncode == 0, transformed.stderr
    assert b"Transform job cli-tj: Completed" in transformed.stdout
    assert b"[sagemaker logs]: MaxConcurrentTransforms=2" in transformed.stdout
    assert (tmp_path / "out" / "a.txt.out").read_text() == "ONE\nTWO\n"
