"""The three built-in CV algorithms and the parts they share (algorithms.common).

An algorithm is a package with a `spec.py` (algorithms.common.algorithm.AlgorithmSpec), listed
here once. `SMLOCAL_EXTRA_ALGORITHMS` (comma-separated "module" names of more spec modules) adds
algorithms to an installation without editing this list.
"""
from __future__ import annotations

import importlib
import os

SPEC_MODULES = (
    "algorithms.image_classification.spec",
    "algorithms.object_detection.spec",
    "algorithms.semantic_segmentation.spec",
)
EXTRA_ENV = "SMLOCAL_EXTRA_ALGORITHMS"


def specs(environ: dict[str, str] | None = None) -> dict:
    """name -> AlgorithmSpec, the built-ins first."""
    env = os.environ if environ is None else environ
    extra = tuple(m.strip() for m in env.get(EXTRA_ENV, "").split(",") if m.strip())
    found = {}
    for module in SPEC_MODULES + extra:
        spec = importlib.import_module(module).SPEC
        found[spec.name] = spec
    return found
