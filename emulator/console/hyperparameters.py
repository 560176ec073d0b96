"""Hyperparameter values checked against the algorithm's schema, as the manifest carries it.

The image checks every hyperparameter when the job starts (algorithms/common/schema.py); the
console checks the same declarations earlier, while the user types, so a bad value is shown next
to its field instead of failing the job a minute later. The messages are the schema's own
("Invalid value '0' for hyperparameter 'epochs': expected an integer >= 1"). What the manifest
cannot carry (a parameter's own check function, rules between parameters) is still checked by
the image when the job starts.
"""
from __future__ import annotations

import math

from emulator.algorithms import Algorithm

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _number(text: str) -> float:
    value = float(text.strip())
    if math.isnan(value) or math.isinf(value):
        raise ValueError("expected a finite number")
    return value


def _integer(text: str) -> int:
    value = float(text.strip())  # "10.0" is accepted, as the built-ins accept it
    if not value.is_integer():
        raise ValueError("expected an integer")
    return int(value)


def _parsed(kind: str, raw: str):
    """The value as the schema parses it; ValueError (with the schema's reason) when it cannot."""
    if kind == "integer":
        return _integer(raw)
    if kind == "number":
        return _number(raw)
    if kind == "boolean":
        low = raw.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError("expected True/False (or 1/0)")
    if kind == "integer_list":
        return tuple(_integer(p) for p in (p.strip() for p in raw.strip().strip("[]").split(",")) if p)
    return raw


def _in_bounds(param: dict, number: float) -> bool:
    low, high = param.get("minimum"), param.get("maximum")
    if low is not None and (number < low or (param.get("exclusive_minimum") and number == low)):
        return False
    return high is None or not (number > high or (param.get("exclusive_maximum") and number == high))


def value_problem(param: dict, raw: str) -> str | None:
    """The schema's message for `raw` as the value of `param` (a manifest entry), or None."""
    kind = param.get("type", "string")
    if raw.strip() == "" and not param["required"] and (param["default"] in (None, "") or
                                                         kind in ("string", "integer_list")):
        return None  # "" means "not set"
    reason = ""
    try:
        value = _parsed(kind, raw)
        choices = param.get("choices")
        if choices is not None and raw.strip() not in choices and str(value) not in choices:
            ok = False
        else:
            numbers = value if isinstance(value, tuple) else (value,)
            ok = all(_in_bounds(param, n) for n in numbers if isinstance(n, (int, float)) and not isinstance(n, bool))
    except (ValueError, TypeError) as exc:
        ok = False
        reason = str(exc) if kind not in ("integer", "number") else ""
    if ok:
        return None
    extra = f" ({reason})" if reason else ""
    return f"Invalid value {raw!r} for hyperparameter '{param['name']}': expected {param['allowed']}{extra}"


def problems(algorithm: Algorithm, values: dict[str, str]) -> dict[str, str]:
    """Hyperparameter name -> the schema's message, for every value the schema refuses and every
    required one that is missing."""
    found = {}
    for param in algorithm.hyperparameters:
        name = param["name"]
        if name in values:
            problem = value_problem(param, values[name])
            if problem:
                found[name] = problem
        elif param["required"]:
            found[name] = f"Missing required hyperparameter(s) for {algorithm.name}: {name}"
    return found
