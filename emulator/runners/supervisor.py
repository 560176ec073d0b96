"""Nothing a job starts outlives the emulator process that runs it, even after `kill -9`.

    python -I supervisor.py --parent PID -- COMMAND [ARG...]

is what the process runner starts for each host, in a new session: the supervisor leads the
host's process group, runs COMMAND in that group, passes SIGTERM on to it (as `docker stop`
signals a container's PID 1) and exits with its exit code (128 + N for signal N). When its
parent (`smlocal train`, the API server) is gone, however it died, it kills the whole group at
once. COMMAND also gets the parent-death signal SIGKILL from the supervisor itself (Linux), so
it does not run on should the supervisor be killed first.

    python -I supervisor.py --parent PID --containers NAME[,NAME...]

watches a Docker job the same way (Docker has no parent-death link): once the parent is gone it
removes the containers.

Stdlib only (plus the Docker SDK for --containers), run by file path with `-I`, so it needs no
PYTHONPATH and leaves the command's environment exactly as the runner made it.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.1
PR_SET_PDEATHSIG = 1
CANNOT_START = 127  # what a shell answers for a command it cannot run


def command_line(parent: int, command: list[str]) -> list[str]:
    """How a runner starts COMMAND under a supervisor that watches process `parent`."""
    return [sys.executable, "-I", str(Path(__file__).resolve()), "--parent", str(parent), "--", *command]


def watcher_line(parent: int, containers: list[str]) -> list[str]:
    """How a runner starts the watcher that removes `containers` once process `parent` is gone."""
    return [sys.executable, "-I", str(Path(__file__).resolve()), "--parent", str(parent),
            "--containers", ",".join(containers)]


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the supervisor (single-threaded) ends."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the supervisor's own watch still ends the group


def exit_code(returncode: int) -> int:
    """Killed by signal N -> 128 + N, as a container's exit code reports it."""
    return 128 - returncode if returncode < 0 else returncode


def supervise(parent: int, command: list[str]) -> int:
    if os.getpgrp() != os.getpid():
        os.setsid()  # the group killed below must be the host's own, never the caller's
    try:
        child = subprocess.Popen(command, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    except OSError as exc:
        print(f"Cannot start {command[0]}: {exc.strerror}", flush=True)
        return CANNOT_START

    def forward(signum, frame):  # noqa: ARG001
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    while True:
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)  # the whole group, this process last
        try:
            return exit_code(child.wait(POLL_SECONDS))
        except subprocess.TimeoutExpired:
            continue


def watch_containers(parent: int, names: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # the job ended normally
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    remove_containers(names)
    return 0


def remove_containers(names: list[str]) -> None:
    """Force-remove these containers (running or not); without an SDK or engine nothing runs there."""
    try:
        import docker  # only here: the watcher idles without the SDK loaded

        client = docker.from_env(timeout=30)
        for name in names:
            try:
                client.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
    except Exception:  # noqa: BLE001 - no SDK, no engine
        pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--containers")
    parser.add_argument("command", nargs="*")
    args = parser.parse_args(argv)
    if args.containers:
        return watch_containers(args.parent, args.containers.split(","))
    if not args.command:
        parser.error("a COMMAND to run is needed (after --)")
    return supervise(args.parent, args.command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
