"""The Flask app: AWS wire protocols in, operation handlers out.

    POST /  X-Amz-Target: SageMaker.<Op>                      JSON 1.1 (sagemaker)
    POST /  X-Amz-Target: Logs_20140328.<Op>                  JSON 1.1 (CloudWatch Logs)
    POST /  X-Amz-Target: GraniteServiceVersion20100801.<Op>  JSON 1.0 (CloudWatch)
    POST /service/GraniteServiceVersion20100801/operation/<Op>  Smithy RPC v2 CBOR (CloudWatch;
                                                                what botocore uses today)
    POST /endpoints/<name>/invocations                        rest-json (sagemaker-runtime InvokeEndpoint)
    POST /  form Action=<Op>&Version=2010-05-08 | 2011-06-15  Query protocol, XML answers (IAM, STS)
    GET  /                                                     what is served (JSON); browsers go to /console/
    /console/...                                              the web console (emulator.console), when registered

Every request goes through the RequestValidator (emulator.api.request_validator) before any
route runs: where it comes from, protocol and content type, size, signature, and the body
against botocore's model of the operation. Errors go back as `{"__type": code, "message":
text}` (JSON or CBOR; IAM and STS: the Query protocol's XML ErrorResponse), which botocore raises
as `ClientError` with that code.
"""
from __future__ import annotations

import json
import logging
import traceback

from flask import Flask, Response, g, redirect, request
from werkzeug.exceptions import HTTPException

from emulator.api.errors import MAX_MESSAGE_CHARS, clip
from emulator.api.request_validator import (CBOR_ENDPOINT, JSON_ENDPOINT, RUNTIME_ENDPOINT, CheckedRequest, Operations,
                                            RequestPolicy, RequestValidator)
from emulator.api.wire import Encoding
from emulator.validation import RequestValidationError

log = logging.getLogger("smlocal.api")

__all__ = ["Operations", "create_app"]


def _error(status: int, code: str, message: str) -> Response:
    encoding = g.get("api_encoding") or Encoding.json()  # a wire.Encoding, or a QueryEncoding for IAM and STS
    return encoding.error(status, code, message, g.get("api_request_id", ""))


def create_app(services: list[Operations], policy: RequestPolicy | None = None) -> Flask:
    app = Flask("smlocal-api")
    validator = RequestValidator(services, policy or RequestPolicy())
    # Flask's own body limit, one byte above the validator's so that it can tell a chunked body
    # of exactly the limit from a longer one (Flask stops reading those at this length).
    app.config["MAX_CONTENT_LENGTH"] = validator.policy.max_body_bytes + 1

    @app.before_request
    def validate() -> None:
        g.api_checked = validator.check(request)

    @app.errorhandler(RequestValidationError)  # ApiError is one, with its own status and headers
    def api_error(exc: RequestValidationError) -> Response:
        log.info("%s %s -> %s: %s", request.method, clip(request.path, 200), exc.code, exc.message)
        response = _error(getattr(exc, "status", 400), exc.code, exc.message)
        response.headers.update(getattr(exc, "headers", {}))
        return response

    @app.errorhandler(Exception)
    def internal(exc: Exception) -> Response | HTTPException:  # a bug must still give an AWS-shaped answer
        if isinstance(exc, HTTPException):
            return exc  # Flask's own (404, 405) as they are
        message = clip(f"{exc.__class__.__name__}: {exc}", MAX_MESSAGE_CHARS)
        # The frames, and the message cut like any other: it may quote the request.
        log.error("%s %s failed:\n%s%s", request.method, clip(request.path, 200),
                  "".join(traceback.format_tb(exc.__traceback__)), message)
        return _error(500, "InternalFailure", message)

    def dispatch(**_route) -> Response:  # the route was read by the validator
        checked: CheckedRequest = g.api_checked
        result = checked.service.operations[checked.operation](checked.params)
        if isinstance(result, Response):  # the runtime answers with the container's own body and type
            return result
        return checked.encoding.response(200, result or {}, g.api_request_id)

    app.add_url_rule("/", JSON_ENDPOINT, dispatch, methods=["POST"])
    app.add_url_rule("/service/<prefix>/operation/<operation>", CBOR_ENDPOINT, dispatch, methods=["POST"])
    if validator.runtime is not None:
        app.add_url_rule("/endpoints/<name>/invocations", RUNTIME_ENDPOINT, dispatch, methods=["POST"])

    @app.get("/")
    def about() -> Response:
        # A browser (it prefers HTML) goes to the web console when there is one; clients get the JSON.
        if "console" in app.blueprints and request.accept_mimetypes.best_match(
                ["application/json", "text/html"]) == "text/html":
            return redirect("/console/", 302)
        body = {"service": "smlocal SageMaker-compatible API",
                "operations": {**{prefix: sorted(s.operations) for prefix, s in validator.by_prefix.items()},
                               # Query-protocol services have no target prefix: named with the Version.
                               **{f"{s.service.upper()} (Query, Version={version})": sorted(s.operations)
                                  for version, s in validator.by_version.items()}}}
        return Response(json.dumps(body, indent=2), content_type="application/json")

    return app
