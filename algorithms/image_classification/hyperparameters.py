"""The built-in image-classification hyperparameters (sagemaker-algorithms.md §1.1)."""
from __future__ import annotations

from algorithms.common.transfer import WARM_START_MODE
from algorithms.common.schema import (
    Hyperparameters, Param, Schema, parse_bool, parse_float, parse_int, parse_int_list, parse_str,
)
from algorithms.image_classification.hyperparameter_types import ImageClassificationHyperparameters

LARGE_IMAGE_LAYERS = (18, 34, 50, 101, 152, 200)
SMALL_IMAGE_LAYERS = (20, 32, 44, 56, 110)
AUGMENTATIONS = ("crop", "crop_color", "crop_color_transform")


def parse_image_shape(text: str) -> tuple[int, int, int]:
    parts = [p.strip() for p in text.strip().strip("()[]").split(",")]
    if len(parts) != 3:
        raise ValueError('expected "channels,height,width"')
    shape = tuple(parse_int(p) for p in parts)
    if shape[0] not in (1, 3):
        raise ValueError("channels must be 1 or 3")
    if min(shape[1:]) < 1:
        raise ValueError("height and width must be positive")
    return shape  # type: ignore[return-value]


def _flag(name: str, doc: str) -> Param:
    return Param(name, parse_int, 0, doc, choices=(0, 1))


def _unit(name: str, default: float, doc: str) -> Param:
    return Param(name, parse_float, default, doc, minimum=0.0, maximum=1.0)


def _steps_increasing(steps: tuple[int, ...]) -> str | None:
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return "epochs must be strictly increasing"
    return None


PARAMS = [
    Param("num_classes", parse_int, doc="Number of output classes", minimum=1),
    Param("num_training_samples", parse_int, doc="Number of training examples", minimum=1),
    Param("augmentation_type", parse_str, None, "Training augmentation", choices=AUGMENTATIONS + (None,)),
    _unit("beta_1", 0.9, "Adam first-moment decay"),
    _unit("beta_2", 0.999, "Adam second-moment decay"),
    Param("checkpoint_frequency", parse_int, None,
          "Save parameters every k epochs (all go into model.tar.gz); unset keeps only the best epoch",
          minimum=1),
    Param("early_stopping", parse_bool, False, "Stop when validation accuracy stops improving"),
    Param("early_stopping_min_epochs", parse_int, 10, "Epochs before early stopping may act", minimum=1),
    Param("early_stopping_patience", parse_int, 5, "Epochs without improvement before stopping", minimum=1),
    _unit("early_stopping_tolerance", 0.0, "Relative improvement below this counts as none"),
    Param("epochs", parse_int, 30, "Training epochs", minimum=1),
    _unit("eps", 1e-8, "Epsilon for adam and rmsprop"),
    _unit("gamma", 0.9, "rmsprop decay factor"),
    Param("image_shape", parse_image_shape, (3, 224, 224), 'Network input "C,H,W"'),
    Param("kv_store", parse_str, None, "Distributed update mode",
          choices=("dist_sync", "dist_async", "device", "local", None)),
    Param("learning_rate", parse_float, 0.1, "Initial learning rate", minimum=0.0, maximum=1.0,
          exclusive_minimum=True),
    _unit("lr_scheduler_factor", 0.1, "Learning-rate multiplier at each step epoch"),
    Param("lr_scheduler_step", parse_int_list, (), "Epochs after which the rate is multiplied",
          minimum=1, check=_steps_increasing),
    Param("mini_batch_size", parse_int, 32, "Per-machine batch size", minimum=1),
    _unit("momentum", 0.9, "Momentum for sgd and nag"),
    _flag("multi_label", "Multi-label classification"),
    Param("num_layers", parse_int, 152, "ResNet depth", choices=LARGE_IMAGE_LAYERS + SMALL_IMAGE_LAYERS),
    Param("optimizer", parse_str, "sgd", "Optimizer", choices=("sgd", "adam", "rmsprop", "nag")),
    Param("precision_dtype", parse_str, "float32", "Weight precision", choices=("float32", "float16")),
    Param("resize", parse_int, None, "Shorter side after resizing, in pixels", minimum=1),
    Param("top_k", parse_int, None, "Also report top-k accuracy", minimum=2),
    _flag("use_pretrained_model", "Start from ImageNet weights of depth num_layers"),
    WARM_START_MODE,
    _flag("use_weighted_loss", "Class-frequency weighted loss (multi_label=1 only)"),
    _unit("weight_decay", 0.0001, "Weight decay for sgd and nag"),
    # Passed by the SageMaker incremental-training guide although the table does not list it.
    # Accepted and ignored: artifact names are fixed by the built-in ("image-classification-*").
    Param("model_prefix", parse_str, "", "Accepted for compatibility; ignored", hidden=True),
]


def _binary_needs_two_classes(hp: Hyperparameters) -> str | None:
    if hp.num_classes < 2 and not hp.multi_label:
        return ("Invalid value '1' for hyperparameter 'num_classes': single-label classification needs "
                "at least 2 classes (use num_classes=2 for a binary problem)")
    return None


def _top_k_below_classes(hp: Hyperparameters) -> str | None:
    if hp.top_k is not None and hp.top_k > hp.num_classes:
        return (f"Invalid value '{hp.top_k}' for hyperparameter 'top_k': must not exceed "
                f"num_classes ({hp.num_classes})")
    return None


def _checkpoint_within_epochs(hp: Hyperparameters) -> str | None:
    if hp.checkpoint_frequency is not None and hp.checkpoint_frequency > hp.epochs:
        return (f"Invalid value '{hp.checkpoint_frequency}' for hyperparameter 'checkpoint_frequency': "
                f"must be <= epochs ({hp.epochs})")
    return None


def _resize_covers_shape(hp: Hyperparameters) -> str | None:
    _, height, width = hp.image_shape
    if hp.resize is not None and hp.resize < max(height, width):
        return (f"Invalid value '{hp.resize}' for hyperparameter 'resize': the shorter side after "
                f"resizing must be >= the height and width of image_shape ({height}x{width})")
    return None


def _pretrained_depth(hp: Hyperparameters) -> str | None:
    if hp.use_pretrained_model and hp.num_layers not in LARGE_IMAGE_LAYERS:
        return (f"Invalid value '{hp.num_layers}' for hyperparameter 'num_layers' with "
                f"use_pretrained_model=1: pretrained models exist for {LARGE_IMAGE_LAYERS}")
    return None


SCHEMA = Schema(
    "image-classification",
    PARAMS,
    rules=[_binary_needs_two_classes, _top_k_below_classes, _checkpoint_within_epochs, _resize_covers_shape,
           _pretrained_depth],
    typed=ImageClassificationHyperparameters,
)
