"""The algorithms this emulator runs, as plain data: `emulator/algorithms.json`, generated from
the algorithms' specs (`python -m algorithms.manifest --write`; a test keeps it current), so the
emulator needs neither MXNet nor the algorithm code. `SMLOCAL_ALGORITHM_MANIFESTS` names more
manifest files (os.pathsep-separated, the same shape) for algorithms added to an installation."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).with_name("algorithms.json")
EXTRA_ENV = "SMLOCAL_ALGORITHM_MANIFESTS"


@dataclass(frozen=True)
class Algorithm:
    name: str
    multi_host: bool
    metric_definitions: tuple[tuple[str, str], ...]  # (name, regex)
    objective: str
    hyperparameters: tuple[dict, ...]

    @classmethod
    def from_manifest(cls, entry: dict) -> "Algorithm":
        return cls(entry["name"], bool(entry["multi_host"]),
                   tuple((m["Name"], m["Regex"]) for m in entry["metric_definitions"]),
                   entry["objective"], tuple(entry["hyperparameters"]))


def algorithms(environ: dict[str, str] | None = None) -> dict[str, Algorithm]:
    """name -> Algorithm, the built-ins first."""
    env = os.environ if environ is None else environ
    paths = [MANIFEST] + [Path(p) for p in env.get(EXTRA_ENV, "").split(os.pathsep) if p]
    found: dict[str, Algorithm] = {}
    for path in paths:
        for name, entry in json.loads(path.read_text()).items():
            found[name] = Algorithm.from_manifest(entry)
    return found


def names() -> tuple[str, ...]:
    return tuple(algorithms())


def get(name: str | None) -> Algorithm | None:
    return algorithms().get(name or "")
