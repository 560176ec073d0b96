"""Object detection, declared (algorithms.common.algorithm)."""
from algorithms.common.algorithm import AlgorithmSpec, MetricDefinition, PretrainedWeights
from algorithms.object_detection.hyperparameters import SCHEMA

SPEC = AlgorithmSpec(
    name="object-detection",
    schema=SCHEMA,
    train="algorithms.object_detection.train:train",
    serve="algorithms.object_detection.inference:load",
    # The definitions the SageMaker console shows for an object detection job.
    metrics=(
        MetricDefinition("train:progress", r"#progress_metric: host=\S+, completed (\S+) %"),
        MetricDefinition("train:smooth_l1",
                         r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train smooth_l1 <loss>=(\S+)"),
        MetricDefinition("train:cross_entropy",
                         r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train cross_entropy <loss>=(\S+)"),
        MetricDefinition("train:throughput", r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"),
        MetricDefinition("validation:mAP", r"#quality_metric: host=\S+, epoch=\S+, validation mAP <score>=\((\S+)\)"),
    ),
    objective="validation:mAP",
    artifacts=("model_algo_1-symbol.json", "model_algo_1-0000.params", "hyperparams.json"),
    # GluonCV's ImageNet base networks (its model_store names).
    pretrained=(
        PretrainedWeights("vgg16_atrous", "object-detection/vgg16_atrous.params", (("base_network", "vgg-16"),),
                          "gluon", "the VGG-16 (atrous) base network"),
        PretrainedWeights("resnet50_v1", "object-detection/resnet50_v1.params", (("base_network", "resnet-50"),),
                          "gluon", "the ResNet-50 base network"),
    ),
)
