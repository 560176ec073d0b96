"""The local store of pretrained (ImageNet) weights used by `use_pretrained_model`.

No model hub is contacted from a job: weights live under SMLOCAL_MODEL_STORE, one sub-directory
per algorithm. The image sets SMLOCAL_MODEL_STORE=/opt/ml-models (the emulator mounts the host's
store there, or `make build PRETRAINED=1` bakes it in); a job run as local processes reads the
host's store, ~/.smlocal/models unless SMLOCAL_MODEL_STORE says otherwise (the same default as
`smlocal pretrained`, emulator/pretrained/store.py). Which file each hyperparameter setting reads
is declared once, in the algorithms' specs (`AlgorithmSpec.pretrained`)."""
from __future__ import annotations

import os
from pathlib import Path

import mxnet as mx

from algorithms import specs
from algorithms.common.algorithm import PretrainedWeights
from container.errors import ClientError

STORE_ENV = "SMLOCAL_MODEL_STORE"
DEFAULT_MODEL_STORE = "~/.smlocal/models"
IMAGE_MODEL_STORE = "/opt/ml-models"  # where the emulator mounts the host's store in the container


def model_store(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(STORE_ENV) or DEFAULT_MODEL_STORE).expanduser()


def weights_for(algorithm: str, settings: dict) -> PretrainedWeights:
    """The entry of the algorithm's table whose hyperparameter values are `settings`' ones."""
    for weights in specs()[algorithm].pretrained:
        if all(str(settings.get(key)) == value for key, value in weights.settings):
            return weights
    # The schemas allow only values the tables cover (a unit test keeps them in step).
    raise LookupError(f"{algorithm} declares no pretrained weights for {settings}")


def missing_message(weights: PretrainedWeights, path: Path, enabled: str, disable: str) -> str:
    return (f"{enabled} needs the ImageNet weights of {weights.network} ({weights.name}) at {path}, which "
            f"does not exist. Run `smlocal pretrained pull {weights.name}` (without internet: "
            f"`smlocal pretrained import FILE... --name {weights.name}`); it fills the host's model store, "
            f"{STORE_ENV} (default {DEFAULT_MODEL_STORE}), which the emulator mounts at {IMAGE_MODEL_STORE} "
            f"in the container. Or set {disable}")


def pretrained_file(algorithm: str, settings: dict, environ: dict[str, str] | None = None,
                    enabled: str = "use_pretrained_model=1", disable: str = "use_pretrained_model=0") -> Path:
    """The store file the settings need. `enabled`/`disable` spell the setting the way the
    algorithm's users write it."""
    weights = weights_for(algorithm, settings)
    path = model_store(environ) / weights.file
    if not path.is_file():
        raise ClientError(missing_message(weights, path, enabled, disable))
    return path


def load_arrays(path: Path) -> dict[str, mx.nd.NDArray]:
    """A parameter file's named arrays; a ClientError naming the file when it is not one."""
    try:
        arrays = mx.nd.load(str(path))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read {path}: not an MXNet parameter file, or a truncated one") from None
    if not isinstance(arrays, dict):
        raise ClientError(f"{path} holds unnamed arrays, not a parameter file with parameter names")
    return arrays



def structural_shapes(block: mx.gluon.HybridBlock, side: int) -> dict[str, tuple[int, ...]]:
    """A Gluon block's parameters by their save_parameters names (`features.0.weight`), with the
    shapes its graph infers for a side x side input: no weights are allocated."""
    outputs = block(mx.sym.var("data"))
    graph = mx.sym.Group(outputs) if isinstance(outputs, (list, tuple)) else outputs
    arg_shapes, _, aux_shapes = graph.infer_shape(data=(1, 3, side, side))
    shapes = dict(zip(graph.list_arguments(), arg_shapes))
    shapes.update(zip(graph.list_auxiliary_states(), aux_shapes))
    structural = block._collect_params_with_prefix()  # noqa: SLF001 - Gluon's save names, no public accessor
    return {name: shapes[param.name] for name, param in structural.items()}


def check_parameters(arrays: dict, expected: dict[str, tuple[int, ...]], source, what: str,
                     ignorable: tuple[str, ...] = ()) -> None:
    """Every expected parameter is in `arrays`, with its shape, and every other array's name starts
    with one of `ignorable` (a zoo file also holds the ImageNet classifier, which the algorithms
    replace): a larger network's file, which holds all of a smaller one's names, is not taken for it."""
    missing = [name for name in expected if name not in arrays]
    if missing:
        raise ClientError(f"{source} is not {what}: {len(missing)} of its {len(expected)} parameters are "
                          f"missing (e.g. {', '.join(missing[:3])})")
    for name, shape in expected.items():
        found = tuple(arrays[name].shape)
        if found != tuple(shape):
            raise ClientError(f"{source} is not {what}: parameter '{name}' has shape {found}, {what} has "
                              f"{tuple(shape)}")
    extra = [name for name in arrays if name not in expected and not name.startswith(ignorable)]
    if extra:
        raise ClientError(f"{source} is not {what}: it has {len(extra)} parameters more (e.g. "
                          f"{', '.join(extra[:3])}), as the weights of a larger network would")
