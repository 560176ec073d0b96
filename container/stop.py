"""Graceful stop: SIGTERM sets a flag the training loops poll between batches."""
from __future__ import annotations

import os
import signal
import threading

_fork_hook_registered = False


def _default_sigterm_in_child() -> None:
    """Forked children (data-loading workers) get the default SIGTERM action back. Their parent
    ends them with SIGTERM, and an inherited Python-level handler would not do: it only runs when
    the child's main thread wakes up, and a worker blocked on its task queue while the signal lands
    on one of its MXNet threads never does, so the parent would wait for it forever."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class StopSignal:
    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> "StopSignal":
        global _fork_hook_registered
        if not _fork_hook_registered:
            os.register_at_fork(after_in_child=_default_sigterm_in_child)
            _fork_hook_registered = True
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
