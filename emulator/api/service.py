"""Training jobs behind the API: submission, background runs, stop.

Every job runs in its own background thread of the server process, through the runner its
placement chose; `HostSlots` lets at most `max_concurrent_jobs` hosts train at once (a job takes
one per instance; the others wait, InProgress / Starting). The jobs are those of emulator.jobs,
the same store and folders as `smlocal train`'s: every status change, log line and metric value
goes to the store as it happens, so the store alone answers Describe, GetLogEvents and
GetMetricStatistics, for jobs of either front end, and a restarted server still has them. A job
whose process died (this server's last run, or a killed `smlocal train`) is marked Failed when it
is looked at, and what it left running is ended.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from emulator.api.errors import ApiError
from emulator.api.scheduler import HostSlots
from emulator.jobs import Jobs
from emulator.lifecycle import TrainingJob, check_host_limit, region_from_env
from emulator.runners.base import DEFAULT_STOP_GRACE_SECONDS
from emulator.runners.placement import Placer
from emulator.spec import DEFAULT_ACCOUNT_ID, TrainingJobSpec
from emulator.store import StoredJob

log = logging.getLogger("smlocal.api")

# How long StopTrainingJob waits for the job to report Stopping before it answers.
STOP_ACKNOWLEDGE_SECONDS = 2.0


@dataclass
class ServiceOptions:
    max_concurrent_jobs: int = 1        # hosts, not jobs: a 2-instance job takes 2 (the CLI's name)
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS
    region: str = field(default_factory=region_from_env)
    account: str = DEFAULT_ACCOUNT_ID


class TrainingService:
    def __init__(self, jobs: Jobs, placer: Placer, options: ServiceOptions | None = None) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.placer = placer
        self.options = options or ServiceOptions()
        self.slots = HostSlots(self.options.max_concurrent_jobs)
        self._live: dict[str, TrainingJob] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._closing = False

    # ---- submission ---------------------------------------------------------------------------

    def create(self, request: dict, tags: list[tuple[str, str]] = ()) -> str:
        """Validate, claim the name, start the job in the background; returns the ARN."""
        spec = TrainingJobSpec.from_request(request)
        # What the machine runs at all (SMLOCAL_MAX_HOSTS) first, then what this server was told to.
        check_host_limit(spec)
        if not self.slots.fits(spec.instance_count):
            raise ApiError("ResourceLimitExceeded", f"This server trains at most {self.slots.slots} host(s) at once "
                                                    f"(smlocal api --max-concurrent-jobs {self.slots.slots}), and the "
                                                    f"job asks for InstanceCount {spec.instance_count}: start the "
                                                    f"server with --max-concurrent-jobs {spec.instance_count} or more.")
        job = self.jobs.submit(spec, self.placer.place(spec), tags=tags,
                               starting_message=self._starting_message(spec.instance_count),
                               stop_grace_seconds=self.options.stop_grace_seconds)
        self._live[spec.name] = job
        self.slots.enqueue(spec.name, spec.instance_count)
        thread = threading.Thread(target=self._run, args=(job,), name=f"job-{spec.name}", daemon=True)
        self._threads[spec.name] = thread
        thread.start()
        return job.result.arn

    def _starting_message(self, hosts: int) -> str:
        if not self.slots.would_wait(hosts):
            return "Starting the training job"
        ahead = self.slots.running_jobs + self.slots.waiting
        return (f"Waiting for a free training slot: {ahead} job(s) ahead; this server trains "
                f"{self.slots.slots} host(s) at once")

    def _run(self, job: TrainingJob) -> None:
        name = job.spec.name
        got_slot = self.slots.wait_turn(name, cancelled=lambda: job.stop_requested)
        try:
            job.run()
        except Exception:  # noqa: BLE001 - run() ends every job with a status; this is a last resort
            log.exception("training job %s ended with an unexpected error", name)
        finally:
            if got_slot:
                self.slots.release(name)
            self._live.pop(name, None)
            if not self._closing:  # shutdown() still joins the threads it knows
                self._threads.pop(name, None)

    # ---- queries and stop ---------------------------------------------------------------------

    def job(self, name: str) -> StoredJob:
        return self.jobs.get(name)

    def stop(self, name: str) -> None:
        """Stop any job of the store, whichever process runs it; answers once it says Stopping."""
        stored = self.jobs.stop(name)
        live = self._live.get(stored.name)
        if live is not None:
            live.stop()  # now, rather than at the job's next look at its stop marker
        self.slots.wake()
        deadline = time.monotonic() + STOP_ACKNOWLEDGE_SECONDS
        while self.store.job(stored.name).status == "InProgress" and time.monotonic() < deadline:
            time.sleep(0.05)

    # ---- end of the server ----------------------------------------------------------------------

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop every job at once (kill, no grace) and give them `timeout` seconds to pack and end."""
        self._closing = True
        for job in list(self._live.values()):
            job.note("The API server is shutting down: stopping this job.")
            job.stop(force=True)
        self.slots.wake()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
