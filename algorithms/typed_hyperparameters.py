"""Each algorithm's hyperparameters as a frozen, typed dataclass, generated from its schema into
`algorithms/<package>/hyperparameter_types.py`, so editors and type checkers know every key and
its type. `python -m algorithms.typed_hyperparameters --write` regenerates them; a test keeps them
equal to the schemas. `Schema.parse` returns an instance (see algorithms.common.schema)."""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

from algorithms import specs
from algorithms.common import schema as s

ROOT = Path(__file__).resolve().parent
_TYPES = {s.parse_int: "int", s.parse_float: "float", s.parse_bool: "bool", s.parse_str: "str",
          s.parse_int_list: "tuple[int, ...]"}


def class_name(algorithm: str) -> str:
    return "".join(part.capitalize() for part in algorithm.split("-")) + "Hyperparameters"


def type_of(param: s.Param) -> str:
    kind = _TYPES.get(param.parse) or inspect.signature(param.parse).return_annotation
    if not isinstance(kind, str):
        kind = getattr(kind, "__name__", "object")
    return f"{kind} | None" if param.default is None else kind


def source(spec) -> str:
    lines = [
        f'"""The {spec.name} hyperparameters, typed. Generated from the schema by',
        '`python -m algorithms.typed_hyperparameters --write`: do not edit."""',
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass",
        "",
        "from algorithms.common.schema import HyperparameterValues",
        "",
        "",
        "@dataclass(frozen=True, kw_only=True)",
        f"class {class_name(spec.name)}(HyperparameterValues):",
    ]
    for param in spec.schema.params:
        default = "" if param.required else f" = {param.default!r}"
        lines.append(f"    {param.name}: {type_of(param)}{default}")
        if param.doc:
            lines.append(f"    {param.doc!r}")  # an attribute docstring, as editors show it
    return "\n".join(lines) + "\n"


def target(spec) -> Path:
    return ROOT / spec.name.replace("-", "_") / "hyperparameter_types.py"


def main(argv: list[str]) -> int:
    for spec in specs({}).values():
        text = source(spec)
        path = target(spec)
        if "--write" in argv and (not path.exists() or path.read_text() != text):
            path.write_text(text)
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
