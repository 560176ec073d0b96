"""Endpoints of the hosting service with real server processes (the fake server, process runner):
Creating -> InService, several at once routed by name, failure reasons from the server's log,
updates without a refused request, deletion, restarts, an instance that dies."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from emulator.hosting.logbook import endpoint_group
from emulator.hosting.records import ENDPOINT
from emulator.spec import RequestValidationError
from tests.functional.hosting.conftest import deploy, model_tar, wait_status


def invoke(service, name: str, body: bytes = b"hello", variant: str | None = None) -> requests.Response:
    """One invocation as the runtime makes it: routed, counted in flight until answered."""
    with service.invocation(name, variant) as instance:
        assert instance is not None, f"{name} does not serve"
        return requests.post(f"{instance.server.url}/invocations", data=body,
                             headers={"Content-Type": "text/plain"}, timeout=10)


def log_lines(service, name: str) -> list[str]:
    group = service.ctx.logs.group(endpoint_group(name))
    return [e.message for s in group.log_streams() for e in group.log_events(s.name)]


def port_open(url: str) -> bool:
    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def test_endpoint_goes_in_service_and_answers(hosting, tmp_path):
    service = hosting()
    deploy(service, "ep-1", model_tar(tmp_path / "a.tar.gz", {"answer": "A", "load_seconds": 0.3}).as_uri())
    assert service.get(ENDPOINT, "ep-1").body["EndpointStatus"] == "Creating"
    body = wait_status(service, ENDPOINT, "ep-1", ("InService", "Failed"))
    assert body["EndpointStatus"] == "InService", body.get("FailureReason")
    answer = invoke(service, "ep-1").json()
    assert answer["answer"] == "A"
    # ml.m5.large has 2 vCPUs: one worker per CPU the machine can give it.
    assert int(answer["workers"]) >= 1
    lines = log_lines(service, "ep-1")
    assert any(line.startswith("[smlocal] Runner: process (forced by --runner process)") for line in lines)
    assert any("GET /ping answered 200" in line for line in lines)
    assert "fake serve: model files ['behaviour.json']" in lines
    streams = service.ctx.logs.group(endpoint_group("ep-1")).log_streams("AllTraffic/")
    assert len(streams) == 1 and streams[0].name.startswith("AllTraffic/i-")


def test_several_endpoints_at_once_are_routed_by_name(hosting, tmp_path):
    service = hosting()
    for name in ("first", "second"):
        deploy(service, name, model_tar(tmp_path / f"{name}.tar.gz", {"answer": name}).as_uri())
    for name in ("first", "second"):
        assert wait_status(service, ENDPOINT, name, ("InService", "Failed"))["EndpointStatus"] == "InService"
    assert service.route("first").server.url != service.route("second").server.url
    assert [invoke(service, n).json()["answer"] for n in ("second", "first", "second")] == ["second", "first",
                                                                                           "second"]
    assert service.route("FIRST") is not None  # names ignore case, as the lower-cased ARN does


def test_instances_of_a_variant_take_turns(hosting, tmp_path):
    service = hosting()
    deploy(service, "pair", model_tar(tmp_path / "m.tar.gz").as_uri(), count=2)
    wait_status(service, ENDPOINT, "pair", ("InService",))
    assert len({invoke(service, "pair").json()["pid"] for _ in range(4)}) == 2


def test_a_server_that_cannot_load_fails_the_endpoint_with_its_log(hosting, tmp_path):
    service = hosting()
    deploy(service, "broken", model_tar(tmp_path / "m.tar.gz", {"fail_load": "params file is truncated"}).as_uri())
    body = wait_status(service, ENDPOINT, "broken", ("InService", "Failed"))
    assert body["EndpointStatus"] == "Failed"
    reason = body["FailureReason"]
    assert reason.startswith("The primary container for production variant AllTraffic did not pass the ping "
                             "health check. The container exited with code 3")
    assert "Customer Error: cannot load the model" in reason and "params file is truncated" in reason
    assert f"CloudWatch Logs group {endpoint_group('broken')}" in reason
    assert service.route("broken") is None


@pytest.mark.parametrize("content,expected", [
    (b"not a tarball", "Failed to extract model data archive"),
    (None, "Unsafe archive"),
])
def test_bad_model_archives_fail_the_endpoint(hosting, tmp_path, content, expected):
    service = hosting()
    archive = tmp_path / "model.tar.gz"
    if content is None:  # a member that would land outside the model folder
        import io
        import tarfile

        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo("../escape.txt")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    else:
        archive.write_bytes(content)
    deploy(service, "bad", archive.as_uri())
    body = wait_status(service, ENDPOINT, "bad", ("InService", "Failed"))
    assert body["EndpointStatus"] == "Failed" and expected in body["FailureReason"]
    assert not (tmp_path / "home" / "endpoints" / "escape.txt").exists()


def test_model_data_must_exist_when_the_model_is_created(hosting, tmp_path):
    service = hosting()
    missing = (tmp_path / "nope.tar.gz").as_uri()
    with pytest.raises(RequestValidationError, match=f"Could not find model data at {missing}."):
        service.create_model({"ModelName": "m", "PrimaryContainer": {"Image": "x/image-classification:1",
                                                                     "ModelDataUrl": missing}})


def test_update_switches_configurations_without_refusing_a_request(hosting, tmp_path):
    service = hosting()
    deploy(service, "live", model_tar(tmp_path / "a.tar.gz", {"answer": "A"}).as_uri(), config="config-a")
    wait_status(service, ENDPOINT, "live", ("InService",))
    old_url = service.route("live").server.url
    model_b = model_tar(tmp_path / "b.tar.gz", {"answer": "B", "load_seconds": 1.0}).as_uri()
    service.create_model({"ModelName": "model-b", "PrimaryContainer": {"Image": "x/image-classification:1",
                                                                       "ModelDataUrl": model_b}})
    service.create_endpoint_config({"EndpointConfigName": "config-b", "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": "model-b", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}]})
    answers, failures, done = [], [], threading.Event()

    def keep_invoking():
        while not done.is_set():
            try:
                response = invoke(service, "live")
                answers.append(response.json()["answer"]) if response.ok else failures.append(response.status_code)
            except Exception as exc:  # noqa: BLE001 - every failure counts
                failures.append(repr(exc))

    thread = threading.Thread(target=keep_invoking)
    thread.start()
    try:
        service.update_endpoint({"EndpointName": "live", "EndpointConfigName": "config-b"})
        assert service.get(ENDPOINT, "live").body["EndpointStatus"] == "Updating"
        body = wait_status(service, ENDPOINT, "live", ("InService", "Failed"))
        time.sleep(0.3)
    finally:
        done.set()
        thread.join()
    assert body["EndpointStatus"] == "InService" and body["EndpointConfigName"] == "config-b"
    assert not failures
    # Every answer came from A until the switch, from B after it.
    assert set(answers) == {"A", "B"} and answers == sorted(answers)
    deadline = time.monotonic() + 10
    while port_open(old_url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_open(old_url)


def test_a_failed_update_leaves_the_old_deployment_serving(hosting, tmp_path):
    service = hosting()
    deploy(service, "keep", model_tar(tmp_path / "a.tar.gz", {"answer": "A"}).as_uri(), config="good")
    wait_status(service, ENDPOINT, "keep", ("InService",))
    deploy_bad = model_tar(tmp_path / "b.tar.gz", {"fail_load": "no weights"}).as_uri()
    service.create_model({"ModelName": "bad", "PrimaryContainer": {"Image": "x/image-classification:1",
                                                                   "ModelDataUrl": deploy_bad}})
    service.create_endpoint_config({"EndpointConfigName": "bad", "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": "bad", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]})
    service.update_endpoint({"EndpointName": "keep", "EndpointConfigName": "bad"})
    time.sleep(0.1)
    body = wait_status(service, ENDPOINT, "keep", ("InService",))
    assert body["EndpointConfigName"] == "good"
    assert "The update to endpoint configuration bad failed" in body["FailureReason"]
    assert "no weights" in body["FailureReason"]
    assert invoke(service, "keep").json()["answer"] == "A"


def test_delete_stops_the_servers_and_forgets_the_endpoint(hosting, tmp_path):
    service = hosting()
    deploy(service, "gone", model_tar(tmp_path / "m.tar.gz").as_uri())
    wait_status(service, ENDPOINT, "gone", ("InService",))
    url = service.route("gone").server.url
    service.delete_endpoint("gone")
    assert service.route("gone") is None
    deadline = time.monotonic() + 20
    while service.ctx.resources.get(ENDPOINT, "gone") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.ctx.resources.get(ENDPOINT, "gone") is None
    assert not port_open(url)
    assert not (tmp_path / "home" / "endpoints" / "gone").exists()
    with pytest.raises(RequestValidationError, match='Could not find endpoint "arn:aws:sagemaker:us-east-1:'
                                                     '123456789012:endpoint/gone".'):
        service.get(ENDPOINT, "gone")
    # Its log stays, as CloudWatch keeps an endpoint's logs.
    assert any("fake serve: listening" in line for line in log_lines(service, "gone"))


def test_duplicate_names_in_any_letter_case_are_refused(hosting, tmp_path):
    service = hosting()
    deploy(service, "Dup", model_tar(tmp_path / "m.tar.gz").as_uri())
    with pytest.raises(RequestValidationError, match='Cannot create already existing endpoint "arn:aws:sagemaker:'
                                                     'us-east-1:123456789012:endpoint/dup".'):
        service.create_endpoint({"EndpointName": "DUP", "EndpointConfigName": "Dup"})
    with pytest.raises(RequestValidationError, match="Cannot create already existing model"):
        service.create_model({"ModelName": "dup", "PrimaryContainer": {"Image": "x/image-classification:1"}})


def test_endpoints_start_again_after_a_restart(hosting, tmp_path):
    home = tmp_path / "home"
    first = hosting(home)
    deploy(first, "durable", model_tar(tmp_path / "m.tar.gz", {"answer": "kept"}).as_uri())
    wait_status(first, ENDPOINT, "durable", ("InService",))
    old_url = first.route("durable").server.url
    first.shutdown(5)  # what the API server does when it stops: servers end, records stay
    assert not port_open(old_url)
    second = hosting(home)
    assert second.recover() == ["durable"]
    assert second.get(ENDPOINT, "durable").body["EndpointStatus"] == "SystemUpdating"
    body = wait_status(second, ENDPOINT, "durable", ("InService", "Failed"))
    assert body["EndpointStatus"] == "InService", body.get("FailureReason")
    assert invoke(second, "durable").json()["answer"] == "kept"


def test_an_instance_that_exits_while_in_service_fails_the_endpoint(hosting, tmp_path):
    service = hosting()
    deploy(service, "fragile", model_tar(tmp_path / "m.tar.gz", {"exit_after": 1}).as_uri())
    wait_status(service, ENDPOINT, "fragile", ("InService",))
    invoke(service, "fragile")
    body = wait_status(service, ENDPOINT, "fragile", ("Failed",), timeout=10)
    assert "exited with code 9 while the endpoint was InService" in body["FailureReason"]
    assert "exiting after the last invocation" in body["FailureReason"]
    assert service.route("fragile") is None


def test_deleting_an_endpoint_that_is_still_creating_stops_its_servers(hosting, tmp_path):
    service = hosting()
    deploy(service, "hasty", model_tar(tmp_path / "m.tar.gz", {"load_seconds": 30}).as_uri())
    deadline = time.monotonic() + 20
    while not service.ctx.logs.group(endpoint_group("hasty")) or not any(
            "fake serve: listening" in line for line in log_lines(service, "hasty")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    service.delete_endpoint("hasty")
    deadline = time.monotonic() + 20
    while service.ctx.resources.get(ENDPOINT, "hasty") is not None:
        assert time.monotonic() < deadline, service.get(ENDPOINT, "hasty").body
        time.sleep(0.05)
    assert service.route("hasty") is None
    port = next(line.rsplit(" ", 1)[1] for line in log_lines(service, "hasty") if "listening on port" in line)
    assert not port_open(f"http://127.0.0.1:{port}")  # the server that was still loading is gone


def test_an_uncompressed_model_folder_is_copied(hosting, tmp_path):
    service = hosting()
    folder = tmp_path / "artifacts"
    (folder / "sub").mkdir(parents=True)
    (folder / "behaviour.json").write_text('{"answer": "from a folder"}')
    (folder / "sub" / "weights.bin").write_bytes(b"\0" * 8)
    service.create_model({"ModelName": "folder", "PrimaryContainer": {"Image": "x/image-classification:1",
        "ModelDataSource": {"S3DataSource": {"S3Uri": folder.as_uri() + "/", "S3DataType": "S3Prefix",
                                             "CompressionType": "None"}}}})
    service.create_endpoint_config({"EndpointConfigName": "folder", "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": "folder", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}]})
    service.create_endpoint({"EndpointName": "folder", "EndpointConfigName": "folder"})
    body = wait_status(service, ENDPOINT, "folder", ("InService", "Failed"))
    assert body["EndpointStatus"] == "InService", body.get("FailureReason")
    assert invoke(service, "folder").json()["answer"] == "from a folder"
    assert "fake serve: model files ['behaviour.json', 'sub']" in log_lines(service, "folder")
