"""Image classification, declared (algorithms.common.algorithm)."""
from algorithms.common.algorithm import NUMBER, AlgorithmSpec, MetricDefinition
from algorithms.image_classification.hyperparameters import SCHEMA

SPEC = AlgorithmSpec(
    name="image-classification",
    schema=SCHEMA,
    train="algorithms.image_classification.train:train",
    serve="algorithms.image_classification.inference:load",
    # Log lines like "Epoch[3] Train-accuracy=0.5" (MXNet Module fit logging).
    metrics=(
        MetricDefinition("train:accuracy", r"Epoch\[\d+\] Train-accuracy=" + NUMBER),
        MetricDefinition("validation:accuracy", r"Epoch\[\d+\] Validation-accuracy=" + NUMBER),
        MetricDefinition("validation:top_k_accuracy", r"Epoch\[\d+\] Validation-top_k_accuracy_\d+=" + NUMBER),
    ),
    objective="validation:accuracy",
    artifacts=("image-classification-symbol.json", "image-classification-NNNN.params", "model-shapes.json"),
)
