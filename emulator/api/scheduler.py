"""At most N hosts train at once; jobs wait their turn in submission order.

A job takes one slot per host (InstanceCount), since every host is a training process or
container of its own: `--max-concurrent-jobs 2` runs two 1-host jobs, or one 2-host job, at
once. The queue is strictly first come first served, so a large job at the head is never
overtaken (and starved) by small ones behind it. A job with more hosts than there are slots
could never run; the service refuses it at submission (`fits`).

A waiting job whose stop was requested leaves the queue at once (it then ends Stopped without
taking a slot), so StopTrainingJob never waits for other jobs to finish.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable


class HostSlots:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"the number of hosts that train at once must be at least 1, got {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[str] = deque()
        self._hosts: dict[str, int] = {}      # every queued or running job -> its host count
        self._running: set[str] = set()

    @property
    def running_hosts(self) -> int:
        with self._cond:
            return sum(self._hosts[name] for name in self._running)

    @property
    def running_jobs(self) -> int:
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def fits(self, hosts: int) -> bool:
        """Whether a job of `hosts` hosts can ever run here."""
        return 1 <= hosts <= self.slots

    def would_wait(self, hosts: int) -> bool:
        """Whether a job of `hosts` hosts submitted now has to wait."""
        with self._cond:
            return bool(self._waiting) or self._used() + hosts > self.slots

    def enqueue(self, name: str, hosts: int = 1) -> int:
        """Join the queue; returns how many jobs are ahead (running ones included)."""
        if not self.fits(hosts):
            raise ValueError(f"a job of {hosts} hosts can never run with {self.slots} slot(s)")
        with self._cond:
            ahead = len(self._running) + len(self._waiting)
            self._waiting.append(name)
            self._hosts[name] = hosts
            return ahead

    def wait_turn(self, name: str, cancelled: Callable[[], bool]) -> bool:
        """Block until `name` may run (True, its slots are taken) or `cancelled()` (False, none taken)."""
        with self._cond:
            while True:
                if cancelled():
                    self._waiting.remove(name)
                    del self._hosts[name]
                    self._cond.notify_all()
                    return False
                if self._waiting[0] == name and self._used() + self._hosts[name] <= self.slots:
                    self._waiting.popleft()
                    self._running.add(name)
                    self._cond.notify_all()
                    return True
                self._cond.wait(0.5)

    def release(self, name: str) -> None:
        with self._cond:
            self._running.discard(name)
            self._hosts.pop(name, None)
            self._cond.notify_all()

    def wake(self) -> None:
        """Re-check waiting jobs now (e.g. after a stop request)."""
        with self._cond:
            self._cond.notify_all()

    def _used(self) -> int:
        return sum(self._hosts[name] for name in self._running)
