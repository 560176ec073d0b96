"""The Flask app: AWS wire protocols in, operation handlers out.

    POST /  X-Amz-Target: SageMaker.<Op>                      JSON 1.1 (sagemaker)
    POST /  X-Amz-Target: Logs_20140328.<Op>                  JSON 1.1 (CloudWatch Logs)
    POST /  X-Amz-Target: GraniteServiceVersion20100801.<Op>  JSON 1.0 (CloudWatch)
    POST /service/GraniteServiceVersion20100801/operation/<Op>  Smithy RPC v2 CBOR (CloudWatch;
                                                                what botocore uses today)

Every request is checked against botocore's model of the operation before its handler runs;
errors go back as `{"__type": code, "message": text}` (JSON or CBOR), which botocore raises as
`ClientError` with that code. Signatures are not checked: any credentials work.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

import cbor2
from flask import Flask, Response, request

from emulator.api.errors import ApiError
from emulator.api.shapes import Relaxation, parse_input, service_model

log = logging.getLogger("smlocal.api")
CBOR_CONTENT_TYPE = "application/cbor"


class Operations(Protocol):
    service: str                                   # botocore service name
    relaxations: tuple[Relaxation, ...]
    operations: dict[str, Callable[[dict], dict]]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()   # epoch seconds, what botocore's JSON parser reads
    raise TypeError(f"cannot encode {type(value).__name__}")


class Encoding:
    def __init__(self, content_type: str, cbor: bool) -> None:
        self.content_type = content_type
        self.cbor = cbor

    def body(self, value: dict) -> bytes:
        if self.cbor:
            return cbor2.dumps(value, datetime_as_timestamp=True, timezone=timezone.utc)
        return json.dumps(value, default=_json_default).encode()

    def decode(self, raw: bytes) -> Any:
        if not raw:
            return {}
        try:
            return cbor2.loads(raw) if self.cbor else json.loads(raw)
        except (ValueError, cbor2.CBORDecodeError) as exc:
            raise ApiError("SerializationException", f"The request body is not valid "
                                                     f"{'CBOR' if self.cbor else 'JSON'}: {exc}") from None

    def response(self, status: int, value: dict, request_id: str) -> Response:
        headers = {"x-amzn-RequestId": request_id}
        if self.cbor:
            headers["smithy-protocol"] = "rpc-v2-cbor"
        return Response(self.body(value), status=status, content_type=self.content_type, headers=headers)


def create_app(services: list[Operations]) -> Flask:
    app = Flask("smlocal-api")
    by_prefix = {service_model(s.service).metadata["targetPrefix"]: s for s in services}

    def handle(prefix: str, operation: str, encoding: Encoding) -> Response:
        request_id = str(uuid.uuid4())
        try:
            service = by_prefix.get(prefix)
            if service is None:
                raise ApiError("UnknownOperationException",
                               f"This endpoint serves {', '.join(sorted(by_prefix))}; not '{prefix}'.")
            handler = service.operations.get(operation)
            if handler is None:
                raise ApiError("UnknownOperationException",
                               f"{prefix}.{operation} is not supported by the smlocal API; supported: "
                               f"{', '.join(sorted(service.operations))}.")
            model = service_model(service.service).operation_model(operation)
            params = parse_input(encoding.decode(request.get_data()), model.input_shape, service.relaxations)
            result = handler(params)
            return encoding.response(200, result or {}, request_id)
        except ApiError as exc:
            log.info("%s.%s -> %s: %s", prefix, operation, exc.code, exc.message)
            return encoding.response(exc.status, {"__type": exc.code, "message": exc.message}, request_id)
        except Exception as exc:  # noqa: BLE001 - a bug must still produce an AWS-shaped answer
            log.exception("%s.%s failed", prefix, operation)
            return encoding.response(500, {"__type": "InternalFailure",
                                           "message": f"{exc.__class__.__name__}: {exc}"}, request_id)

    @app.post("/")
    def json_protocol() -> Response:
        target = request.headers.get("X-Amz-Target", "")
        version = "1.0" if request.content_type and request.content_type.endswith("1.0") else "1.1"
        encoding = Encoding(f"application/x-amz-json-{version}", cbor=False)
        if "." not in target:
            action = request.form.get("Action") if request.content_type and "form" in request.content_type else None
            message = (f"The query protocol (Action={action}) is not served here; use a client that sends JSON "
                       f"or CBOR (botocore does)." if action else "Missing X-Amz-Target header (SageMaker.<Operation>, "
                                                                  "Logs_20140328.<Operation>, ...).")
            return encoding.response(400, {"__type": "UnknownOperationException", "message": message},
                                     str(uuid.uuid4()))
        prefix, operation = target.split(".", 1)
        return handle(prefix, operation, encoding)

    @app.post("/service/<prefix>/operation/<operation>")
    def cbor_protocol(prefix: str, operation: str) -> Response:
        return handle(prefix, operation, Encoding(CBOR_CONTENT_TYPE, cbor=True))

    @app.get("/")
    def about() -> Response:
        body = {"service": "smlocal SageMaker-compatible API",
                "operations": {prefix: sorted(s.operations) for prefix, s in by_prefix.items()}}
        return Response(json.dumps(body, indent=2), content_type="application/json")

    return app
