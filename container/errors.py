"""Error taxonomy: user errors (ClientError) vs everything else, and the failure file."""
from __future__ import annotations

from pathlib import Path

from container.contract import FAILURE_REASON_LIMIT


class ClientError(Exception):
    """A problem the user can fix: bad hyperparameter, bad data, incompatible model."""


class AlgorithmError(Exception):
    """An internal error of the algorithm (a bug or an environment problem)."""


def failure_message(exc: BaseException) -> str:
    """One human-readable line for output/failure, prefixed as SageMaker shows it."""
    text = str(exc).strip() or exc.__class__.__name__
    if isinstance(exc, ClientError):
        return f"ClientError: {text}"
    if isinstance(exc, AlgorithmError):
        return f"AlgorithmError: {text}"
    return f"AlgorithmError: {exc.__class__.__name__}: {text}"


def write_failure(path: Path, message: str) -> None:
    """Write the failure file once (the first failure is the one that explains the job)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text().strip():
        return
    path.write_text(message[:FAILURE_REASON_LIMIT] + "\n")
