"""Errors the API answers with: an AWS error code, a message and the HTTP status."""
from __future__ import annotations

# Longest message an error response (and its log line) carries. Messages quote request values
# (validation errors name the value they refuse); a client must never get back, or make the
# server log, more than this however large the request was.
MAX_MESSAGE_CHARS = 2048


class ApiError(Exception):
    """Sent as `{"__type": code, "message": message}`; botocore raises it as ClientError(code).

    `headers` go with the answer (e.g. `x-amzn-query-error`, through which query-compatible
    services such as CloudWatch give the error code their query-protocol clients knew).
    """

    def __init__(self, code: str, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = clip(message, MAX_MESSAGE_CHARS)
        self.status = status
        self.headers = headers or {}


def clip(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters and saying how long it was when cut."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text)} characters)"
    return text[:max(0, limit - len(note))] + note


def not_found() -> ApiError:
    # What SageMaker answers for an unknown training job (not the modeled ResourceNotFound).
    return ApiError("ValidationException", "Requested resource not found.")
