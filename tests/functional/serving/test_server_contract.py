"""The container's serving contract through a real gunicorn server: routes, content types, the
error answers (after which the server goes on serving), the payload limit, workers, timeout,
SIGTERM draining and a model that cannot be loaded."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import requests

from emulator.sample_data import class_image, encode
from tests.functional.serving.conftest import start_server, wait_until_healthy

IMAGE = encode(class_image(1, 4, (40, 50), np.random.RandomState(0)))
PNG_IMAGE = encode(class_image(2, 4, (36, 36), np.random.RandomState(1)), "PNG")


def test_ping_and_execution_parameters(servers):
    server = servers("image-classification")
    ping = requests.get(f"{server.url}/ping", timeout=5)
    assert ping.status_code == 200 and ping.json() == {"Status": "Healthy"}
    params = requests.get(f"{server.url}/execution-parameters", timeout=5)
    assert params.json() == {"MaxConcurrentTransforms": 1, "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 6}


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "application/x-image", "application/octet-stream",
                                          None])
def test_image_classification_takes_every_image_content_type(servers, content_type):
    server = servers("image-classification")
    reference = server.invoke(IMAGE, "image/jpeg").json()
    response = server.invoke(IMAGE, content_type)
    assert response.status_code == 200, response.text
    assert response.json() == reference  # octet-stream and no Content-Type: sniffed as the JPEG it is
    assert len(reference) == 4 and abs(sum(reference) - 1) < 1e-5


@pytest.mark.parametrize("accept,expected_type", [(None, "application/json"), ("*/*", "application/json"),
                                                  ("application/json", "application/json"),
                                                  ("application/jsonlines", "application/jsonlines"),
                                                  ("text/csv;q=0.5, application/jsonlines", "application/jsonlines")])
def test_image_classification_accept(servers, accept, expected_type):
    server = servers("image-classification")
    probabilities = server.invoke(PNG_IMAGE, "image/png").json()
    response = server.invoke(PNG_IMAGE, "image/png", accept=accept)
    assert response.status_code == 200 and response.headers["Content-Type"] == expected_type
    if expected_type == "application/jsonlines":
        assert response.json() == {"prediction": probabilities}
    else:
        assert response.json() == probabilities


@pytest.mark.parametrize("name,body,content_type,accept,status,message", [
    ("image-classification", IMAGE, "text/csv", None, 415, "Content-Type text/csv is not supported"),
    ("image-classification", b"1,2,3", "application/octet-stream", None, 415, "is not a JPEG or PNG image"),
    ("image-classification", b"", "image/jpeg", None, 400, "The request body is empty"),
    ("image-classification", b"\xff\xd8\xff" + b"\0" * 200, "image/jpeg", None, 400, "could not be decoded"),
    ("image-classification", IMAGE, "image/jpeg", "image/png", 406, "answers application/json, application/jsonlines"),
    ("object-detection", b"not an image", "image/png", None, 400, "could not be decoded"),
    ("object-detection", IMAGE, "image/jpeg", "text/csv", 406, "application/json;annotation=1"),
    ("semantic-segmentation", b"\x89PNG\r\n\x1a\n" + b"\1" * 100, "application/octet-stream", None, 400,
     "could not be decoded"),
    ("semantic-segmentation", IMAGE, "application/json", None, 415, "is not supported"),
    ("semantic-segmentation", IMAGE, "image/jpeg", "application/json", 406, "application/x-recordio-protobuf"),
])
def test_bad_requests_get_a_clear_4xx_and_the_server_goes_on(servers, name, body, content_type, accept, status,
                                                             message):
    server = servers(name)
    response = server.invoke(body, content_type, accept=accept)
    assert response.status_code == status
    assert message in response.text, response.text
    assert server.invoke(IMAGE, "image/jpeg").status_code == 200


def test_payload_over_6_mib_is_413_with_a_message(servers):
    server = servers("image-classification")
    response = server.invoke(IMAGE + b"\0" * (6 * 1024 * 1024), "image/jpeg")
    assert response.status_code == 413
    assert "exceeds the 6 MiB (6291456 bytes) limit" in response.text
    at_limit = server.invoke(IMAGE + b"\0" * (6 * 1024 * 1024 - len(IMAGE)), "image/jpeg")
    assert at_limit.status_code == 200  # trailing bytes after the JPEG are ignored by the decoder


def test_unknown_path_and_wrong_method(servers):
    server = servers("image-classification")
    assert requests.get(f"{server.url}/models", timeout=5).status_code == 404
    assert requests.get(f"{server.url}/invocations", timeout=5).status_code == 405


def test_keep_alive_client_sees_every_answer(servers):
    server = servers("image-classification")
    with requests.Session() as session:
        answers = [session.post(f"{server.url}/invocations", data=IMAGE, headers={"Content-Type": "image/jpeg"},
                                timeout=30).json() for _ in range(5)]
    assert all(answer == answers[0] for answer in answers)


def _workers(server) -> list[int]:
    children = open(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read().split()
    return [int(pid) for pid in children]


def test_workers_and_batch_output(model_dirs, tmp_path):
    """SAGEMAKER_MODEL_SERVER_WORKERS processes; in batch transform (SAGEMAKER_BATCH) image
    classification answers {"prediction": [...]} as the built-in's transform output does."""
    server = start_server(model_dirs["image-classification"], "image-classification", tmp_path / "log",
                          SAGEMAKER_MODEL_SERVER_WORKERS="2", SAGEMAKER_BATCH="true")
    try:
        assert len(_workers(server)) == 2
        assert requests.get(f"{server.url}/execution-parameters", timeout=5).json()["MaxConcurrentTransforms"] == 2
        answers = [server.invoke(IMAGE, "image/jpeg").json() for _ in range(4)]
        assert all(set(answer) == {"prediction"} and answer == answers[0] for answer in answers)
        assert "2 worker(s), 1 thread(s) each" in server.log()
    finally:
        assert server.stop() == 0


def test_sigterm_lets_the_request_in_flight_finish(model_dirs, tmp_path):
    """A large image keeps the segmentation worker busy for a while; SIGTERM meanwhile: the
    answer still arrives, then the server exits 0 and takes no new connections."""
    server = start_server(model_dirs["semantic-segmentation"], "semantic-segmentation", tmp_path / "log")
    big = encode(class_image(0, 3, (400, 500), np.random.RandomState(2)))
    result = {}

    def call():
        result["response"] = server.invoke(big, "image/jpeg")

    thread = threading.Thread(target=call)
    started = time.monotonic()
    thread.start()
    time.sleep(0.5)
    server.process.terminate()
    thread.join(120)
    assert server.process.wait(60) == 0
    assert result["response"].status_code == 200 and result["response"].headers["Content-Type"] == "image/png"
    assert time.monotonic() - started > 0.5
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/ping", timeout=2)


def test_a_prediction_past_the_timeout_is_504_and_a_new_worker_takes_over(model_dirs, tmp_path):
    server = start_server(model_dirs["semantic-segmentation"], "semantic-segmentation", tmp_path / "log",
                          SAGEMAKER_MODEL_SERVER_TIMEOUT="2")
    try:
        first = _workers(server)
        big = encode(class_image(0, 3, (1100, 1400), np.random.RandomState(3)))
        response = server.invoke(big, "image/jpeg")
        assert response.status_code == 504
        assert "SAGEMAKER_MODEL_SERVER_TIMEOUT=2 s" in response.text
        wait_until_healthy(server, timeout=120)
        small = encode(class_image(0, 3, (20, 24), np.random.RandomState(4)))
        assert server.invoke(small, "image/jpeg").status_code == 200
        assert _workers(server) != first
    finally:
        server.stop()


def test_a_model_that_cannot_be_loaded_stops_the_server_with_the_reason(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("not a model")
    server = start_server(tmp_path, "object-detection", tmp_path / "log", wait=False)
    assert server.process.wait(120) == 3
    log = server.log()
    assert "Customer Error: cannot load the model" in log
    assert "does not hold an object-detection model: expected model_algo_1-symbol.json" in log
