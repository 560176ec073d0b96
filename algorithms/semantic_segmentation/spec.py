"""Semantic segmentation, declared (algorithms.common.algorithm)."""
from algorithms.common.algorithm import NUMBER, AlgorithmSpec, MetricDefinition, PretrainedWeights
from algorithms.semantic_segmentation.hyperparameters import SCHEMA

_QUALITY = r"#quality_metric: host=\S+, epoch=\S+, "

SPEC = AlgorithmSpec(
    name="semantic-segmentation",
    schema=SCHEMA,
    train="algorithms.semantic_segmentation.train:train",
    serve="algorithms.semantic_segmentation.inference:load",
    # The object-detection line family; values may or may not be in parentheses.
    metrics=(
        MetricDefinition("validation:mIOU", _QUALITY + r"validation mIOU <score>=\(?" + NUMBER),
        MetricDefinition("validation:pixel_accuracy", _QUALITY + r"validation pixel_accuracy <score>=\(?" + NUMBER),
        MetricDefinition("train:loss", _QUALITY + r"train loss <loss>=\(?" + NUMBER),
        MetricDefinition("train:throughput",
                         r"#throughput_metric: host=\S+, train throughput=\(?" + NUMBER + r"\)? records/second"),
    ),
    objective="validation:mIOU",
    multi_host=False,  # documented as single-instance only
    artifacts=("model_algo-1", "hyperparams.json"),
    # GluonCV's ImageNet ResNet-v1s, the backbones of its FCN/PSP/DeepLab (dilation keeps the shapes).
    pretrained=(
        PretrainedWeights("resnet50_v1s", "semantic-segmentation/resnet50_v1s.params", (("backbone", "resnet-50"),),
                          "gluon", "the resnet-50 backbone"),
        PretrainedWeights("resnet101_v1s", "semantic-segmentation/resnet101_v1s.params",
                          (("backbone", "resnet-101"),), "gluon", "the resnet-101 backbone"),
    ),
)
