"""Graceful stop: SIGTERM sets a flag the training loops poll between batches."""
from __future__ import annotations

import os
import signal
import threading


class StopSignal:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._pid: int | None = None

    def install(self) -> "StopSignal":
        self._pid = os.getpid()
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        if os.getpid() != self._pid:
            # A forked data-loading worker inherited the handler: its parent ends it with SIGTERM,
            # so it must die as an unhandled SIGTERM would (and not log a stop request).
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        from container.logs import get_logger

        get_logger().info("Received SIGTERM: stopping after the current batch and saving the model.")
        self._event.set()

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()
