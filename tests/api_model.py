"""Check API responses against botocore's own service models (what a real client parses).

`ResponseChecker.attach(client)` validates every parsed response of a boto3 client: required
members present, no member the model does not know, types, enums, lengths, ranges and
patterns. Tests that use API clients get it through the fixtures, so every response of every
test is checked, not a hand-picked few.
"""
from __future__ import annotations

from datetime import datetime

from botocore.model import Shape
from botocore.response import StreamingBody
from botocore.validate import ParamValidator

from emulator.api.hosting_ops import HOSTING_RULES
from emulator.spec import TRAINING_RULES
from emulator.validation import _pattern

# Values the emulator documents beyond the real service (file:// locations, local instance types).
_RELAXED = {r.shape: r.accepts for r in (*TRAINING_RULES, *HOSTING_RULES)}

# A blob that is an operation's payload (InvokeEndpoint's Body) arrives as a stream.
_TYPES = {"string": str, "boolean": bool, "timestamp": datetime, "structure": dict, "list": list, "map": dict,
          "blob": (bytes, StreamingBody)}


def problems(value, shape: Shape, where: str = "") -> list[str]:
    kind = shape.type_name
    found: list[str] = []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, _TYPES.get(kind, object))
    if not ok:
        return [f"{where or 'response'}: {type(value).__name__} where the model has {kind}"]
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind == "structure":
        for name in shape.required_members:
            if name not in value:
                found.append(f"{where}.{name}: required member missing")
        for name, item in value.items():
            if name == "ResponseMetadata" and not where:
                continue
            if name not in shape.members:
                found.append(f"{where}.{name}: not a member of {shape.name}")
                continue
            found += problems(item, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        for i, item in enumerate(value):
            found += problems(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        for key, item in value.items():
            found += problems(key, shape.key, f"{where}<key {key}>")
            found += problems(item, shape.value, f"{where}[{key}]")
    if kind in ("string", "list", "map"):
        size = len(value)
        if (low is not None and size < low) or (high is not None and size > high):
            found.append(f"{where}: length {size} outside [{low}, {high}]")
    if kind in ("integer", "long", "float", "double"):
        if (low is not None and value < low) or (high is not None and value > high):
            found.append(f"{where}: {value} outside [{low}, {high}]")
    if kind == "string" and shape.name in _RELAXED and _RELAXED[shape.name](value):
        return found
    if kind == "string":
        if shape.enum and value not in shape.enum:
            found.append(f"{where}: {value!r} not in enum {shape.name}")
        pattern = shape.metadata.get("pattern")
        if pattern and not shape.enum and not _pattern(pattern).fullmatch(value):
            found.append(f"{where}: {value!r} does not match {pattern}")
    return found


class ResponseChecker:
    """Collects model violations of every response of the clients it is attached to."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.violations: list[str] = []

    def attach(self, client) -> None:
        service_model = client.meta.service_model

        def check(http_response, parsed, model, **_):
            if http_response.status_code >= 300 or model.output_shape is None:
                return
            name = f"{service_model.service_name}.{model.name}"
            self.checked.append(name)
            for problem in problems(parsed, model.output_shape):
                self.violations.append(f"{name}{problem}")
            # botocore's own validator too (required members, types, minimums).
            body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            report = ParamValidator().validate(body, model.output_shape)
            if report.has_errors():
                self.violations.append(f"{name}: {report.generate_report()}")

        client.meta.events.register("after-call", check)
