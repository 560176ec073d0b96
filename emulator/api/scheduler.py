"""At most N jobs train at once; the others wait their turn in submission order.

A waiting job whose stop was requested leaves the queue at once (it then ends Stopped without
taking a slot), so StopTrainingJob never waits for other jobs to finish.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable


class JobSlots:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"the number of jobs that run at once must be at least 1, got {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[str] = deque()
        self._running = 0

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def enqueue(self, name: str) -> int:
        """Join the queue; returns how many jobs are ahead (running ones included)."""
        with self._cond:
            ahead = self._running + len(self._waiting)
            self._waiting.append(name)
            return ahead

    def wait_turn(self, name: str, cancelled: Callable[[], bool]) -> bool:
        """Block until `name` may run (True, a slot is taken) or `cancelled()` (False, no slot)."""
        with self._cond:
            while True:
                if cancelled():
                    self._waiting.remove(name)
                    self._cond.notify_all()
                    return False
                if self._waiting[0] == name and self._running < self.slots:
                    self._waiting.popleft()
                    self._running += 1
                    self._cond.notify_all()
                    return True
                self._cond.wait(0.5)

    def release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def wake(self) -> None:
        """Re-check waiting jobs now (e.g. after a stop request)."""
        with self._cond:
            self._cond.notify_all()
