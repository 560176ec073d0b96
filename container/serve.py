"""`python -m container serve`: the SageMaker inference contract under gunicorn.

GET /ping answers 503 until this worker's model is loaded, then 200; POST /invocations hands the
body, Content-Type and Accept to the algorithm's predictor (found through the registry, as
training finds its entry) and returns what it answers; GET /execution-parameters tells batch
transform how to call. The app is algorithm-agnostic: an algorithm's inference module provides
`load(model_dir, batch=...)` returning an object with `predict(body, content_type, accept) ->
(bytes, content_type)` that raises `RequestError` for what the caller got wrong.

Why gunicorn's sync workers: each worker takes a connection only when it is idle, so requests
spread evenly over the workers (a threaded worker accepts while its model is busy, and a
kept-alive connection would stay on a busy worker). Responses close the connection; clients
that keep connections alive reconnect transparently. Workers load the model themselves after
the fork: MXNet's engine threads and OpenMP pools do not survive a fork, so the master never
imports MXNet.
"""
from __future__ import annotations

import concurrent.futures
import json
import math
import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Callable, Protocol

from container.environment import positive_int
from container.errors import ClientError
from container.logs import get_logger

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MAX_PAYLOAD_MB = 6
MIB = 1024 * 1024
# gunicorn ends the master with this code when a worker exits with it (its "failed to boot").
WORKER_BOOT_ERROR = 3


class RequestError(ClientError):
    """What the caller of /invocations got wrong: answered with `status` and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Predictor(Protocol):
    def predict(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]: ...


@dataclass(frozen=True)
class ServeConfig:
    """The server's settings, from the variables SageMaker (and the inference toolkit) define."""

    model_dir: Path
    port: int = DEFAULT_PORT
    host: str = "0.0.0.0"
    workers: int = 1
    threads_per_worker: int = 1
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_MB * MIB
    batch: bool = False
    default_accept: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ServeConfig":
        from container.paths import MLPaths

        env = os.environ if environ is None else environ
        workers = positive_int(env, "SAGEMAKER_MODEL_SERVER_WORKERS", None) or default_workers()
        return cls(
            model_dir=MLPaths.from_env(env).model,
            port=positive_int(env, "SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT),
            # Docker publishes the container's port from all interfaces; the process runner
            # sets 127.0.0.1 so a local endpoint is not reachable from the network.
            host=env.get("SMLOCAL_SERVE_HOST", "").strip() or "0.0.0.0",
            workers=workers,
            threads_per_worker=max(1, available_cpus() // workers),
            timeout=positive_int(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", DEFAULT_TIMEOUT_SECONDS),
            max_payload_bytes=positive_int(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", DEFAULT_MAX_PAYLOAD_MB) * MIB,
            batch=env.get("SAGEMAKER_BATCH", "").strip().lower() == "true",
            default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or None,
        )

    def execution_parameters(self) -> dict:
        # One image per request: the built-ins' documented transform settings are SingleRecord,
        # spelled as CreateTransformJob's BatchStrategy enum.
        return {"MaxConcurrentTransforms": self.workers, "BatchStrategy": "SingleRecord",
                "MaxPayloadInMB": self.max_payload_bytes // MIB}


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota (docker --cpus)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def default_workers() -> int:
    """One worker per GPU when there are GPUs, else one per CPU (the MMS default)."""
    gpus = [p for p in Path("/dev").glob("nvidia[0-9]*")]
    return len(gpus) or available_cpus()


# ---- the WSGI app -------------------------------------------------------------------------------

class _ModelThread:
    """Loads the model and runs every prediction on one daemon thread: MXNet models are not
    thread-safe, and a prediction that overruns the timeout must not keep the process alive."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="model", daemon=True).start()

    def _run(self) -> None:
        while True:
            future, func, args = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(func(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                    future.set_exception(exc)

    def submit(self, func, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((future, func, args))
        return future


def _response(start_response, status: int, body: bytes, content_type: str) -> list[bytes]:
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _json(start_response, status: int, value) -> list[bytes]:
    return _response(start_response, status, json.dumps(value).encode(), "application/json")


def _text(start_response, status: int, message: str) -> list[bytes]:
    return _response(start_response, status, message.encode(), "text/plain; charset=utf-8")


class InferenceApp:
    """The WSGI application of one worker. `load()` starts loading the model in the background;
    `on_load_failure(exc)` decides what a failed load does (the server ends the worker so that
    gunicorn stops; tests record it), `on_stuck()` what a prediction past the timeout does."""

    def __init__(self, load_model: Callable[[], Predictor], config: ServeConfig,
                 on_load_failure: Callable[[BaseException], None] | None = None,
                 on_stuck: Callable[[], None] | None = None) -> None:
        self.config = config
        self._load_model = load_model
        self._on_load_failure = on_load_failure or (lambda exc: None)
        self._on_stuck = on_stuck or (lambda: None)
        self._model_thread = _ModelThread()
        self._predictor: Predictor | None = None
        self._load_error: BaseException | None = None
        self._settled = threading.Event()  # loaded or failed
        self.log = get_logger()

    def load(self) -> "InferenceApp":
        self._model_thread.submit(self._load).add_done_callback(self._loaded)
        return self

    def _load(self) -> Predictor:
        started = time.monotonic()
        predictor = self._load_model()
        self.log.info("Model loaded from %s in %.2f s (worker pid %d).", self.config.model_dir,
                      time.monotonic() - started, os.getpid())
        return predictor

    def _loaded(self, future: concurrent.futures.Future) -> None:
        exc = future.exception()
        if exc is None:
            self._predictor = future.result()
            self._settled.set()
            return
        self._load_error = exc
        self._settled.set()
        if isinstance(exc, ClientError):
            self.log.error("Customer Error: cannot load the model in %s: %s", self.config.model_dir, exc)
        else:
            self.log.error("Algorithm Error: cannot load the model in %s: %s\n%s", self.config.model_dir, exc,
                           "".join(traceback.format_exception(exc)))
        self._on_load_failure(exc)

    @property
    def ready(self) -> bool:
        return self._predictor is not None

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        routes = {"/ping": ("GET", self._ping), "/invocations": ("POST", self._invocations),
                  "/execution-parameters": ("GET", self._execution_parameters)}
        if path not in routes:
            return _text(start_response, 404, f"No such path {path}; the server answers "
                                              f"GET /ping, POST /invocations and GET /execution-parameters")
        allowed, handler = routes[path]
        if method != allowed:
            return _text(start_response, 405, f"{path} takes {allowed}, not {method}")
        return handler(environ, start_response)

    def _ping(self, environ, start_response):
        if self.ready:
            return _json(start_response, 200, {"Status": "Healthy"})
        reason = f"The model could not be loaded: {self._load_error}" if self._load_error else "The model is loading"
        return _json(start_response, 503, {"Status": "Unhealthy", "Message": reason})

    def _execution_parameters(self, environ, start_response):
        return _json(start_response, 200, self.config.execution_parameters())

    def _invocations(self, environ, start_response):
        try:
            body = self._read_body(environ)
            # A worker answers pings while it loads; an invocation that arrives then waits for it.
            if not self._settled.wait(self.config.timeout):
                raise RequestError(503, f"The model did not finish loading within {self.config.timeout} s")
            if self._predictor is None:
                raise RequestError(503, f"The model could not be loaded: {self._load_error}")
            content_type = environ.get("CONTENT_TYPE") or None
            accept = environ.get("HTTP_ACCEPT") or None
            if self.config.default_accept and (accept is None or accept.strip() == "*/*"):
                accept = self.config.default_accept
            future = self._model_thread.submit(self._predictor.predict, body, content_type, accept)
            try:
                data, response_type = future.result(timeout=self.config.timeout)
            except concurrent.futures.TimeoutError:
                if not future.cancel():  # running: the model thread is stuck on it
                    self._on_stuck()
                raise RequestError(504, f"Inference did not finish within SAGEMAKER_MODEL_SERVER_TIMEOUT="
                                        f"{self.config.timeout} s") from None
        except RequestError as exc:
            self.log.info("POST /invocations: %d %s", exc.status, exc)
            return _text(start_response, exc.status, str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure is one request's 500; the server goes on
            self.log.error("POST /invocations failed: %s\n%s", exc, traceback.format_exc())
            return _text(start_response, 500, f"Internal error while predicting: {exc.__class__.__name__}: {exc}")
        return _response(start_response, 200, data, response_type)

    def _read_body(self, environ) -> bytes:
        limit = self.config.max_payload_bytes
        too_large = RequestError(413, f"The request body exceeds the {limit // MIB} MiB ({limit} bytes) limit "
                                      f"of /invocations (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
        length = environ.get("CONTENT_LENGTH", "").strip()
        stream = environ["wsgi.input"]
        if length:
            try:
                size = int(length)
            except ValueError:
                raise RequestError(400, f"Invalid Content-Length {length!r}") from None
            if size > limit:
                raise too_large
            return stream.read(size) if size else b""
        data = stream.read(limit + 1)  # chunked: read at most one byte past the limit
        if len(data) > limit:
            raise too_large
        return data


# ---- the server ---------------------------------------------------------------------------------

def thread_settings(threads: int) -> dict[str, str]:
    """MXNet/OpenMP threads for one worker: the CPUs divided among the workers (the inference
    toolkit uses one thread per worker and one worker per CPU). Values set by the user stay."""
    return {"OMP_NUM_THREADS": str(threads), "MXNET_CPU_WORKER_NTHREADS": "1",
            "MXNET_CPU_PRIORITY_NTHREADS": "1", "MXNET_KVSTORE_REDUCTION_NTHREADS": "1"}


def run_server(config: ServeConfig, load_model: Callable[[ServeConfig], Predictor]) -> int:
    """Serve in the foreground until SIGTERM (which lets in-flight requests finish); returns the
    exit code: 0, or WORKER_BOOT_ERROR when the model cannot be loaded."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    log = get_logger()
    for key, value in thread_settings(config.threads_per_worker).items():
        os.environ.setdefault(key, value)  # inherited by the workers, read when they import MXNet

    class Server(BaseApplication):
        worker = None  # set in each worker process after its fork

        def load_config(self) -> None:
            settings = {
                "bind": f"{config.host}:{config.port}",
                "workers": config.workers,
                "worker_class": "sync",
                # The app bounds a request by SAGEMAKER_MODEL_SERVER_TIMEOUT (504); gunicorn only
                # kills a worker that stops answering altogether.
                "timeout": config.timeout + 30,
                "graceful_timeout": config.timeout + 5,
                "accesslog": None,
                "loglevel": "info",
                "proc_name": "smlocal-serve",
                "control_socket_disable": True,
                "post_worker_init": self._post_worker_init,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> InferenceApp:
            return InferenceApp(lambda: load_model(config), config, self._load_failed, self._stuck)

        def _post_worker_init(self, worker) -> None:
            self.worker = worker
            worker.wsgi.load()

        @staticmethod
        def _load_failed(exc: BaseException) -> None:
            os._exit(WORKER_BOOT_ERROR)  # gunicorn then stops the whole server with this code

        def _stuck(self) -> None:
            # The model thread cannot be interrupted: a fresh worker takes over after this request.
            log.error("A prediction overran the timeout; this worker is replaced after the request.")
            if self.worker is not None:
                self.worker.alive = False

    log.info("Serving %s on %s:%d with %d worker(s), %s thread(s) each, timeout %d s, payload limit %d MiB",
             config.model_dir, config.host, config.port, config.workers, os.environ["OMP_NUM_THREADS"],
             config.timeout, config.max_payload_bytes // MIB)
    try:
        Arbiter(Server()).run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
