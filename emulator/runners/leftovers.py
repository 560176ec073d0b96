"""End what a dead emulator process left running of a job.

Normally nothing is left: each host's supervisor kills its process group, and the Docker watcher
removes the containers, once the emulator process is gone. This is the backstop for when those
were killed too. `processes` is what the job recorded when its runner started:
`{"pids": {host: pid}, "containers": [name, ...]}`; each pid leads its host's process group.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from emulator.runners.supervisor import remove_containers

PROC = Path("/proc")


def end_leftovers(job_name: str, processes: dict) -> list[int]:
    """SIGKILL every process still in one of the job's groups, remove its containers; returns the pids killed."""
    groups = {int(pid) for pid in (processes.get("pids") or {}).values()}
    killed = [pid for pid in _group_members(groups) if _runs_job(pid, job_name) and _kill(pid)]
    if processes.get("containers"):
        remove_containers(processes["containers"])
    return killed


def _group_members(groups: set[int]) -> list[int]:
    """Processes whose process group is one of `groups` (the leader may already be gone)."""
    members = []
    if not groups or not PROC.is_dir():
        return members
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) in groups:
            members.append(int(entry.name))
    return members


def _runs_job(pid: int, job_name: str) -> bool:
    """True if process `pid` is one of this job's (not a reused pid or group id)."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"TRAINING_JOB_NAME={job_name}".encode() in environ.split(b"\0")


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False
