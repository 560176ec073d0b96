"""The one place where `container` learns about algorithms: name -> module:function."""
from __future__ import annotations

import importlib
import os

from container.config import ResourceConfig
from container.errors import ClientError

ALGORITHMS = {
    "image-classification": "algorithms.image_classification.train:train",
    "object-detection": "algorithms.object_detection.train:train",
    "semantic-segmentation": "algorithms.semantic_segmentation.train:train",
}

# The built-ins that train on several instances (MXNet parameter server); semantic segmentation
# is documented as single-instance only.
MULTI_HOST = frozenset({"image-classification", "object-detection"})


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


def check_host_count(name: str, resources: ResourceConfig) -> None:
    if resources.is_distributed and name not in MULTI_HOST:
        raise ClientError(
            f"Algorithm {name} trains on a single instance only: InstanceCount must be 1, this job has "
            f"{len(resources.hosts)} hosts ({', '.join(resources.hosts)})")
