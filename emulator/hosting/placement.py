"""Which runner and image serve a model: the training jobs' placement, asked about the model's image.

SageMaker's built-in image URIs (`<account>.dkr.ecr.<region>.amazonaws.com/image-classification:1`)
mean this project's image of that algorithm, `smlocal/<algorithm>:latest` (`:gpu` for a GPU
instance type where GPUs and that image exist). `--runner auto` serves a built-in with Docker when
an engine answers and the image exists, else as local processes (`python -m container serve`, no
Docker needed); any other image is a bring-your-own container and needs Docker. One policy for
training and serving, so the placer decides both.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from emulator.runners.placement import Placer
from emulator.spec import RequestValidationError, algorithm_of


class PlacementError(Exception):
    """The server's runner cannot serve this image at all."""


@dataclass(frozen=True)
class ServingPlacement:
    kind: str                 # "docker" or "process"
    image: str | None         # what Docker runs (None: local processes)
    algorithm: str | None     # the built-in the image stands for, if any
    note: str                 # one line for the log: what runs and why


def place(image: str, instance_type: str, placer: Placer, environment: dict | None = None) -> ServingPlacement:
    algorithm = algorithm_of((environment or {}).get("SAGEMAKER_ALGORITHM"), None, image)
    # The placer reads these members of a training job's spec; a model has them too.
    asked = SimpleNamespace(algorithm_name=None, training_image=image, instance_type=instance_type,
                            algorithm=algorithm)
    try:
        placement = placer.place(asked)
    except RequestValidationError as exc:
        raise PlacementError(exc.message) from None
    return ServingPlacement(placement.kind, placement.image, algorithm, placement.note)
