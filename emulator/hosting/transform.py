"""One batch transform job: the model's servers fed object by object, one `<object>.out` per object.

The job unpacks the model once, starts TransformResources.InstanceCount servers (`serve` with
SAGEMAKER_BATCH=true, and SAGEMAKER_MAX_PAYLOAD_IN_MB / SAGEMAKER_BATCH_STRATEGY /
SAGEMAKER_MAX_CONCURRENT_TRANSFORMS only when the request set them, as SageMaker does) and asks
the first for GET /execution-parameters. Each setting is the request's, else the container's
answer, else SageMaker's default (6 MB, one request at a time, MultiRecord). The input objects
are dealt out by key over the instances; each instance works on MaxConcurrentTransforms objects
at once, the requests of one object in order (emulator.hosting.batching), retried on 5xx and
no answer (ModelClientConfig). An object's output is uploaded only once all of it is
transformed, to `<S3OutputPath>/<its path below the input prefix>.out`. An object that fails
is logged with its name and fails the job, and the others go on and keep their outputs, as in
SageMaker. A stop ends the servers at once; outputs already uploaded stay.
"""
from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import requests

from emulator.hosting.artifacts import ModelDataError, prepare_model_dir
from emulator.hosting.batching import MIB, Assembler, BatchError, payloads, records
from emulator.hosting.context import HostingContext, instance_id
from emulator.hosting.logbook import TRANSFORM_GROUP
from emulator.hosting.placement import PlacementError, place
from emulator.hosting.records import TRANSFORM_JOB
from emulator.hosting.servers import (DEFAULT_STARTUP_SECONDS, Server, ServerCancelled, ServerFailed, ServerSpec,
                                      wait_until_healthy)
from emulator.lifecycle import FAILURE_REASON_LIMIT
from emulator.staging import remove_tree
from emulator.storage import ObjectInfo, StorageError, is_s3, join, split_s3

DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_CONCURRENCY = 1
DEFAULT_STRATEGY = "MultiRecord"
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_RETRIES = 3
LOG_PREFIX = "[sagemaker logs]: "
# /execution-parameters may spell the strategy as the API does or as MMS does.
_STRATEGY_NAMES = {"SingleRecord": "SingleRecord", "MultiRecord": "MultiRecord", "SINGLE_RECORD": "SingleRecord",
                   "MULTI_RECORD": "MultiRecord"}
_ENV_STRATEGY = {"SingleRecord": "SINGLE_RECORD", "MultiRecord": "MULTI_RECORD"}


class InvocationFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Settings:
    concurrency: int
    max_payload_mb: int
    strategy: str

    def log_line(self) -> str:
        return (f"{LOG_PREFIX}MaxConcurrentTransforms={self.concurrency}, MaxPayloadInMB={self.max_payload_mb}, "
                f"BatchStrategy={_ENV_STRATEGY[self.strategy]}")


def settle(request: dict, container_answer: dict | None) -> Settings:
    """The request's values, else the container's /execution-parameters, else SageMaker's defaults."""
    answer = container_answer or {}

    def pick(key: str, default, convert):
        if request.get(key) is not None:
            return request[key]
        try:
            return convert(answer[key])
        except (KeyError, TypeError, ValueError):
            return default

    strategy = pick("BatchStrategy", DEFAULT_STRATEGY, lambda v: _STRATEGY_NAMES[v])
    return Settings(pick("MaxConcurrentTransforms", DEFAULT_CONCURRENCY, lambda v: max(1, int(v))),
                    pick("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB, lambda v: max(1, int(v))), strategy)


def batch_environment(request: dict) -> dict[str, str]:
    env = {"SAGEMAKER_BATCH": "true"}
    if request.get("MaxPayloadInMB") is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request["MaxPayloadInMB"])
    if request.get("BatchStrategy") is not None:
        env["SAGEMAKER_BATCH_STRATEGY"] = _ENV_STRATEGY[request["BatchStrategy"]]
    if request.get("MaxConcurrentTransforms") is not None:
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(request["MaxConcurrentTransforms"])
    return env


def shown(uri: str) -> str:
    """How the job log names an object: bucket/key, as SageMaker's lines do, or the local path."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        return f"{bucket}/{key}"
    return uri


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TransformRun:
    """Runs one job; `on_state(changes)` gets every change of its Describe members."""

    def __init__(self, ctx: HostingContext, request: dict, container: dict, objects: list[ObjectInfo],
                 on_state: Callable[[dict], None]) -> None:
        self.ctx = ctx
        self.request = request
        self.name = request["TransformJobName"]
        self.container = container
        self.objects = objects
        self.on_state = on_state
        self.stopped = threading.Event()
        self.folder = ctx.folder(TRANSFORM_JOB, self.name)
        self._servers: list[tuple[str, Server]] = []
        self._lock = threading.Lock()
        epoch = int(time.time())
        count = request["TransformResources"]["InstanceCount"]
        ids = [instance_id() for _ in range(count)]
        self.instances = [(iid, f"{self.name}/{iid}-{epoch}") for iid in ids]  # (instance id, its log stream)

    def log(self, stream: str, line: str) -> None:
        self.ctx.logs.append(TRANSFORM_GROUP, stream, line)

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            servers = list(self._servers)
        for _, server in servers:
            server.stop(0)

    # ---- the job ------------------------------------------------------------------------------

    def run(self) -> dict:
        self.on_state({"TransformStartTime": _now()})
        try:
            failures = self._run()
        except (ServerFailed, PlacementError, ModelDataError) as exc:
            return self._end("Failed", f"{'ClientError' if isinstance(exc, ModelDataError) else 'AlgorithmError'}: "
                                       f"{exc}")
        except ServerCancelled:
            failures = []
        except Exception as exc:  # noqa: BLE001 - every job ends with a status
            return self._end("Failed", f"InternalServerError: {exc.__class__.__name__}: {exc}")
        finally:
            for _, server in self._servers:
                server.stop(self.ctx.stop_grace_seconds if not self.stopped.is_set() else 0)
            remove_tree(self.folder)
        if self.stopped.is_set():
            return self._end("Stopped")
        if failures:
            first_uri, first = failures[0]
            kind = "ClientError" if 400 <= first.status < 500 else "AlgorithmError"
            return self._end("Failed", f"{kind}: {len(failures)} of {len(self.objects)} input object(s) could not "
                                       f"be transformed; their outputs were not written, the others' were. First: "
                                       f"{shown(first_uri)}: {first.message}")
        return self._end("Completed")

    def _end(self, status: str, reason: str | None = None) -> dict:
        changes = {"TransformJobStatus": status, "TransformEndTime": _now()}
        if reason:
            changes["FailureReason"] = reason[:FAILURE_REASON_LIMIT]
        self.on_state(changes)
        return changes

    def _run(self) -> list[tuple[str, InvocationFailed]]:
        image = self.container["Image"]
        instance_type = self.request["TransformResources"]["InstanceType"]
        environment = {**{k: str(v) for k, v in (self.container.get("Environment") or {}).items()},
                       **(self.request.get("Environment") or {}), **batch_environment(self.request)}
        placement = place(image, instance_type, self.ctx.placer, environment)
        for _, stream in self.instances:
            self.log(stream, f"[smlocal] {placement.note}")
        base = self.folder / "instance"
        prepare_model_dir(self.container, base / "model", self.ctx.storage, self.folder / ".download")
        for iid, stream in self.instances:
            spec = ServerSpec(label=self.name, instance_id=iid, placement=placement, base_dir=base, instance_type=instance_type,
                              environment=environment)
            server = self.ctx.servers.start(spec, lambda line, s=stream: self.log(s, line))
            with self._lock:
                self._servers.append((stream, server))
            if self.stopped.is_set():
                raise ServerCancelled()
        for _, server in self._servers:
            wait_until_healthy(server, DEFAULT_STARTUP_SECONDS, self.stopped.is_set)
        settings = settle(self.request, self._execution_parameters(self._servers[0][1]))
        for stream, _ in self._servers:
            self.log(stream, settings.log_line())
        failures: list[tuple[str, InvocationFailed]] = []
        lock = threading.Lock()
        count = len(self._servers)

        def work(index: int) -> None:
            stream, server = self._servers[index]
            mine = self.objects[index::count]  # dealt out by key, as SageMaker partitions objects
            with concurrent.futures.ThreadPoolExecutor(settings.concurrency, f"transform-{index}") as pool:
                for item, failure in zip(mine, pool.map(lambda o: self._object(o, stream, server, settings), mine)):
                    if failure is not None:
                        with lock:
                            failures.append((item.uri, failure))

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        failures.sort(key=lambda f: f[0])
        return failures

    @staticmethod
    def _execution_parameters(server: Server) -> dict | None:
        try:
            answer = requests.get(f"{server.url}/execution-parameters", timeout=2)
            return answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    # ---- one object ---------------------------------------------------------------------------

    def _object(self, item: ObjectInfo, stream: str, server: Server, settings: Settings) -> InvocationFailed | None:
        if self.stopped.is_set():
            return None
        limit = settings.max_payload_mb * MIB
        transform_input, output = self.request["TransformInput"], self.request["TransformOutput"]
        scratch = self.folder / "out" / (hashlib.sha256(item.uri.encode()).hexdigest()[:16] + ".tmp")
        scratch.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.ctx.storage.open(item.uri) as raw, open(scratch, "wb") as out:
                source = gzip.GzipFile(fileobj=raw) if transform_input.get("CompressionType") == "Gzip" else raw
                assembler = Assembler(out, output.get("AssembleWith", "None"))
                for body in payloads(records(source, transform_input.get("SplitType", "None"), limit),
                                     transform_input.get("SplitType", "None"), settings.strategy, limit):
                    assembler.add(self._invoke(server, body))
            if self.stopped.is_set():
                return None
            self.ctx.storage.upload(scratch, join(output["S3OutputPath"], item.relative + ".out"))
            return None
        except InvocationFailed as exc:
            failure = exc
        except BatchError as exc:
            failure = InvocationFailed(400, str(exc))
        except (StorageError, OSError, EOFError) as exc:
            failure = InvocationFailed(400, f"cannot read or write it: {exc}")
        finally:
            scratch.unlink(missing_ok=True)
        if self.stopped.is_set():
            return None
        where = shown(item.uri)
        if failure.status:
            self.log(stream, f"{LOG_PREFIX}{where}: Bad HTTP status received from algorithm: {failure.status}")
        for line in failure.message.splitlines() or [""]:
            self.log(stream, f"{LOG_PREFIX}{where}: {line}")
        return failure

    def _invoke(self, server: Server, body: bytes) -> bytes:
        client = self.request.get("ModelClientConfig") or {}
        timeout = client.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS)
        retries = client.get("InvocationsMaxRetries", DEFAULT_RETRIES)
        headers = {}
        if self.request["TransformInput"].get("ContentType"):
            headers["Content-Type"] = self.request["TransformInput"]["ContentType"]
        if self.request["TransformOutput"].get("Accept"):
            headers["Accept"] = self.request["TransformOutput"]["Accept"]
        failure = InvocationFailed(0, "no answer")
        for _ in range(retries + 1):
            if self.stopped.is_set():
                raise InvocationFailed(0, "the job was stopped")
            try:
                answer = requests.post(f"{server.url}/invocations", data=body, headers=headers, timeout=timeout)
            except requests.Timeout:
                failure = InvocationFailed(0, f"the algorithm did not answer within {timeout} s "
                                              f"(ModelClientConfig.InvocationsTimeoutInSeconds)")
                continue
            except requests.RequestException as exc:
                failure = InvocationFailed(0, f"no answer from the algorithm: {exc}")
                continue
            if answer.status_code == 200:
                return answer.content
            failure = InvocationFailed(answer.status_code, answer.text.strip() or answer.reason)
            if answer.status_code < 500:
                break  # the request is at fault: asking again changes nothing
        raise failure

