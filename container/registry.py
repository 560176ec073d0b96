"""The one place where `container` learns about algorithms: name -> module:function."""
from __future__ import annotations

import importlib
import os

from container.errors import ClientError

ALGORITHMS = {
    "image-classification": "algorithms.image_classification.train:train",
    "object-detection": "algorithms.object_detection.train:train",
    "semantic-segmentation": "algorithms.semantic_segmentation.train:train",
}


def algorithm_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    name = env.get("SAGEMAKER_ALGORITHM", "").strip()
    if name not in ALGORITHMS:
        raise ClientError(
            f"SAGEMAKER_ALGORITHM={name!r} is not a known algorithm; allowed: {', '.join(ALGORITHMS)}"
        )
    return name


def load_train(name: str):
    module_name, _, func = ALGORITHMS[name].partition(":")
    return getattr(importlib.import_module(module_name), func)
