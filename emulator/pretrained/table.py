"""What the algorithms read from the model store, one entry per weights file: the `pretrained`
tables of the algorithms' specs, carried to the emulator as plain data by the manifest
(emulator/algorithms.json and any SMLOCAL_ALGORITHM_MANIFESTS, as emulator/algorithms.py reads them)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from emulator.algorithms import EXTRA_ENV, MANIFEST
from emulator.pretrained import PretrainedError

FORMS = {"checkpoint": "MXNet checkpoint", "gluon": "GluonCV parameters"}


@dataclass(frozen=True)
class Needed:
    algorithm: str
    name: str                  # the zoo's name, what `pull` and `import --name` take
    file: str                  # path in the store
    settings: dict[str, str]   # the hyperparameter values that read it
    form: str                  # "checkpoint" or "gluon"
    network: str

    @property
    def used_by(self) -> str:
        return " ".join([self.algorithm] + [f"{key}={value}" for key, value in self.settings.items()])


def needed(environ: dict[str, str] | None = None) -> dict[str, Needed]:
    """name -> Needed, in the manifests' order."""
    env = os.environ if environ is None else environ
    paths = [MANIFEST] + [Path(p) for p in env.get(EXTRA_ENV, "").split(os.pathsep) if p]
    found: dict[str, Needed] = {}
    for path in paths:
        for algorithm, entry in json.loads(path.read_text()).items():
            for weights in entry.get("pretrained", ()):
                found[weights["name"]] = Needed(algorithm=algorithm, **weights)
    return found


def resolve(names: tuple[str, ...] | list[str], table: dict[str, Needed]) -> list[Needed]:
    """Weights names, or algorithm names for all the weights of that algorithm."""
    chosen: list[Needed] = []
    for name in names:
        matches = [table[name]] if name in table else [n for n in table.values() if n.algorithm == name]
        if not matches:
            raise PretrainedError(f"Unknown pretrained weights '{name}': known are {', '.join(table)} "
                                  f"(or an algorithm name: {', '.join(sorted({n.algorithm for n in table.values()}))})")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen
