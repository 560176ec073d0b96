"""Hyperparameter schemas as data: each algorithm declares its parameters once.

Values arrive as strings (already unwrapped from SDK v2's JSON encoding by container.config).
`Schema.parse` checks every key and value before any data is read and raises a ClientError that
names the key, the value and what is allowed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable

from container.errors import ClientError

REQUIRED = object()

# Keys the platform or HPO may add to any job; accepted and not passed to the algorithm.
PLATFORM_KEYS = ("_tuning_objective_metric",)
PLATFORM_PREFIXES = ("sagemaker_",)

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected True/False (or 1/0)")


def parse_int(text: str) -> int:
    value = float(text.strip())  # accept "10.0" as the built-ins do, reject "10.5"
    if not value.is_integer():
        raise ValueError("expected an integer")
    return int(value)


def parse_float(text: str) -> float:
    value = float(text.strip())
    if math.isnan(value) or math.isinf(value):
        raise ValueError("expected a finite number")
    return value


def parse_int_list(text: str) -> tuple[int, ...]:
    """`"2,3"`, `"10, 20"` or `""` (empty list)."""
    parts = [p.strip() for p in text.strip().strip("[]").split(",") if p.strip()]
    return tuple(parse_int(p) for p in parts)


def parse_str(text: str) -> str:
    return text


@dataclass(frozen=True)
class Param:
    name: str
    parse: Callable[[str], Any]
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    check: Callable[[Any], str | None] | None = None  # returns an error text or None
    hidden: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def kind(self) -> str:
        """The value's type as plain data (the manifest carries it, so the emulator can check values)."""
        return {parse_int: "integer", parse_float: "number", parse_bool: "boolean",
                parse_int_list: "integer_list"}.get(self.parse, "string")

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        kind = {"integer": "an integer", "number": "a number", "boolean": "True or False",
                "integer_list": "a comma-separated list of integers"}.get(self.kind, "a string")
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return kind + (" " + " and ".join(bounds) if bounds else "")

    def convert(self, raw: str) -> Any:
        def bad(reason: str = "") -> ClientError:
            extra = f" ({reason})" if reason else ""
            return ClientError(
                f"Invalid value {raw!r} for hyperparameter '{self.name}': expected {self.allowed()}{extra}"
            )

        if raw.strip() == "" and not self.required and (
            self.default is None or self.parse in (parse_str, parse_int_list)
        ):
            return self.default  # "" means "not set", as the built-ins' default-input uses it
        try:
            value = self.parse(raw)
        except (ValueError, TypeError) as exc:
            raise bad(str(exc) if self.parse not in (parse_int, parse_float) else "") from None
        if self.choices is not None and value not in self.choices:
            raise bad()
        for number in (value if isinstance(value, tuple) else (value,)):
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                continue
            if self.minimum is not None and (
                number < self.minimum or (self.exclusive_minimum and number == self.minimum)
            ):
                raise bad()
            if self.maximum is not None and (
                number > self.maximum or (self.exclusive_maximum and number == self.maximum)
            ):
                raise bad()
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise bad(problem)
        return value


def format_value(value: Any) -> str:
    """The string a resolved value is written back as (hyperparams.json)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class Hyperparameters(dict):
    """Resolved hyperparameters: a dict with attribute access and the raw text kept."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_strings(self) -> dict[str, str]:
        return {k: format_value(v) for k, v in sorted(self.items())}


class HyperparameterValues:
    """Base of the typed, frozen hyperparameter classes generated from the schemas
    (algorithms/typed_hyperparameters.py); they read like a mapping too (`hp["epochs"]`, `dict(hp)`)."""

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    def items(self):
        return self.as_dict().items()

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.keys()}

    def as_strings(self) -> dict[str, str]:
        """The strings hyperparams.json stores, sorted by key."""
        return {k: format_value(v) for k, v in sorted(self.as_dict().items())}


@dataclass
class Schema:
    algorithm: str
    params: list[Param]
    # Cross-parameter rules: each gets the resolved values and returns an error text or None.
    rules: list[Callable[[Hyperparameters], str | None]] = field(default_factory=list)
    typed: type | None = None  # the generated HyperparameterValues class parse() returns

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.params}

    def names(self, include_hidden: bool = True) -> Iterable[str]:
        return (p.name for p in self.params if include_hidden or not p.hidden)

    def parse(self, raw: dict[str, str]) -> Any:
        unknown = sorted(
            k for k in raw
            if k not in self.by_name and k not in PLATFORM_KEYS and not k.startswith(PLATFORM_PREFIXES)
        )
        if unknown:
            raise ClientError(
                f"Unknown hyperparameter(s) for {self.algorithm}: {', '.join(repr(k) for k in unknown)}. "
                f"Allowed: {', '.join(sorted(self.names(include_hidden=False)))}"
            )
        missing = [p.name for p in self.params if p.required and p.name not in raw]
        if missing:
            raise ClientError(
                f"Missing required hyperparameter(s) for {self.algorithm}: {', '.join(missing)}"
            )
        values = Hyperparameters()
        for param in self.params:
            if param.name in raw:
                values[param.name] = param.convert(raw[param.name])
            else:
                values[param.name] = param.default
        for rule in self.rules:
            problem = rule(values)
            if problem:
                raise ClientError(problem)
        return self.typed(**values) if self.typed is not None else values
