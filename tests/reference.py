"""Where the real SageMaker built-in artifacts the tests compare with live (symbol graphs and
model-shapes.json of a built-in job, outside the repository): SMLOCAL_REFERENCE_ARTIFACTS, by default
the machine's shared reference folder."""
import os
from pathlib import Path

REFERENCE_ARTIFACTS = Path(os.environ.get("SMLOCAL_REFERENCE_ARTIFACTS", "/work/shared/reference/artifacts"))

BUILTIN_OD_SYMBOL = REFERENCE_ARTIFACTS / "od-ssd-resnet50-builtin-symbol.json"


def write_builtin_od_params(path: Path, seed: int = 4) -> dict:
    """A params file with the real built-in SSD's (ResNet-50, num_classes=1) names and shapes, random
    values; returns the arrays by name."""
    import mxnet as mx
    import numpy as np
    symbol = mx.sym.load(str(BUILTIN_OD_SYMBOL))
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 300, 300), label=(1, 1, 5))
    rng = np.random.RandomState(seed)
    arrays = {f"arg:{n}": mx.nd.array(rng.normal(0, 0.05, s)) for n, s in zip(symbol.list_arguments(), arg_shapes)
              if n not in ("data", "label")}
    arrays.update({f"aux:{n}": mx.nd.array(np.abs(rng.normal(1, 0.1, s)))
                   for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)})
    mx.nd.save(str(path), arrays)
    return {k.split(":", 1)[1]: v.asnumpy() for k, v in arrays.items()}
