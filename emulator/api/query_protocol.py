"""The AWS Query protocol, which IAM and STS speak: form-encoded requests, XML answers.

botocore sends `POST /` with `Content-Type: application/x-www-form-urlencoded; charset=utf-8`
and a body `Action=GetRole&Version=2010-05-08&RoleName=...`; the `Version` names the service
(its model's apiVersion). Members are flattened into dotted keys by the input shape: a list is
`Name.member.N` (or `Name.N` when the model marks it flattened), a map `Name.entry.N.key` /
`.value`, a structure `Name.Member`. Answers are `<OpResponse><OpResult>...` XML written from the
operation's output shape, errors `<ErrorResponse><Error><Type/><Code/><Message/></Error>`, which
is what botocore's query parser reads (emulator/api/wire.py holds the JSON and CBOR protocols).
"""
from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from botocore.model import OperationModel, ServiceModel, Shape
from flask import Response

from emulator.api.errors import ApiError

QUERY_CONTENT_TYPE = "application/x-www-form-urlencoded"
XML_CONTENT_TYPE = "text/xml"
# More fields than any request to the served operations needs (SimulatePrincipalPolicy's lists
# are the longest); parse_qsl refuses a body with more before building them all.
MAX_FORM_FIELDS = 10_000
# Input shapes of the served operations nest 4 levels at most; a recursive shape stops here.
MAX_SHAPE_DEPTH = 16


def malformed(message: str) -> ApiError:
    return ApiError("MalformedQueryString", message)


class Form:
    """A request's fields, and a sorted index of their keys: whether any key is `key` or lies under
    it (`key.<...>`, how a list item is found) is a binary search, whatever the keys look like."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self._keys = sorted(fields)

    def get(self, key: str) -> str | None:
        return self.fields.get(key)

    def has(self, key: str) -> bool:
        if key in self.fields:
            return True
        below = bisect_left(self._keys, key + ".")
        return below < len(self._keys) and self._keys[below].startswith(key + ".")


def read_form(body: bytes) -> Form:
    """The form's fields; the last value wins for a repeated key, as the services take it."""
    try:
        text = body.decode("utf-8")
        return Form(dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                                   max_num_fields=MAX_FORM_FIELDS)))
    except UnicodeDecodeError:
        raise malformed("The request body is not UTF-8 text.") from None
    except ValueError as exc:  # a field without "=", or more than MAX_FORM_FIELDS fields
        raise malformed(f"The request body is not a valid form: {exc}") from None


def _scalar(text: str, shape: Shape) -> Any:
    """The form's text as the member's type; text that is not one stays text, which the model
    check then reports as a value of the wrong type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text  # strings, timestamps (ISO 8601, read by the model check), blobs


def _member_key(name: str, shape: Shape) -> str:
    return shape.serialization.get("name", name)


def _value(fields: Form, prefix: str, shape: Shape, depth: int) -> Any:
    """The member at `prefix` of the form (None when absent), built by its shape."""
    if depth > MAX_SHAPE_DEPTH:
        return None
    kind = shape.type_name
    if kind == "structure":
        found = {}
        for name, member in shape.members.items():
            value = _value(fields, f"{prefix}.{_member_key(name, member)}", member, depth + 1)
            if value is not None:
                found[name] = value
        return found or None
    if kind == "list":
        if fields.get(prefix) == "":  # botocore's way of sending an empty list
            return []
        item = prefix if shape.serialization.get("flattened") else \
            f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        return _items(fields, item, lambda key: _value(fields, key, shape.member, depth + 1))
    if kind == "map":
        entry = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        pairs = _items(fields, entry, lambda key: (fields.get(f"{key}.{key_name}"),
                                                   _value(fields, f"{key}.{value_name}", shape.value, depth + 1)))
        return {k: v for k, v in pairs} if pairs is not None else None
    text = fields.get(prefix)
    return None if text is None else _scalar(text, shape)


def _items(fields: Form, prefix: str, read) -> list | None:
    """Items `prefix.1`, `prefix.2`, ... up to the first missing index (as the services read them)."""
    items = []
    while fields.has(f"{prefix}.{len(items) + 1}"):
        items.append(read(f"{prefix}.{len(items) + 1}"))
    return items or None


def form_params(fields: Form, shape: Shape | None) -> dict:
    """The operation's input members from the form's fields (Action and Version left out)."""
    if shape is None:
        return {}
    params = {}
    for name, member in shape.members.items():
        value = _value(fields, _member_key(name, member), member, 1)
        if value is not None:
            params[name] = value
    return params


# ---- answers -----------------------------------------------------------------------------------


def _text(value: Any, shape: Shape) -> str:
    if shape.type_name == "timestamp" and isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def _write(parent: ElementTree.Element, tag: str, value: Any, shape: Shape) -> None:
    kind = shape.type_name
    if kind == "list" and shape.serialization.get("flattened"):
        for item in value:
            _write(parent, tag, item, shape.member)
        return
    element = ElementTree.SubElement(parent, tag)
    if kind == "structure":
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _write(element, _member_key(name, member), value[name], member)
    elif kind == "list":
        for item in value:
            _write(element, shape.member.serialization.get("name", "member"), item, shape.member)
    elif kind == "map":
        for key, item in value.items():
            entry = ElementTree.SubElement(element, "entry")
            ElementTree.SubElement(entry, shape.key.serialization.get("name", "key")).text = str(key)
            _write(entry, shape.value.serialization.get("name", "value"), item, shape.value)
    else:
        element.text = _text(value, shape)


class QueryEncoding:
    """How an answer to one query-protocol request is written (the operation, once known)."""

    content_type = XML_CONTENT_TYPE

    def __init__(self, service: ServiceModel | None = None, operation: OperationModel | None = None) -> None:
        self.namespace = service.metadata.get("xmlNamespace") if service is not None else None
        self.operation = operation

    def _root(self, tag: str) -> ElementTree.Element:
        return ElementTree.Element(tag, {"xmlns": self.namespace} if self.namespace else {})

    def response(self, status: int, value: dict, request_id: str, headers: dict[str, str] | None = None) -> Response:
        root = self._root(f"{self.operation.name}Response")
        output = self.operation.output_shape
        if output is not None:
            result = ElementTree.SubElement(root, output.serialization.get("resultWrapper",
                                                                          f"{self.operation.name}Result"))
            for name, member in output.members.items():
                if value.get(name) is not None:
                    _write(result, _member_key(name, member), value[name], member)
        metadata = ElementTree.SubElement(root, "ResponseMetadata")
        ElementTree.SubElement(metadata, "RequestId").text = request_id
        return self._answer(status, root, request_id, headers)

    def error(self, status: int, code: str, message: str, request_id: str,
              headers: dict[str, str] | None = None) -> Response:
        root = self._root("ErrorResponse")
        error = ElementTree.SubElement(root, "Error")
        ElementTree.SubElement(error, "Type").text = "Sender" if status < 500 else "Receiver"
        ElementTree.SubElement(error, "Code").text = code
        ElementTree.SubElement(error, "Message").text = message
        ElementTree.SubElement(root, "RequestId").text = request_id
        return self._answer(status, root, request_id, headers)

    def _answer(self, status: int, root: ElementTree.Element, request_id: str,
                headers: dict[str, str] | None) -> Response:
        body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
        return Response(body, status=status, content_type=self.content_type,
                        headers={"x-amzn-RequestId": request_id, **(headers or {})})
