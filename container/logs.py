"""SageMaker built-in style log lines: `[MM/DD/YYYY HH:MM:SS INFO <thread-id>] message`."""
from __future__ import annotations

import logging
import sys

LOGGER_NAME = "smlocal"


class BuiltinFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("[%(asctime)s %(levelname)s %(thread)d] %(message)s", "%m/%d/%Y %H:%M:%S")


def setup_logging(level: int = logging.INFO) -> logging.Logger:
    """Route the algorithm's logger to stdout in the built-in format (idempotent)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "_smlocal", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(BuiltinFormatter())
        handler._smlocal = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)
