"""The real built-in's SSD parameter names (apache/mxnet example/ssd, as its model_algo_1-*.params
hold them) mapped to this network's.

The SSD part maps one to one: the extra layers `multi_feat_K_conv_{1x1,3x3}_conv` are
`expand_trans_convJ` / `expand_convJ` (J = K - 2), and the class / box predictors of the six
prediction layers (`_plus12`, `_plus15`, then the four extra layers) are
`ssd_convpredictor{0,2,...,10}` / `ssd_convpredictor{1,3,...,11}`. The built-in's ResNet-50 base is
the pre-activation ResNet (v2: BatchNorm before each convolution), whose names stay as they are:
a job starting from such a file builds that base network (network.PREACT), so they load as they
are; a network with another base reports them as ignored in a transfer.
"""
from __future__ import annotations

import re

# The built-in's prediction layers, in this network's predictor order.
PREDICTION_LAYERS = ("_plus12", "_plus15", "multi_feat_2_conv_3x3_relu", "multi_feat_3_conv_3x3_relu",
                     "multi_feat_4_conv_3x3_relu", "multi_feat_5_conv_3x3_relu")
MARKER = "multi_feat_2_conv_1x1_conv_weight"  # present in every built-in SSD file, never in ours
_EXTRA = re.compile(r"^multi_feat_(\d)_conv_(1x1|3x3)_conv_(weight|bias)$")


def is_builtin(names) -> bool:
    return MARKER in names


def our_name(name: str) -> str | None:
    """This network's name for a built-in parameter, or None for the built-in's base network."""
    if m := _EXTRA.match(name):
        layer, kind, what = int(m.group(1)) - 2, m.group(2), m.group(3)
        return f"expand_{'trans_' if kind == '1x1' else ''}conv{layer}_{what}"
    for index, layer in enumerate(PREDICTION_LAYERS):
        for offset, head in ((0, "cls"), (1, "loc")):
            prefix = f"{layer}_{head}_pred_conv_"
            if name.startswith(prefix):
                return f"ssd_convpredictor{2 * index + offset}_conv0_{name[len(prefix):]}"
    return None


def rename(arrays: dict) -> tuple[dict, list[str]]:
    """(arrays under this network's names, the built-in base-network names kept as they were)."""
    renamed, unmapped = {}, []
    for name, value in arrays.items():
        ours = our_name(name)
        if ours is None:
            unmapped.append(name)
        renamed[ours or name] = value
    return renamed, unmapped
