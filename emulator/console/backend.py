"""What the console calls: the API's own operation handlers, behind the API's own input checks.

A page's read or a form's submission becomes an AWS request (a dict shaped like the JSON body
botocore would send), which goes through `emulator.validation.parse_input` with the service's
ShapeRules, exactly as the request validator checks a request off the wire, and then to the same
handler the operation's route calls. So the console refuses what the API refuses, with the API's
words, and creates nothing the API would not.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Response

from emulator.api.request_validator import Operations
from emulator.store import JobStore
from emulator.validation import parse_input, service_model


@dataclass(frozen=True)
class ConsoleBackend:
    sagemaker: Operations        # training, hosting and tuning (the merged `sagemaker` operations)
    logs: Operations             # CloudWatch Logs: the log the Logs API serves
    runtime: Operations | None   # sagemaker-runtime InvokeEndpoint (None: no hosting)
    store: JobStore              # the metric time series (the values GetMetricStatistics aggregates)
    region: str = "us-east-1"

    @staticmethod
    def call(service: Operations, operation: str, request: dict) -> dict | Response:
        """`operation` of `service` with `request`, checked as the API checks it; raises
        RequestValidationError (or ApiError) with the API's message."""
        shape = service_model(service.service).operation_model(operation).input_shape
        return service.operations[operation](parse_input(request, shape, service.rules))

    def sm(self, operation: str, **request) -> dict:
        return self.call(self.sagemaker, operation, request)

    def serves(self, operation: str) -> bool:
        return operation in self.sagemaker.operations
