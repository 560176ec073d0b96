"""The console checks hyperparameters with the algorithm's own schema, as the manifest carries it:
the same values are refused, with the same message, as the image refuses them when the job starts."""
import pytest

from algorithms import specs
from container.errors import ClientError
from emulator import algorithms
from emulator.console.hyperparameters import problems, value_problem

CASES = {
    "image-classification": [("epochs", "0"), ("epochs", "2"), ("epochs", "2.0"), ("epochs", "2.5"), ("epochs", "x"),
                             ("learning_rate", "0"), ("learning_rate", "1"), ("learning_rate", "1.5"),
                             ("learning_rate", "nan"), ("num_layers", "18"), ("num_layers", "19"),
                             ("early_stopping", "True"), ("early_stopping", "maybe"), ("lr_scheduler_step", "2,x"),
                             ("lr_scheduler_step", "0,2"), ("lr_scheduler_step", ""), ("optimizer", "adamw"),
                             ("augmentation_type", ""), ("top_k", "1"), ("image_shape", "3,28,28")],
    "object-detection": [("base_network", "vgg-16"), ("base_network", "resnet-9"), ("nms_threshold", "1.2"),
                         ("mini_batch_size", "-1")],
    "semantic-segmentation": [("algorithm", "fcn"), ("algorithm", "unet"), ("crop_size", "0")],
}


def schema_message(algorithm: str, name: str, raw: str) -> str | None:
    param = specs()[algorithm].schema.by_name[name]
    try:
        param.convert(raw)
    except ClientError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("algorithm,name,raw", [(a, n, r) for a, cases in CASES.items() for n, r in cases])
def test_same_verdict_and_message_as_the_algorithms_schema(algorithm, name, raw):
    param = next(p for p in algorithms.get(algorithm).hyperparameters if p["name"] == name)
    assert value_problem(param, raw) == schema_message(algorithm, name, raw)


def test_required_ones_missing_are_named():
    found = problems(algorithms.get("image-classification"), {"num_classes": "4", "epochs": "0"})
    assert found["num_training_samples"] == ("Missing required hyperparameter(s) for image-classification: "
                                             "num_training_samples")
    assert found["epochs"].startswith("Invalid value '0' for hyperparameter 'epochs'")
    assert "num_classes" not in found
