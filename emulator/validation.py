"""Requests checked against botocore's own service models, with the services' wording.

One checker for every front end: the HTTP API checks each operation's body with it, and
`emulator.spec` checks a CreateTrainingJob request with it whether the request came from the
API or from `smlocal train`, so both refuse a request with the same message. AWS services
check every request against the same model botocore ships (required members, lengths,
patterns, enums, ranges) before any operation runs, and answer

    1 validation error detected: Value 'x' at 'trainingJobName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}

`parse_input(params, shape, rules)` does the same and also turns timestamps (epoch seconds or
ISO 8601 text, as clients send them) into datetimes. A value of the wrong JSON type is a
`SerializationException`, as the services report it. `ShapeRule`s say where the emulator
departs from the model (see docs/api.md): values it accepts beyond the service (`local`
instance types, `file://` locations), and values the service refuses although the model
leaves them open.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

# Java regex classes used in the models -> the nearest Python equivalents (\w covers letters,
# digits and underscore, which the patterns that use them all allow). The runtime's header
# members use \p{ASCII} (outside brackets), \p{Print} (inside) and Java's end of input \z.
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\d", r"\p{Z}": r"\s", r"\p{Alnum}": "a-zA-Z0-9",
                 r"\p{ASCII}": r"[\x00-\x7F]", r"\p{Print}": r"\x20-\x7E", r"\z": r"\Z"}
# Longest message a refusal carries. Messages quote request values; a client must never get
# back, or make the server log, more than this however large the request was.
MAX_MESSAGE_CHARS = 2048
# Messages quote the values they refuse, as the services do, but never more of one than this.
MAX_SHOWN_CHARS = 256


class RequestValidationError(ValueError):
    """A request SageMaker would refuse: `code` is the API error code, `message` its text."""

    def __init__(self, message: str, code: str = "ValidationException") -> None:
        message = clip(message, MAX_MESSAGE_CHARS)
        super().__init__(message)
        self.code = code
        self.message = message


def clip(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters and saying how long it was when cut."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text)} characters)"
    return text[:max(0, limit - len(note))] + note


def _never(value: Any) -> bool:  # noqa: ARG001
    return False


@dataclass(frozen=True)
class ShapeRule:
    """Where the emulator's check of one shape (by its model name) departs from the model.

    `accepts(value)`: the value passes whatever the model says. `refuses(value)`: it fails with
    `constraint` (worded as the services word theirs) even where the model allows it.
    """
    shape: str
    accepts: Callable[[Any], bool] = _never
    refuses: Callable[[Any], bool] = _never
    constraint: str = ""


@lru_cache(maxsize=None)
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


@lru_cache(maxsize=None)
def _pattern(pattern: str) -> re.Pattern:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    return re.compile(pattern)


def show(value: Any) -> str:
    """A value as a refusal quotes it: text as it is, other values as JSON, cut to MAX_SHOWN_CHARS."""
    if isinstance(value, str):
        shown = value
    elif isinstance(value, bool):
        shown = str(value).lower()
    else:
        try:
            shown = json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else str(value)
        except ValueError:  # an integer beyond Python's int-to-text limit (CBOR bignums can be)
            shown = f"<{type(value).__name__} too large to show>"
    return clip(shown, MAX_SHOWN_CHARS)


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def to_datetime(value: Any) -> datetime:
    """Epoch seconds (int/float) or ISO 8601 text -> an aware datetime; ValueError otherwise."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), timezone.utc)
        except ValueError:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise ValueError(value)


class _Checker:
    def __init__(self, rules: tuple[ShapeRule, ...]) -> None:
        self.rules = {r.shape: r for r in rules}
        self.errors: list[str] = []
        self.serialization: list[str] = []
        self._map_part: str | None = None   # "keys" / "value" while checking a map's entries

    def fail(self, value: Any, where: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{show(value)}'"
        if self._map_part is not None:
            constraint = f"Map {self._map_part} must satisfy constraint: [{constraint}]"
        self.errors.append(f"Value {shown} at '{where}' failed to satisfy constraint: {constraint}")

    def wrong_type(self, value: Any, where: str, expected: str) -> None:
        self.serialization.append(f"Value '{show(value)}' at '{where}' cannot be read as {expected}")

    def value(self, value: Any, shape: Shape, where: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self.structure(value, shape, where)
        if kind == "list":
            return self.list(value, shape, where)
        if kind == "map":
            return self.map(value, shape, where)
        if kind == "string":
            return self.string(value, shape, where)
        if kind in ("integer", "long"):
            return self.number(value, shape, where, integral=True)
        if kind in ("float", "double"):
            return self.number(value, shape, where, integral=False)
        if kind == "boolean":
            if not isinstance(value, bool):
                self.wrong_type(value, where, "a boolean")
            return value
        if kind == "timestamp":
            try:
                return to_datetime(value)
            except (ValueError, OverflowError, OSError):
                self.wrong_type(value, where, "a timestamp (epoch seconds or ISO 8601)")
                return None
        return value  # blobs and documents: not used by the operations served here

    def structure(self, value: Any, shape: Shape, where: str) -> dict:
        if not isinstance(value, dict):
            self.wrong_type(value, where or "request", "a structure (JSON object)")
            return {}
        result = {}
        for name, member in shape.members.items():
            path = f"{where}.{_lower_camel(name)}" if where else _lower_camel(name)
            if value.get(name) is None:
                if name in shape.required_members:
                    self.fail(None, path, "Member must not be null")
                continue
            result[name] = self.value(value[name], member, path)
        # Members the model does not know are ignored, as the services do.
        return result

    def _length(self, value: Any, size: int, shape: Shape, where: str) -> bool:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and size < low:
            self.fail(value, where, f"Member must have length greater than or equal to {low}")
            return False
        if high is not None and size > high:
            self.fail(value, where, f"Member must have length less than or equal to {high}")
            return False
        return True

    def list(self, value: Any, shape: Shape, where: str) -> list:
        if not isinstance(value, list):
            self.wrong_type(value, where, "a list")
            return []
        self._length(value, len(value), shape, where)
        return [self.value(item, shape.member, f"{where}.{i}.member") for i, item in enumerate(value, 1)]

    def map(self, value: Any, shape: Shape, where: str) -> dict:
        if not isinstance(value, dict):
            self.wrong_type(value, where, "a map (JSON object)")
            return {}
        self._length(value, len(value), shape, where)
        result = {}
        outer = self._map_part
        try:
            for key, item in value.items():
                self._map_part = "keys"
                self.string(key, shape.key, where)
                self._map_part = "value"
                result[key] = self.value(item, shape.value, where)
        finally:
            self._map_part = outer
        return result

    def _ruled(self, value: Any, shape: Shape, where: str) -> bool:
        """True when a ShapeRule decided the value (accepted or refused), so the model's checks are skipped."""
        rule = self.rules.get(shape.name)
        if rule is None:
            return False
        if rule.accepts(value):
            return True
        if rule.refuses(value):
            self.fail(value, where, rule.constraint)
            return True
        return False

    def string(self, value: Any, shape: Shape, where: str) -> Any:
        if not isinstance(value, str):
            self.wrong_type(value, where, "a string")
            return value
        if self._ruled(value, shape, where):
            return value
        if shape.enum:
            if value not in shape.enum:
                self.fail(value, where, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            return value
        if not self._length(value, len(value), shape, where):
            return value
        pattern = shape.metadata.get("pattern")
        if pattern and not _pattern(pattern).fullmatch(value):
            # The services quote their patterns anchored at the start ("^[a-zA-Z0-9](-*...").
            shown = pattern if pattern.startswith("^") else "^" + pattern
            self.fail(value, where, f"Member must satisfy regular expression pattern: {shown}")
        return value

    def number(self, value: Any, shape: Shape, where: str, *, integral: bool) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integral and not (isinstance(value, int) or (math.isfinite(value) and value.is_integer()))):
            self.wrong_type(value, where, "an integer" if integral else "a number")
            return value
        try:
            value = int(value) if integral else float(value)
        except OverflowError:  # an integer too large for a double
            self.wrong_type(value, where, "a number")
            return value
        if self._ruled(value, shape, where):
            return value
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(value, where, f"Member must have value greater than or equal to {low}")
        elif high is not None and value > high:
            self.fail(value, where, f"Member must have value less than or equal to {high}")
        return value


def parse_input(params: Any, shape: Shape | None, rules: tuple[ShapeRule, ...] = ()) -> dict:
    """The request checked against its input shape: raises RequestValidationError, or returns typed members."""
    if shape is None:
        return {}
    checker = _Checker(rules)
    parsed = checker.structure(params, shape, "")
    if checker.serialization:
        raise RequestValidationError("; ".join(checker.serialization), "SerializationException")
    if checker.errors:
        count = len(checker.errors)
        raise RequestValidationError(f"{count} validation error{'s' if count > 1 else ''} detected: "
                                     + "; ".join(checker.errors))
    return parsed
