"""The image-classification hyperparameters, typed. Generated from the schema by
`python -m algorithms.typed_hyperparameters --write`: do not edit."""
from __future__ import annotations

from dataclasses import dataclass

from algorithms.common.schema import HyperparameterValues


@dataclass(frozen=True, kw_only=True)
class ImageClassificationHyperparameters(HyperparameterValues):
    num_classes: int
    'Number of output classes'
    num_training_samples: int
    'Number of training examples'
    augmentation_type: str | None = None
    'Training augmentation'
    beta_1: float = 0.9
    'Adam first-moment decay'
    beta_2: float = 0.999
    'Adam second-moment decay'
    checkpoint_frequency: int | None = None
    'Save parameters every k epochs (all go into model.tar.gz); unset keeps only the best epoch'
    early_stopping: bool = False
    'Stop when validation accuracy stops improving'
    early_stopping_min_epochs: int = 10
    'Epochs before early stopping may act'
    early_stopping_patience: int = 5
    'Epochs without improvement before stopping'
    early_stopping_tolerance: float = 0.0
    'Relative improvement below this counts as none'
    epochs: int = 30
    'Training epochs'
    eps: float = 1e-08
    'Epsilon for adam and rmsprop'
    gamma: float = 0.9
    'rmsprop decay factor'
    image_shape: tuple[int, int, int] = (3, 224, 224)
    'Network input "C,H,W"'
    kv_store: str | None = None
    'Distributed update mode'
    learning_rate: float = 0.1
    'Initial learning rate'
    lr_scheduler_factor: float = 0.1
    'Learning-rate multiplier at each step epoch'
    lr_scheduler_step: tuple[int, ...] = ()
    'Epochs after which the rate is multiplied'
    mini_batch_size: int = 32
    'Per-machine batch size'
    momentum: float = 0.9
    'Momentum for sgd and nag'
    multi_label: int = 0
    'Multi-label classification'
    num_layers: int = 152
    'ResNet depth'
    optimizer: str = 'sgd'
    'Optimizer'
    precision_dtype: str = 'float32'
    'Weight precision'
    resize: int | None = None
    'Shorter side after resizing, in pixels'
    top_k: int | None = None
    'Also report top-k accuracy'
    use_pretrained_model: int = 0
    'Start from ImageNet weights of depth num_layers'
    warm_start_mode: str = 'strict'
    "How the model channel's weights are used: strict (every parameter, num_classes must match) or transfer (parameters whose name and shape fit; the rest, e.g. the class layer, re-initialised)"
    use_weighted_loss: int = 0
    'Class-frequency weighted loss (multi_label=1 only)'
    weight_decay: float = 0.0001
    'Weight decay for sgd and nag'
    model_prefix: str = ''
    'Accepted for compatibility; ignored'
