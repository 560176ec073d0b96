"""The hosting service over a job home in a tmp dir, serving with the fake server (fake_server.py)
through the process runner, and model.tar.gz files that tell the fake server what to do."""
from __future__ import annotations

import io
import json
import sys
import tarfile
import time
from pathlib import Path

import pytest

from emulator.hosting.service import HostingService, open_hosting
from emulator.runners.placement import Placer

FAKE_SERVER = Path(__file__).with_name("fake_server.py")
FAKE_SERVE_COMMAND = f"{sys.executable} {FAKE_SERVER}"
IC_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"


def model_tar(path: Path, behaviour: dict | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """A model.tar.gz whose behaviour.json drives the fake server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files = {"behaviour.json": json.dumps(behaviour or {}).encode(), **(extra or {})}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def start_hosting(home: Path, serve_command: str = FAKE_SERVE_COMMAND, runner: str = "process") -> HostingService:
    return open_hosting(home, Placer(runner), serve_command=serve_command, stop_grace_seconds=5)


@pytest.fixture
def hosting(tmp_path):
    services = []

    def make(home: Path | None = None, **kwargs) -> HostingService:
        service = start_hosting(home or tmp_path / "home", **kwargs)
        services.append(service)
        return service

    yield make
    for service in services:
        service.shutdown(10)


def wait_status(service: HostingService, kind: str, name: str, statuses, timeout: float = 60, key: str = None):
    from emulator.hosting.records import ENDPOINT

    key = key or ("EndpointStatus" if kind == ENDPOINT else "TransformJobStatus")
    deadline = time.monotonic() + timeout
    while True:
        body = service.get(kind, name).body
        if body[key] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {body[key]} after {timeout} s: {body.get('FailureReason')}")
        time.sleep(0.05)


def deploy(service: HostingService, name: str, model_data: str, count: int = 1, variant: str = "AllTraffic",
           config: str | None = None, image: str = IC_IMAGE, **variant_members) -> None:
    """CreateModel + CreateEndpointConfig + CreateEndpoint, as the SDK's deploy() sends them."""
    config = config or name
    service.create_model({"ModelName": config, "PrimaryContainer": {"Image": image, "ModelDataUrl": model_data}})
    service.create_endpoint_config({"EndpointConfigName": config, "ProductionVariants": [
        {"VariantName": variant, "ModelName": config, "InitialInstanceCount": count, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 1.0, **variant_members}]})
    service.create_endpoint({"EndpointName": name, "EndpointConfigName": config})
