"""The linear classifier, declared (algorithms.common.algorithm)."""
from algorithms.common.algorithm import NUMBER, AlgorithmSpec, MetricDefinition
from algorithms.common.schema import Param, Schema, parse_float, parse_int

SCHEMA = Schema("linear-classifier", [
    Param("num_classes", parse_int, doc="Number of classes", minimum=2),
    Param("feature_dim", parse_int, doc="Length of each record's float32 feature vector", minimum=1),
    Param("epochs", parse_int, 5, "Passes over the training data", minimum=1),
    Param("learning_rate", parse_float, 0.5, "Gradient step", minimum=0.0, exclusive_minimum=True),
])

SPEC = AlgorithmSpec(
    name="linear-classifier",
    schema=SCHEMA,
    train="tests.functional.fourth_algorithm.linear_classifier.train:train",
    serve="tests.functional.fourth_algorithm.linear_classifier.train:load",
    metrics=(MetricDefinition("train:accuracy", r"Epoch\[\d+\] Train-accuracy=" + NUMBER),),
    objective="train:accuracy",
    multi_host=False,
    artifacts=("linear-weights.npy", "linear-meta.json"),
)
