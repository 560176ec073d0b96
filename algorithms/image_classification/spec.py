"""Image classification, declared (algorithms.common.algorithm)."""
from algorithms.common.algorithm import NUMBER, AlgorithmSpec, MetricDefinition, PretrainedWeights
from algorithms.image_classification.hyperparameters import LARGE_IMAGE_LAYERS, SCHEMA

# The MXNet model zoo's ImageNet-1k checkpoints of this ResNet (the names are its modelzoo.py keys).
PRETRAINED = tuple(
    PretrainedWeights(f"imagenet1k-resnet-{layers}", f"image-classification/resnet-{layers}-0000.params",
                      (("num_layers", str(layers)),), "checkpoint", f"ResNet-{layers}")
    for layers in LARGE_IMAGE_LAYERS)

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
    pretrained=PRETRAINED,
)
