"""Request and response bodies of the wire protocols: JSON (1.0/1.1) and Smithy RPC v2 CBOR.

Decoding refuses what no botocore client sends and what would cost the server more than the
request is worth: invalid JSON/CBOR, and values nested deeper than MAX_NESTING levels (the
deepest input shape of the operations served here has 6), which would otherwise make the
parsers or the model check recurse until Python gives up (a 500) or loop on CBOR's shared
references. Both are `SerializationException`, as the services call a body they cannot read.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import cbor2
from flask import Response

from emulator.api.errors import ApiError

CBOR_CONTENT_TYPE = "application/cbor"
MAX_NESTING = 32


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()   # epoch seconds, what botocore's JSON parser reads
    raise TypeError(f"cannot encode {type(value).__name__}")


def check_nesting(value: Any, limit: int = MAX_NESTING) -> None:
    """Raise SerializationException if containers nest deeper than `limit` (cycles do too)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            raise ApiError("SerializationException", f"The request body nests values more than {limit} levels deep.")
        stack.extend((child, depth + 1) for child in children)


class Encoding:
    """One protocol's body format: how a request body is read and an answer written."""

    def __init__(self, content_type: str, cbor: bool) -> None:
        self.content_type = content_type
        self.cbor = cbor

    @classmethod
    def json(cls, version: str = "1.1") -> "Encoding":
        return cls(f"application/x-amz-json-{version}", cbor=False)

    @classmethod
    def cbor_rpc(cls) -> "Encoding":
        return cls(CBOR_CONTENT_TYPE, cbor=True)

    def body(self, value: dict) -> bytes:
        if self.cbor:
            return cbor2.dumps(value, datetime_as_timestamp=True, timezone=timezone.utc)
        return json.dumps(value, default=_json_default).encode()

    def decode(self, raw: bytes) -> Any:
        if not raw:
            return {}
        name = "CBOR" if self.cbor else "JSON"
        try:
            value = cbor2.loads(raw) if self.cbor else json.loads(raw)
        except RecursionError:
            # json's parser recurses per level; the C parser raises this cleanly.
            raise ApiError("SerializationException", f"The request body nests values more than "
                                                     f"{MAX_NESTING} levels deep.") from None
        except (ValueError, cbor2.CBORDecodeError) as exc:
            raise ApiError("SerializationException", f"The request body is not valid {name}: {exc}") from None
        check_nesting(value)
        return value

    def error(self, status: int, code: str, message: str, request_id: str,
              headers: dict[str, str] | None = None) -> Response:
        return self.response(status, {"__type": code, "message": message}, request_id, headers)

    def response(self, status: int, value: dict, request_id: str, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"x-amzn-RequestId": request_id, **(headers or {})}
        if self.cbor:
            all_headers["smithy-protocol"] = "rpc-v2-cbor"
        return Response(self.body(value), status=status, content_type=self.content_type, headers=all_headers)
