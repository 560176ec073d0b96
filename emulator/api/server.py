"""`smlocal api`: the app under gunicorn, with the job service built inside the worker.

One worker process with threads: training jobs run in background threads of that process and
their state lives in its memory while they run (and in SQLite always), so a second worker
would not know the first one's running jobs. Threads serve requests concurrently; SQLite and
the job slots are shared safely. The worker builds the service when it starts (not the master),
so no thread is ever forked; on shutdown it stops the running jobs (they end Stopped with their
artifacts) and whatever cannot finish in time is marked Failed when the server starts again.

Requests are checked by emulator.api.request_validator; signatures are checked when the config
or the environment has credentials (see emulator.api.sigv4 and docs/security.md).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from gunicorn.app.base import BaseApplication

from emulator.api.app import create_app
from emulator.api.hosting_ops import HostingOperations
from emulator.api.identity_ops import IamOperations, StsOperations
from emulator.api.logs_ops import LogsOperations
from emulator.api.metrics_ops import MetricsOperations
from emulator.api.request_validator import MAX_BODY_BYTES, RequestPolicy, merged
from emulator.api.runtime import RuntimeOperations
from emulator.api.sagemaker_ops import SageMakerOperations
from emulator.api.service import ServiceOptions, TrainingService
from emulator.api.sigv4 import configured_credentials
from emulator.api.tags_ops import TagOperations, Tagging
from emulator.api.tuning_ops import TuningOperations
from emulator.console import ConsoleBackend, register_console
from emulator.hosting.service import HostingService, open_hosting
from emulator.instance_types import HOST_LIMIT_ENV, host_limit
from emulator.jobhome import JobHome, default_home
from emulator.jobs import Jobs
from emulator.runners.base import DEFAULT_STOP_GRACE_SECONDS
from emulator.runners.placement import DEFAULT_IMAGE_REPO, Placer
from emulator.tuning.service import TuningService

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8777
SHUTDOWN_SECONDS = 20.0
# Endpoints' servers get this long to finish in-flight requests when the server stops.
HOSTING_SHUTDOWN_SECONDS = 5.0

log = logging.getLogger("smlocal.api")


@dataclass
class ApiConfig:
    home: Path = field(default_factory=default_home)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_concurrent_jobs: int | None = None  # hosts that train at once (a job takes one per instance); None: host_limit()
    runner: str = "auto"
    strict_gpu: bool = False
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS
    image_repo: str = DEFAULT_IMAGE_REPO
    threads: int = 8
    # Requests must be signed with these (else with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    # AWS_SESSION_TOKEN when set; else signatures are not checked).
    access_key: str | None = None
    secret_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()   # Host names accepted besides localhost and the bind address
    max_body_bytes: int = MAX_BODY_BYTES

    def request_policy(self) -> RequestPolicy:
        return RequestPolicy(bind_host=self.host, allowed_hosts=tuple(self.allowed_hosts),
                             credentials=configured_credentials(self.access_key, self.secret_key),
                             max_body_bytes=self.max_body_bytes)


def concurrent_hosts(requested: int | None) -> int:
    """Hosts the server trains at once: as asked (default: all the machine runs), but never more
    than the machine runs (host_limit)."""
    machine = host_limit()
    if requested is None:
        return machine
    if requested > machine:
        log.warning("--max-concurrent-jobs %d is more hosts than this machine runs at once (%d); training at most "
                    "%d at once. %s raises the machine's limit.", requested, machine, machine, HOST_LIMIT_ENV)
    return min(requested, machine)


def build(config: ApiConfig) -> tuple[Flask, TrainingService, HostingService, TuningService]:
    """The app, its job, hosting and tuning services; marks jobs a previous server left unfinished as
    Failed, starts the endpoints it left deployed again and continues its tuning jobs."""
    policy = config.request_policy()  # first: refuse half-given credentials before touching the store
    placer = Placer(config.runner, strict_gpu=config.strict_gpu, image_repo=config.image_repo,
                    stop_grace_seconds=config.stop_grace_seconds)
    options = ServiceOptions(max_concurrent_jobs=concurrent_hosts(config.max_concurrent_jobs),
                             stop_grace_seconds=config.stop_grace_seconds)
    jobs = Jobs(JobHome(config.home), region=options.region, account=options.account)
    service = TrainingService(jobs, placer, options)
    recovered = jobs.settle_all()
    if recovered:
        log.warning("marked %d job(s) Failed whose process is gone (the server's last run, or a killed smlocal "
                    "train): %s", len(recovered), ", ".join(recovered))
    hosting = open_hosting(config.home, placer, region=options.region, account=options.account)
    restarted = hosting.recover()
    if restarted:
        log.info("starting %d endpoint(s) again: %s", len(restarted), ", ".join(restarted))
    tuning = TuningService(service, service.slots.slots, options.region, options.account)
    continued = tuning.recover()  # after settle_all: the training jobs it left running are Failed by now
    if continued:
        log.info("continuing %d tuning job(s): %s", len(continued), ", ".join(continued))
    tagging = Tagging(jobs.store, [hosting.ctx.resources.arn])
    sagemaker = merged(SageMakerOperations(service), HostingOperations(hosting, tagging), TuningOperations(tuning),
                       TagOperations(tagging))
    logs = LogsOperations(jobs.store, options.region, options.account, hosting.ctx.logs)
    runtime = RuntimeOperations(hosting)
    app = create_app([sagemaker, logs, MetricsOperations(jobs.store), runtime,
                      IamOperations(options.account), StsOperations(options.account)], policy)
    # The web console: the same operations, behind the same checks (emulator.console); with
    # credentials it asks for them, as the API asks every request to be signed with them.
    register_console(app, ConsoleBackend(sagemaker, logs, runtime, jobs.store, options.region), policy.credentials)
    if policy.credentials is None:
        log.warning("signatures are not checked: no credentials configured (access key/secret key, or "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    else:
        log.info("requests must be signed with access key %s", policy.credentials.access_key)
    return app, service, hosting, tuning


class ApiServer(BaseApplication):
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.service: TrainingService | None = None
        self.hosting: HostingService | None = None
        self.tuning: TuningService | None = None
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": f"{self.config.host}:{self.config.port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": self.config.threads,
            "timeout": 120,
            # Room for shutdown(): kill the jobs, let them pack, then exit.
            "graceful_timeout": int(SHUTDOWN_SECONDS) + 10,
            "accesslog": None,
            "loglevel": "info",
            "proc_name": "smlocal-api",
            # gunicorn's runtime control socket (a file under ~/.gunicorn) is not needed here.
            "control_socket_disable": True,
            "worker_exit": self._worker_exit,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        app, self.service, self.hosting, self.tuning = build(self.config)
        log.info("smlocal API on http://%s:%d (job home %s, %d host(s) at once, runner %s)", self.config.host,
                 self.config.port, self.config.home, self.service.slots.slots, self.config.runner)
        return app

    def _worker_exit(self, server, worker) -> None:  # noqa: ARG002 - gunicorn's hook signature
        if self.hosting is not None:  # its endpoints start again with the next server
            self.hosting.shutdown(HOSTING_SHUTDOWN_SECONDS)
        if self.tuning is not None:  # first: no tuning job may launch a job while the jobs stop
            self.tuning.shutdown()
        if self.service is not None:
            self.service.shutdown(SHUTDOWN_SECONDS)


def serve(config: ApiConfig) -> None:
    ApiServer(config).run()
