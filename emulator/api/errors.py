"""Errors the API answers with: an AWS error code, a message and the HTTP status."""
from __future__ import annotations


class ApiError(Exception):
    """Sent as `{"__type": code, "message": message}`; botocore raises it as ClientError(code)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def not_found() -> ApiError:
    # What SageMaker answers for an unknown training job (not the modeled ResourceNotFound).
    return ApiError("ValidationException", "Requested resource not found.")
