"""Errors the API answers with: an AWS error code, a message and the HTTP status."""
from __future__ import annotations

from emulator.validation import MAX_MESSAGE_CHARS, RequestValidationError, clip

__all__ = ["MAX_MESSAGE_CHARS", "ApiError", "clip"]


class ApiError(RequestValidationError):
    """Sent as `{"__type": code, "message": message}`; botocore raises it as ClientError(code).

    Any RequestValidationError is answered the same way, with status 400. `headers` go with the
    answer (e.g. `x-amzn-query-error`, through which query-compatible services such as
    CloudWatch give the error code their query-protocol clients knew).
    """

    def __init__(self, code: str, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code)
        self.status = status
        self.headers = headers or {}
