"""The one place where `container` learns about algorithms: their specs (algorithms/__init__.py
lists them; algorithms.common.algorithm.AlgorithmSpec). Entries are imported when a job or a
server starts, so MXNet loads only then."""
from __future__ import annotations

import os

from container.config import ResourceConfig
from container.errors import ClientError


def _specs() -> dict:
    from algorithms import specs  # the algorithms' declarations, no MXNet

    return specs()


def algorithm_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    name = env.get("SAGEMAKER_ALGORITHM", "").strip()
    known = _specs()
    if name not in known:
        raise ClientError(
            f"SAGEMAKER_ALGORITHM={name!r} is not a known algorithm; allowed: {', '.join(known)}"
        )
    return name


def load_train(name: str):
    """`train(env, stop)` of the algorithm."""
    return _specs()[name].load_train()


def load_serve(name: str):
    """`load(model_dir, ...) -> predictor` of the algorithm's inference module."""
    return _specs()[name].load_serve()


def check_host_count(name: str, resources: ResourceConfig) -> None:
    if resources.is_distributed and not _specs()[name].multi_host:
        raise ClientError(
            f"Algorithm {name} trains on a single instance only: InstanceCount must be 1, this job has "
            f"{len(resources.hosts)} hosts ({', '.join(resources.hosts)})")
