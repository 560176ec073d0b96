"""Endpoints: each a deployment of servers, one per instance of each production variant, routed by name.

CreateEndpoint answers at once (Creating); a background thread unpacks every variant's model,
starts its instances (each its own process or container on its own port, so any number of
endpoints run side by side), waits for their /ping and marks the endpoint InService, or Failed
with the reason the servers' logs give. UpdateEndpoint builds the new configuration's deployment
next to the running one and switches the routing only when all of it is healthy, then stops the
old servers gracefully (in-flight requests finish): no request goes unanswered. A failed update
leaves the old deployment serving, InService with the FailureReason. An instance that ends while
InService fails the endpoint with the reason from its log.

The store keeps a snapshot of what each endpoint deploys (its configuration and models as they
were at CreateEndpoint/UpdateEndpoint, so deleting them later changes nothing, as in SageMaker),
so a restarted API server starts every endpoint again (SystemUpdating, then InService) or marks
it Failed with the reason. Servers of a server that died are ended first (their supervisors and
watchers normally did that already).
"""
from __future__ import annotations

import random
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from emulator.hosting.artifacts import ModelDataError, prepare_model_dir
from emulator.hosting.context import HostingContext, instance_id
from emulator.hosting.logbook import endpoint_group
from emulator.hosting.placement import PlacementError, place
from emulator.hosting.records import ENDPOINT
from emulator.hosting.servers import (DEFAULT_STARTUP_SECONDS, Server, ServerCancelled, ServerFailed, ServerSpec,
                                      explain, wait_until_healthy)
from emulator.lifecycle import FAILURE_REASON_LIMIT
from emulator.runners.leftovers import end_leftovers
from emulator.spec import path_segment

NOTE_PREFIX = "[smlocal] "
ACTIVE = ("Creating", "Updating", "SystemUpdating", "InService", "Deleting")
WATCH_SECONDS = 0.5


@dataclass
class Instance:
    variant: str
    instance_id: str
    server: Server

    @property
    def stream(self) -> str:
        return f"{self.variant}/{self.instance_id}"


@dataclass
class Deployment:
    """The running servers of one endpoint configuration."""
    config_name: str
    folder: Path
    weights: dict[str, float]
    instances: dict[str, list[Instance]] = field(default_factory=dict)
    inflight: int = 0             # invocations routed here and not yet answered
    _turn: int = 0

    def all(self) -> list[Instance]:
        return [i for group in self.instances.values() for i in group]

    def pick(self, variant: str | None = None) -> Instance:
        """An instance of `variant`, else of a variant drawn by weight; round robin within the variant."""
        if variant is None:
            names = [n for n in self.instances if self.weights.get(n, 1.0) > 0] or list(self.instances)
            variant = random.choices(names, [self.weights.get(n, 1.0) or 1.0 for n in names])[0]
        group = self.instances[variant]
        self._turn += 1
        return group[self._turn % len(group)]

    def drain(self, timeout: float) -> None:
        """Wait until the invocations routed here have their answers (no new ones come once it is switched away)."""
        deadline = time.monotonic() + timeout
        while self.inflight > 0 and time.monotonic() < deadline:
            time.sleep(0.02)

    def exited(self) -> tuple[Instance, int] | None:
        for instance in self.all():
            code = instance.server.exit_code()
            if code is not None:
                return instance, code
        return None

    def stop(self, grace_seconds: float) -> None:
        threads = [threading.Thread(target=i.server.stop, args=(grace_seconds,), daemon=True) for i in self.all()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def leftovers(self) -> dict:
        found: dict = {"pids": {}, "containers": []}
        for instance in self.all():
            left = instance.server.leftovers()
            found["pids"].update(left.get("pids", {}))
            found["containers"] += left.get("containers", [])
        return found


@dataclass
class _Endpoint:
    name: str
    cancel: threading.Event = field(default_factory=threading.Event)
    live: Deployment | None = None
    worker: threading.Thread | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _reason(text: str) -> str:
    return text[:FAILURE_REASON_LIMIT]


class Endpoints:
    def __init__(self, ctx: HostingContext) -> None:
        self.ctx = ctx
        self._lock = threading.RLock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._closing = False

    # ---- what the record says ------------------------------------------------------------------

    def _update(self, name: str, status: str | None = None, **changes) -> dict | None:
        """Change the endpoint's record (members set to None are removed); None if it is gone."""
        with self._lock:
            record = self.ctx.resources.get(ENDPOINT, name)
            if record is None:
                return None
            body = dict(record.body)
            for key, value in changes.items():
                if value is None:
                    body.pop(key, None)
                else:
                    body[key] = value
            if status is not None:
                body["EndpointStatus"] = status
            body["LastModifiedTime"] = _now()
            self.ctx.resources.update(ENDPOINT, name, body, body["EndpointStatus"])
            return body

    def _note(self, name: str, stream: str, text: str) -> None:
        self.ctx.logs.append(endpoint_group(name), stream, NOTE_PREFIX + text)

    # ---- create, update, delete ---------------------------------------------------------------

    def start_create(self, name: str, plan: dict, reuse: Path | None = None) -> None:
        """Deploy `plan` in the background (the record is stored, Creating or SystemUpdating); `reuse`:
        the folder of a deployment whose unpacked models may serve again."""
        with self._lock:
            state = self._endpoints.setdefault(name.lower(), _Endpoint(name))
            state.worker = threading.Thread(target=self._create, args=(state, plan, reuse), daemon=True,
                                            name=f"endpoint-{name}")
            state.worker.start()

    def _create(self, state: _Endpoint, plan: dict, reuse: Path | None = None) -> None:
        try:
            deployment = self._deploy(state, plan, reuse)
        except ServerCancelled:
            return
        except ServerFailed as exc:
            self._update(state.name, "Failed", FailureReason=_reason(str(exc)))
            return
        with self._lock:
            if state.cancel.is_set():
                deployment.stop(0)
                return
            state.live = deployment
            self._update(state.name, "InService", Deployment=self._deployed(plan, deployment), Planned=None,
                         FailureReason=None)
        self._watch(state, deployment)

    def start_update(self, name: str, plan: dict) -> None:
        with self._lock:
            state = self._endpoints.setdefault(name.lower(), _Endpoint(name))
            self._update(name, "Updating", Pending=plan)
            state.worker = threading.Thread(target=self._switch, args=(state, plan), daemon=True,
                                            name=f"endpoint-update-{name}")
            state.worker.start()

    def _switch(self, state: _Endpoint, plan: dict) -> None:
        try:
            deployment = self._deploy(state, plan)
        except ServerCancelled:
            return
        except ServerFailed as exc:
            # The running deployment goes on serving, as SageMaker rolls a failed update back.
            self._update(state.name, "InService", Pending=None,
                         FailureReason=_reason(f"The update to endpoint configuration {plan['EndpointConfigName']} "
                                               f"failed, so the endpoint still runs the previous one: {exc}"))
            return
        with self._lock:
            if state.cancel.is_set():
                deployment.stop(0)
                return
            old, state.live = state.live, deployment
            self._update(state.name, "InService", EndpointConfigName=plan["EndpointConfigName"],
                         Deployment=self._deployed(plan, deployment), Pending=None, FailureReason=None)
        self._watch(state, deployment)
        if old is not None:
            for instance in old.all():
                self._note(state.name, instance.stream, "The endpoint now runs endpoint configuration "
                                                        f"{plan['EndpointConfigName']}: stopping this instance.")
            # Requests routed to the old servers just before the switch may not have reached them
            # yet: they are answered first, then SIGTERM lets anything still running finish.
            old.drain(self.ctx.stop_grace_seconds)
            old.stop(self.ctx.stop_grace_seconds)
            shutil.rmtree(old.folder, ignore_errors=True)

    def start_delete(self, name: str) -> None:
        with self._lock:
            state = self._endpoints.pop(name.lower(), None)
            if state is not None:
                state.cancel.set()  # under the lock: a deployment finishing now sees it and stops
            self._update(name, "Deleting")
        threading.Thread(target=self._delete, args=(name, state), daemon=True, name=f"endpoint-delete-{name}").start()

    def _delete(self, name: str, state: _Endpoint | None) -> None:
        if state is not None:
            if state.live is not None:
                state.live.stop(self.ctx.stop_grace_seconds)
            if state.worker is not None and state.worker is not threading.current_thread():
                state.worker.join()
        shutil.rmtree(self.ctx.folder(ENDPOINT, name), ignore_errors=True)
        with self._lock:
            record = self.ctx.resources.get(ENDPOINT, name)
            # A new endpoint of this name cannot exist before this one is gone (CreateEndpoint refuses it).
            if record is not None and record.body["EndpointStatus"] == "Deleting":
                self.ctx.resources.delete(ENDPOINT, name)

    # ---- deploying ----------------------------------------------------------------------------

    def _deploy(self, state: _Endpoint, plan: dict, reuse: Path | None = None) -> Deployment:
        """Start and health-check every instance of `plan`; ServerFailed (nothing left running) if any fails."""
        name = state.name
        folder = reuse or self.ctx.folder(ENDPOINT, name) / secrets.token_hex(4)
        deployment = Deployment(plan["EndpointConfigName"], folder,
                                {v["VariantName"]: v.get("InitialVariantWeight", 1.0) for v in plan["Variants"]})
        group = endpoint_group(name)
        self.ctx.logs.create_group(group)
        try:
            for variant in plan["Variants"]:
                self._start_variant(state, variant, deployment)
            for variant in plan["Variants"]:
                timeout = variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_SECONDS
                for instance in deployment.instances[variant["VariantName"]]:
                    try:
                        seconds = wait_until_healthy(instance.server, timeout, state.cancel.is_set)
                    except ServerFailed as exc:
                        raise ServerFailed(f"The primary container for production variant {variant['VariantName']} "
                                           f"did not pass the ping health check. {exc} (CloudWatch Logs group "
                                           f"{group}, stream {instance.stream})") from None
                    self._note(name, instance.stream, f"GET /ping answered 200 after {seconds:.1f} s: the instance "
                                                      f"is in service.")
        except BaseException:
            deployment.stop(0)
            if reuse is None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        return deployment

    def _start_variant(self, state: _Endpoint, variant: dict, deployment: Deployment) -> None:
        name, variant_name = state.name, variant["VariantName"]
        container = variant["Container"]
        base = deployment.folder / path_segment(variant_name, "Variant name")
        streams = [f"{variant_name}/{instance_id()}" for _ in range(variant["InitialInstanceCount"])]
        try:
            placement = place(container["Image"], variant["InstanceType"], self.ctx.placer,
                              container.get("Environment"))
        except PlacementError as exc:
            raise ServerFailed(str(exc)) from None
        for stream in streams:
            self._note(name, stream, placement.note)
        model_dir = base / "model"
        if not (model_dir.is_dir() and any(model_dir.iterdir())):
            self._note(name, streams[0], f"Model {variant['ModelName']}: preparing its artifacts in {model_dir}.")
            try:
                prepare_model_dir(container, model_dir, self.ctx.storage, deployment.folder / ".download")
            except ModelDataError as exc:
                raise ServerFailed(str(exc)) from None
        for stream in streams:
            iid = stream.split("/", 1)[1]
            spec = ServerSpec(label=name, instance_id=iid, placement=placement, base_dir=base,
                              instance_type=variant["InstanceType"],
                              environment={k: str(v) for k, v in (container.get("Environment") or {}).items()})
            try:
                server = self.ctx.servers.start(spec, self._sink(name, stream))
            except ServerFailed as exc:
                raise ServerFailed(f"The primary container for production variant {variant_name} could not be "
                                   f"started: {exc}") from None
            except Exception as exc:  # noqa: BLE001 - a runner that cannot start is this endpoint's failure
                raise ServerFailed(f"The primary container for production variant {variant_name} could not be "
                                   f"started: {exc.__class__.__name__}: {exc}") from None
            deployment.instances.setdefault(variant_name, []).append(Instance(variant_name, iid, server))
            self._update(name, Leftovers=deployment.leftovers())

    def _sink(self, name: str, stream: str):
        group = endpoint_group(name)
        return lambda line: self.ctx.logs.append(group, stream, line)

    @staticmethod
    def _deployed(plan: dict, deployment: Deployment) -> dict:
        """The plan as it runs: its folder, instances and the images that serve each variant."""
        return {**plan, "Folder": str(deployment.folder),
                "Instances": {v: [i.instance_id for i in group] for v, group in deployment.instances.items()},
                "ResolutionTime": _now()}

    def _watch(self, state: _Endpoint, deployment: Deployment) -> None:
        """An instance that ends while it serves fails the endpoint (SageMaker would replace it)."""
        def watch() -> None:
            while state.live is deployment and not state.cancel.is_set() and not self._closing:
                ended = deployment.exited()
                if ended is not None:
                    instance, code = ended
                    with self._lock:
                        if state.live is not deployment or state.cancel.is_set() or self._closing:
                            return
                        state.live = None
                        reason = explain(instance.server.log_tail,
                                         f"The primary container of production variant {instance.variant} "
                                         f"(instance {instance.instance_id}) exited with code {code} while the "
                                         f"endpoint was InService.")
                        self._note(state.name, instance.stream, reason)
                        self._update(state.name, "Failed", FailureReason=_reason(reason))
                    deployment.stop(0)
                    return
                time.sleep(WATCH_SECONDS)

        threading.Thread(target=watch, daemon=True, name=f"endpoint-watch-{state.name}").start()

    # ---- runtime ------------------------------------------------------------------------------

    def route(self, name: str, variant: str | None = None) -> Instance | None:
        """The instance that would answer an invocation of endpoint `name`, None if it does not serve."""
        with self._lock:
            state = self._endpoints.get(name.lower())
            deployment = state.live if state is not None else None
            if deployment is None:
                return None
            if variant is not None and variant not in deployment.instances:
                raise KeyError(variant)
            return deployment.pick(variant)

    @contextmanager
    def invocation(self, name: str, variant: str | None = None) -> Iterator[Instance | None]:
        """The instance that answers one invocation (None: the endpoint does not serve), counted as
        in flight until the block ends, so that an update stops no server with a request on its way."""
        with self._lock:
            state = self._endpoints.get(name.lower())
            deployment = state.live if state is not None else None
            instance = None
            if deployment is not None:
                if variant is not None and variant not in deployment.instances:
                    raise KeyError(variant)
                instance = deployment.pick(variant)
                deployment.inflight += 1
        try:
            yield instance
        finally:
            if deployment is not None:
                with self._lock:
                    deployment.inflight -= 1

    # ---- start and end of the server ----------------------------------------------------------

    def recover(self) -> list[str]:
        """Start again what a previous server left deployed; returns the endpoints being restarted."""
        restarted = []
        for record in self.ctx.resources.with_status(ENDPOINT, ACTIVE):
            body = record.body
            end_leftovers(record.name, body.get("Leftovers") or {})
            if body["EndpointStatus"] == "Deleting":
                self._delete(record.name, None)
                continue
            plan = body.get("Deployment") or body.get("Planned")
            if plan is None:  # it was Creating: the plan is what CreateEndpoint stored
                self._update(record.name, "Failed", FailureReason="The smlocal API server stopped before the "
                                                                  "endpoint's deployment was recorded.")
                continue
            status = "Creating" if body["EndpointStatus"] == "Creating" else "SystemUpdating"
            note = None
            if body.get("Pending"):
                note = (f"The update to endpoint configuration {body['Pending']['EndpointConfigName']} was "
                        f"interrupted when the smlocal API server stopped; the endpoint runs "
                        f"{plan['EndpointConfigName']}.")
            self._update(record.name, status, Pending=None, FailureReason=note)
            self.start_create(record.name, plan, Path(plan["Folder"]) if plan.get("Folder") else None)
            restarted.append(record.name)
        return restarted

    def shutdown(self, grace_seconds: float = 10.0) -> None:
        """Stop every server; the records stay as they are, so the next server starts them again."""
        self._closing = True
        with self._lock:
            states = list(self._endpoints.values())
        for state in states:
            state.cancel.set()
        threads = [threading.Thread(target=s.live.stop, args=(grace_seconds,), daemon=True)
                   for s in states if s.live is not None]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for state in states:
            if state.worker is not None:
                state.worker.join(grace_seconds)


def describe(body: dict) -> dict:
    """DescribeEndpoint's answer from the endpoint's record."""
    response = {k: body[k] for k in ("EndpointName", "EndpointArn", "EndpointConfigName", "EndpointStatus",
                                     "FailureReason", "CreationTime", "LastModifiedTime") if k in body}
    deployed = body.get("Deployment")
    plan = deployed or body.get("Planned")
    if plan:
        variants = []
        for variant in plan["Variants"]:
            weight = float(variant.get("InitialVariantWeight", 1.0))
            count = variant["InitialInstanceCount"]
            summary = {"VariantName": variant["VariantName"], "DesiredWeight": weight, "DesiredInstanceCount": count}
            if deployed:
                summary.update(CurrentWeight=weight, CurrentInstanceCount=count, DeployedImages=[
                    {"SpecifiedImage": variant["Container"]["Image"], "ResolvedImage": variant["Container"]["Image"],
                     "ResolutionTime": deployed["ResolutionTime"]}])
            elif body["EndpointStatus"] == "Creating":
                summary["VariantStatus"] = [{"Status": "Creating", "StatusMessage": "Starting the instances",
                                             "StartTime": body["CreationTime"]}]
            variants.append(summary)
        response["ProductionVariants"] = variants
    return response
