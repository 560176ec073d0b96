import pytest

from algorithms.image_classification.hyperparameters import SCHEMA
from container.errors import ClientError

GUIDE = {"num_layers": "18", "resize": "32", "num_training_samples": "50000", "num_classes": "10",
         "image_shape": "3,28,28", "mini_batch_size": "128", "epochs": "3", "learning_rate": "0.1",
         "lr_scheduler_step": "2,3", "lr_scheduler_factor": "0.1", "augmentation_type": "crop_color",
         "optimizer": "sgd", "momentum": "0.9", "weight_decay": "0.0001", "beta_1": "0.9", "beta_2": "0.999",
         "gamma": "0.9", "eps": "1e-8", "top_k": "5", "checkpoint_frequency": "1", "use_pretrained_model": "0",
         "model_prefix": ""}


def test_incremental_training_guide_hyperparameters_are_accepted_as_passed():
    hp = SCHEMA.parse(GUIDE)
    assert hp.num_layers == 18 and hp.image_shape == (3, 28, 28) and hp.lr_scheduler_step == (2, 3)
    assert hp.eps == 1e-8 and hp.top_k == 5 and hp.augmentation_type == "crop_color"


def test_defaults_are_the_builtins():
    hp = SCHEMA.parse({"num_classes": "2", "num_training_samples": "10"})
    assert (hp.num_layers, hp.epochs, hp.mini_batch_size, hp.learning_rate, hp.image_shape) == (
        152, 30, 32, 0.1, (3, 224, 224))
    assert (hp.optimizer, hp.momentum, hp.weight_decay, hp.precision_dtype) == ("sgd", 0.9, 0.0001, "float32")
    assert hp.checkpoint_frequency is None and hp.augmentation_type is None and hp.use_pretrained_model == 0


@pytest.mark.parametrize("key,value,message", [
    ("num_layers", "19", "Invalid value '19' for hyperparameter 'num_layers': expected one of 18, 34"),
    ("num_classes", "abc", "Invalid value 'abc' for hyperparameter 'num_classes': expected an integer"),
    ("learning_rate", "0", "'learning_rate': expected a number > 0 and <= 1"),
    ("learning_rate", "1.5", "'learning_rate': expected a number > 0 and <= 1"),
    ("momentum", "-0.1", "'momentum': expected a number >= 0 and <= 1"),
    ("mini_batch_size", "0", "'mini_batch_size': expected an integer >= 1"),
    ("epochs", "2.5", "'epochs': expected an integer"),
    ("image_shape", "3,224", "'image_shape'"),
    ("image_shape", "4,32,32", "channels must be 1 or 3"),
    ("augmentation_type", "flip", "expected one of crop, crop_color, crop_color_transform"),
    ("optimizer", "adagrad", "expected one of sgd, adam, rmsprop, nag"),
    ("precision_dtype", "float64", "expected one of float32, float16"),
    ("multi_label", "2", "expected one of 0, 1"),
    ("early_stopping", "maybe", "expected True or False"),
    ("lr_scheduler_step", "3,2", "strictly increasing"),
    ("lr_scheduler_step", "a,b", "'lr_scheduler_step'"),
    ("top_k", "1", "'top_k': expected an integer >= 2"),
    ("kv_store", "dist", "'kv_store'"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, message):
    with pytest.raises(ClientError) as err:
        SCHEMA.parse({"num_classes": "10", "num_training_samples": "100", key: value})
    assert message in str(err.value)
    assert repr(value) in str(err.value) or f"'{value}'" in str(err.value)


@pytest.mark.parametrize("extra,message", [
    ({"top_k": "11"}, "must not exceed num_classes (10)"),
    ({"checkpoint_frequency": "5", "epochs": "3"}, "must be <= epochs (3)"),
    ({"resize": "20", "image_shape": "3,28,28"}, "'resize'"),
    ({"use_pretrained_model": "1", "num_layers": "20"}, "pretrained models exist for"),
    ({"num_classes": "1"}, "use num_classes=2 for a binary problem"),
])
def test_cross_parameter_rules(extra, message):
    raw = {"num_classes": "10", "num_training_samples": "100"}
    raw.update(extra)
    with pytest.raises(ClientError, match=None) as err:
        SCHEMA.parse(raw)
    assert message in str(err.value)


def test_unknown_and_missing_keys():
    with pytest.raises(ClientError, match="Unknown hyperparameter.*'mini_batch_siz'"):
        SCHEMA.parse({"num_classes": "10", "num_training_samples": "100", "mini_batch_siz": "8"})
    with pytest.raises(ClientError, match="Missing required hyperparameter.*num_training_samples"):
        SCHEMA.parse({"num_classes": "10"})


def test_platform_keys_are_tolerated():
    hp = SCHEMA.parse({"num_classes": "10", "num_training_samples": "100", "_tuning_objective_metric": "x",
                       "sagemaker_job_name": "j"})
    assert "sagemaker_job_name" not in hp


def test_resolved_values_round_trip_as_strings():
    hp = SCHEMA.parse(GUIDE)
    again = SCHEMA.parse({k: v for k, v in hp.as_strings().items()})
    assert again == hp
