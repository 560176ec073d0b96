import pytest

from algorithms.object_detection.hyperparameters import SCHEMA, effective_kv_store
from container.errors import ClientError

REQUIRED = {"num_classes": "3", "num_training_samples": "100"}
# The built-in container's default-input.json (sagemaker-algorithms.md §2.1), as strings.
CONTAINER_DEFAULTS = {
    "label_width": "350", "early_stopping_min_epochs": "10", "epochs": "30", "overlap_threshold": "0.5",
    "lr_scheduler_factor": "0.1", "weight_decay": "0.0005", "mini_batch_size": "32", "use_pretrained_model": "0",
    "freeze_layer_pattern": "", "lr_scheduler_step": "", "early_stopping": "False", "early_stopping_patience": "5",
    "momentum": "0.9", "optimizer": "sgd", "early_stopping_tolerance": "0.0", "learning_rate": "0.001",
    "kv_store": "device", "nms_threshold": "0.45", "base_network": "vgg-16", "nms_topk": "400", "image_shape": "300",
    "_kvstore": "device", "_num_kv_servers": "auto", "_tuning_objective_metric": "",
}


def test_defaults_are_the_containers_and_every_key_is_reported():
    resolved = SCHEMA.parse(REQUIRED).as_strings()
    # warm_start_mode is this image's addition (strict: the built-in's behaviour).
    assert resolved == {**CONTAINER_DEFAULTS, **REQUIRED, "warm_start_mode": "strict"}


def test_the_containers_own_default_input_is_accepted_as_sent():
    hp = SCHEMA.parse({**CONTAINER_DEFAULTS, **REQUIRED})
    assert hp.lr_scheduler_step == () and hp.freeze_layer_pattern == "" and hp.nms_topk == 400


def test_sample_notebook_values_parse_to_typed_values():
    hp = SCHEMA.parse({**REQUIRED, "base_network": "resnet-50", "use_pretrained_model": "1", "image_shape": "512",
                       "lr_scheduler_step": "10, 20", "early_stopping": "True", "freeze_layer_pattern": "^resnet50_v1_conv0_",
                       "optimizer": "adam", "_kvstore": "dist_sync", "_num_kv_servers": "2"})
    assert (hp.base_network, hp.use_pretrained_model, hp.image_shape) == ("resnet-50", 1, 512)
    assert hp.lr_scheduler_step == (10, 20) and hp.early_stopping is True
    assert hp._num_kv_servers == "2"


@pytest.mark.parametrize("key,value,allowed", [
    ("base_network", "resnet-101", "expected one of vgg-16, resnet-50"),
    ("image_shape", "299", "expected an integer >= 300"),
    ("num_classes", "0", "expected an integer >= 1"),
    ("label_width", "6", "expected an integer >= 7"),
    ("learning_rate", "0", "expected a number > 0 and <= 1"),
    ("lr_scheduler_factor", "1", "expected a number > 0 and < 1"),
    ("weight_decay", "1", "expected a number >= 0 and < 1"),
    ("nms_threshold", "0", "expected a number > 0 and <= 1"),
    ("overlap_threshold", "1.5", "expected a number > 0 and <= 1"),
    ("optimizer", "nag", "expected one of sgd, adam, rmsprop, adadelta"),
    ("use_pretrained_model", "2", "expected one of 0, 1"),
    ("kv_store", "dist", "expected one of device, local, dist_sync, dist_async"),
    ("lr_scheduler_step", "20,10", "epochs must be strictly increasing"),
    ("freeze_layer_pattern", "conv[", "not a valid regular expression"),
    ("nms_topk", "0", "expected an integer >= 1"),
    ("_num_kv_servers", "none", "'auto' or a positive integer"),
    ("early_stopping", "maybe", "expected True or False"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(ClientError) as err:
        SCHEMA.parse({**REQUIRED, key: value})
    message = str(err.value)
    assert f"Invalid value '{value}' for hyperparameter '{key}'" in message and allowed in message


def test_missing_required_and_unknown_keys_are_rejected():
    with pytest.raises(ClientError, match="Missing required hyperparameter.*num_training_samples"):
        SCHEMA.parse({"num_classes": "2"})
    with pytest.raises(ClientError, match="Unknown hyperparameter.*'num_class'"):
        SCHEMA.parse({**REQUIRED, "num_class": "2"})


def test_kv_store_wins_over_the_hidden_key_unless_left_at_its_default():
    assert effective_kv_store(SCHEMA.parse({**REQUIRED, "_kvstore": "dist_async"})) == "dist_async"
    assert effective_kv_store(SCHEMA.parse({**REQUIRED, "kv_store": "dist_sync", "_kvstore": "dist_async"})) == "dist_sync"
