"""Graceful stop: SIGTERM sets a flag the training loops poll between batches."""
from __future__ import annotations

import signal
import threading


class StopSignal:
    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> "StopSignal":
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        from container.logs import get_logger

        get_logger().info("Received SIGTERM: stopping after the current batch and saving the model.")
        self._event.set()

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()
