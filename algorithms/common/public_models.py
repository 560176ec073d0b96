"""Finding a public model's parameter file in a model channel.

A GluonCV model-zoo file (`NAME.params`, written by `save_parameters`) is the public form of a
Gluon network; the algorithms built from Gluon blocks (detection, segmentation) accept one in their
`model` channel. It must be the channel's only candidate: with two, which one seeds the job would
be left to chance.
"""
from __future__ import annotations

from pathlib import Path

from container.errors import ClientError
from container.logs import get_logger


def one_gluon_params_file(directory: Path, source: str, algorithm: str, expected: str) -> Path:
    """The one `*.params` file anywhere in `directory` that is not half of a symbolic MXNet
    checkpoint; a ClientError naming what is there otherwise. `expected` says what the channel may hold."""
    candidates = sorted(p for p in directory.rglob("*.params") if not is_symbolic_checkpoint(p)) \
        if directory.is_dir() else []
    if not candidates:
        names = sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) if directory.is_dir() else []
        raise ClientError(f"{source} does not hold {algorithm} model: {expected}, found {names[:20]}")
    if len(candidates) > 1:
        files = [str(p.relative_to(directory)) for p in candidates]
        raise ClientError(f"{source} holds {len(candidates)} candidate models ({files}); {expected}: remove all "
                          f"but one")
    get_logger().info("Recognised a public GluonCV parameter file in %s: %s.", source,
                      candidates[0].relative_to(directory))
    return candidates[0]


def is_symbolic_checkpoint(params: Path) -> bool:
    """NAME-NNNN.params beside NAME-symbol.json: a symbolic MXNet checkpoint (another form)."""
    name, _, epoch = params.stem.rpartition("-")
    return bool(name) and epoch.isdigit() and (params.parent / f"{name}-symbol.json").is_file()
