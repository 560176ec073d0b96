"""The semantic-segmentation hyperparameters, typed. Generated from the schema by
`python -m algorithms.typed_hyperparameters --write`: do not edit."""
from __future__ import annotations

from dataclasses import dataclass

from algorithms.common.schema import HyperparameterValues


@dataclass(frozen=True, kw_only=True)
class SemanticSegmentationHyperparameters(HyperparameterValues):
    num_classes: int
    'Number of classes (ids 0…num_classes-1; 255 is ignore)'
    num_training_samples: int
    'Number of training images (sizes the LR schedule)'
    algorithm: str = 'fcn'
    'Decoder'
    backbone: str = 'resnet-50'
    'Encoder'
    use_pretrained_model: bool = True
    'Start the backbone from ImageNet weights'
    base_size: int = 520
    'Training rescale: the long side becomes base_size × U(0.5, 2.0)'
    crop_size: int = 240
    'Square training crop, rounded up to a multiple of 8'
    early_stopping: bool = False
    'Stop when validation mIOU stops improving'
    early_stopping_min_epochs: int = 5
    'Epochs before early stopping may act'
    early_stopping_patience: int = 4
    'Epochs without improvement before stopping'
    early_stopping_tolerance: float = 0.0
    'Relative mIOU improvement below this counts as none'
    epochs: int = 10
    'Training epochs'
    gamma1: float = 0.9
    'rmsprop decay of the squared-gradient moving average'
    gamma2: float = 0.9
    'rmsprop momentum factor'
    learning_rate: float = 0.001
    'Initial learning rate'
    lr_scheduler: str = 'poly'
    'Learning-rate schedule'
    lr_scheduler_factor: float = 0.1
    'Multiplier at each lr_scheduler_step epoch (step only)'
    lr_scheduler_step: tuple[int, ...] = ()
    'Epochs after which the rate is multiplied (step only)'
    mini_batch_size: int = 16
    'Training batch size'
    momentum: float = 0.9
    'Momentum (sgd, nag)'
    optimizer: str = 'sgd'
    'Optimizer'
    syncbn: bool = False
    'BatchNorm statistics computed across all devices'
    validation_mini_batch_size: int = 16
    'Validation batch size; 1 validates whole uncropped images, >1 centre crops of crop_size'
    warm_start_mode: str = 'strict'
    "How the model channel's weights are used: strict (every parameter, num_classes must match) or transfer (parameters whose name and shape fit; the rest, e.g. the class layer, re-initialised)"
    weight_decay: float = 0.0001
    'Weight decay (sgd, nag)'
