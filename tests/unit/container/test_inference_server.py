"""The WSGI app and the server's settings, in process (the real gunicorn server is exercised in
tests/functional/serving)."""
import io
import threading
import time

import pytest

from container.errors import ClientError
from container.serve import InferenceApp, RequestError, ServeConfig, available_cpus


class Echo:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def predict(self, body, content_type, accept):
        time.sleep(self.delay)
        if body == b"bad":
            raise RequestError(415, "no thanks")
        if body == b"boom":
            raise ValueError("broken")
        return body[::-1], f"echo/{accept}"


def call(app, method="GET", path="/ping", body=b"", headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), **(headers or {})}
    seen = {}

    def start_response(status, response_headers):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(response_headers)

    data = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], data


def config(**overrides):
    return ServeConfig(model_dir="/m", **overrides)


def test_ping_is_503_while_the_model_loads_then_200():
    release = threading.Event()

    def slow_load():
        release.wait(10)
        return Echo()

    app = InferenceApp(slow_load, config()).load()
    assert call(app)[0] == 503
    release.set()
    deadline = time.monotonic() + 5
    while not app.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    status, headers, body = call(app)
    assert status == 200 and body == b'{"Status": "Healthy"}'


def test_invocations_pass_body_types_and_map_errors():
    app = InferenceApp(Echo, config(default_accept="text/x-default")).load()
    status, headers, body = call(app, "POST", "/invocations", b"abc", {"HTTP_ACCEPT": "*/*"})
    assert (status, headers["Content-Type"], body) == (200, "echo/text/x-default", b"cba")
    assert call(app, "POST", "/invocations", b"bad")[:3:2] == (415, b"no thanks")
    status, _, body = call(app, "POST", "/invocations", b"boom")
    assert status == 500 and b"ValueError: broken" in body
    assert call(app, "POST", "/invocations", b"x" * 11, {})[0] == 200


def test_payload_limit_by_length_and_for_chunked_bodies():
    app = InferenceApp(Echo, config(max_payload_bytes=10)).load()
    status, _, body = call(app, "POST", "/invocations", b"x" * 11)
    assert status == 413 and b"limit" in body
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/invocations", "wsgi.input": io.BytesIO(b"y" * 50)}
    statuses = []
    b"".join(app(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith("413")


def test_a_failed_load_is_reported_and_invocations_say_why():
    failures = []

    def broken():
        raise ClientError("no model files")

    app = InferenceApp(broken, config(), on_load_failure=failures.append).load()
    deadline = time.monotonic() + 5
    while not failures and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [str(f) for f in failures] == ["no model files"]
    status, _, body = call(app, "POST", "/invocations", b"abc")
    assert status == 503 and b"no model files" in body


def test_a_prediction_past_the_timeout_is_504_and_reported_stuck():
    stuck = []
    app = InferenceApp(lambda: Echo(delay=2.5), config(timeout=1), on_stuck=lambda: stuck.append(1)).load()
    status, _, body = call(app, "POST", "/invocations", b"abc")
    assert status == 504 and b"SAGEMAKER_MODEL_SERVER_TIMEOUT=1" in body and stuck == [1]


def test_routes():
    app = InferenceApp(Echo, config(workers=3)).load()
    status, _, body = call(app, "GET", "/execution-parameters")
    assert status == 200 and b'"MaxConcurrentTransforms": 3' in body
    assert call(app, "GET", "/nowhere")[0] == 404
    assert call(app, "PUT", "/ping")[0] == 405


def test_settings_from_the_environment():
    cfg = ServeConfig.from_env({"SAGEMAKER_BASE_DIR": "/base", "SAGEMAKER_BIND_TO_PORT": "9001",
                                "SAGEMAKER_MODEL_SERVER_WORKERS": "2", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "5",
                                "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20", "SAGEMAKER_BATCH": "true"})
    assert (str(cfg.model_dir), cfg.port, cfg.workers, cfg.timeout, cfg.max_payload_bytes, cfg.batch, cfg.host) == (
        "/base/model", 9001, 2, 5, 20 * 1024 * 1024, True, "0.0.0.0")
    assert cfg.threads_per_worker == max(1, available_cpus() // 2)
    defaults = ServeConfig.from_env({})
    assert (defaults.port, defaults.timeout, defaults.max_payload_bytes, defaults.batch) == (8080, 60, 6291456, False)
    with pytest.raises(ClientError, match="SAGEMAKER_MODEL_SERVER_WORKERS='zero'"):
        ServeConfig.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "zero"})


def test_serve_refuses_an_unknown_algorithm_before_starting():
    from container.entry import serve

    assert serve({"SAGEMAKER_ALGORITHM": "xgboost"}) == 2
