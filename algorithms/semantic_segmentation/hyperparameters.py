"""The built-in semantic-segmentation hyperparameters (sagemaker-algorithms.md §3.1), current defaults."""
from __future__ import annotations

import dataclasses

from algorithms.common.transfer import WARM_START_MODE
from algorithms.common.schema import (
    Hyperparameters, Param, Schema, parse_bool, parse_float, parse_int, parse_int_list, parse_str,
)
from algorithms.semantic_segmentation.hyperparameter_types import SemanticSegmentationHyperparameters

ALGORITHMS = ("fcn", "psp", "deeplab")
BACKBONES = ("resnet-50", "resnet-101")
OPTIMIZERS = ("sgd", "adam", "adagrad", "nag", "rmsprop")
SCHEDULERS = ("poly", "cosine", "step")
IGNORE_LABEL = 255
MAX_CLASSES = 254  # the documented maximum; 255 is reserved as "ignore"
# The decoders see the image at 1/8 resolution: the crop side is rounded up to a multiple of this.
OUTPUT_STRIDE = 8
# Hyperparameters a warm start must share with the model it starts from (DG-SS).
ARCHITECTURE_KEYS = ("backbone", "algorithm", "crop_size", "num_classes")


def _unit(name: str, default: float, doc: str) -> Param:
    return Param(name, parse_float, default, doc, minimum=0.0, maximum=1.0)


def _steps_increasing(steps: tuple[int, ...]) -> str | None:
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return "epochs must be strictly increasing"
    return None


PARAMS = [
    Param("num_classes", parse_int, doc="Number of classes (ids 0…num_classes-1; 255 is ignore)",
          minimum=2, maximum=MAX_CLASSES),
    Param("num_training_samples", parse_int, doc="Number of training images (sizes the LR schedule)",
          minimum=1),
    Param("algorithm", parse_str, "fcn", "Decoder", choices=ALGORITHMS),
    Param("backbone", parse_str, "resnet-50", "Encoder", choices=BACKBONES),
    Param("use_pretrained_model", parse_bool, True, "Start the backbone from ImageNet weights"),
    Param("base_size", parse_int, 520, "Training rescale: the long side becomes base_size × U(0.5, 2.0)",
          minimum=16, exclusive_minimum=True),
    Param("crop_size", parse_int, 240, "Square training crop, rounded up to a multiple of 8",
          minimum=16, exclusive_minimum=True),
    Param("early_stopping", parse_bool, False, "Stop when validation mIOU stops improving"),
    Param("early_stopping_min_epochs", parse_int, 5, "Epochs before early stopping may act", minimum=1),
    Param("early_stopping_patience", parse_int, 4, "Epochs without improvement before stopping", minimum=1),
    _unit("early_stopping_tolerance", 0.0, "Relative mIOU improvement below this counts as none"),
    Param("epochs", parse_int, 10, "Training epochs", minimum=1),
    _unit("gamma1", 0.9, "rmsprop decay of the squared-gradient moving average"),
    _unit("gamma2", 0.9, "rmsprop momentum factor"),
    Param("learning_rate", parse_float, 0.001, "Initial learning rate", minimum=0.0, maximum=1.0,
          exclusive_minimum=True),
    Param("lr_scheduler", parse_str, "poly", "Learning-rate schedule", choices=SCHEDULERS),
    _unit("lr_scheduler_factor", 0.1, "Multiplier at each lr_scheduler_step epoch (step only)"),
    Param("lr_scheduler_step", parse_int_list, (), "Epochs after which the rate is multiplied (step only)",
          minimum=1, check=_steps_increasing),
    Param("mini_batch_size", parse_int, 16, "Training batch size", minimum=1),
    Param("momentum", parse_float, 0.9, "Momentum (sgd, nag)", minimum=0.0, maximum=1.0, exclusive_minimum=True),
    Param("optimizer", parse_str, "sgd", "Optimizer", choices=OPTIMIZERS),
    Param("syncbn", parse_bool, False, "BatchNorm statistics computed across all devices"),
    Param("validation_mini_batch_size", parse_int, 16,
          "Validation batch size; 1 validates whole uncropped images, >1 centre crops of crop_size", minimum=1),
    WARM_START_MODE,
    Param("weight_decay", parse_float, 0.0001, "Weight decay (sgd, nag)", minimum=0.0, maximum=1.0,
          exclusive_minimum=True, exclusive_maximum=True),
]


def _step_needs_epochs(hp: Hyperparameters) -> str | None:
    if hp.lr_scheduler == "step" and not hp.lr_scheduler_step:
        return ("Missing hyperparameter 'lr_scheduler_step': it is required when lr_scheduler is 'step' "
                "(a comma-separated list of epochs, e.g. '5,8')")
    return None


SCHEMA = Schema("semantic-segmentation", PARAMS, rules=[_step_needs_epochs], typed=SemanticSegmentationHyperparameters)


def round_up_crop(crop_size: int) -> int:
    return -(-crop_size // OUTPUT_STRIDE) * OUTPUT_STRIDE


def parse(raw: dict[str, str]) -> SemanticSegmentationHyperparameters:
    """Validate everything, then round crop_size up to a multiple of 8 as the built-in does, so the
    decoders' 1/8-resolution feature maps tile the crop exactly."""
    hp = SCHEMA.parse(raw)
    return dataclasses.replace(hp, crop_size=round_up_crop(hp.crop_size))


def architecture(hp: Hyperparameters) -> dict:
    return {key: hp[key] for key in ARCHITECTURE_KEYS}


def saved_architecture(saved: dict[str, str]) -> dict:
    """The architecture keys of a model's hyperparams.json, parsed like this job's values (so
    '60' and '64' both mean a 64-pixel crop); keys that are missing or unreadable are left out."""
    result = {}
    for key in ARCHITECTURE_KEYS:
        if key not in saved:
            continue
        try:
            value = SCHEMA.by_name[key].convert(str(saved[key]))
        except Exception:  # noqa: BLE001 - an unreadable saved value is reported as a mismatch below
            value = saved[key]
        result[key] = round_up_crop(value) if key == "crop_size" and isinstance(value, int) else value
    return result
