import pytest

from algorithms.semantic_segmentation.hyperparameters import SCHEMA, architecture, parse, saved_architecture
from container.config import decode_hyperparameter
from container.errors import ClientError

REQUIRED = {"num_classes": "3", "num_training_samples": "100"}
# The current defaults of the built-in (sagemaker-algorithms.md §3.1), as hyperparams.json writes them.
DOCUMENTED_DEFAULTS = {
    "algorithm": "fcn", "backbone": "resnet-50", "use_pretrained_model": "True", "base_size": "520",
    "crop_size": "240", "early_stopping": "False", "early_stopping_min_epochs": "5", "early_stopping_patience": "4",
    "early_stopping_tolerance": "0.0", "epochs": "10", "gamma1": "0.9", "gamma2": "0.9", "learning_rate": "0.001",
    "lr_scheduler": "poly", "lr_scheduler_factor": "0.1", "lr_scheduler_step": "", "mini_batch_size": "16",
    "momentum": "0.9", "optimizer": "sgd", "syncbn": "False", "validation_mini_batch_size": "16",
    "weight_decay": "0.0001",
}


def test_defaults_are_the_documented_ones_and_every_key_is_resolved():
    # warm_start_mode is this image's addition (strict: the built-in's behaviour).
    assert parse(REQUIRED).as_strings() == {**DOCUMENTED_DEFAULTS, **REQUIRED, "warm_start_mode": "strict"}


@pytest.mark.parametrize("missing", ["num_classes", "num_training_samples"])
def test_required_keys(missing):
    raw = dict(REQUIRED)
    del raw[missing]
    with pytest.raises(ClientError, match=f"Missing required hyperparameter.*{missing}"):
        parse(raw)


@pytest.mark.parametrize("key,value,allowed", [
    ("num_classes", "1", "expected an integer >= 2 and <= 254"),
    ("num_classes", "255", "expected an integer >= 2 and <= 254"),
    ("num_classes", "3.5", "expected an integer >= 2 and <= 254"),
    ("algorithm", "unet", "expected one of fcn, psp, deeplab"),
    ("backbone", "resnet-152", "expected one of resnet-50, resnet-101"),
    ("use_pretrained_model", "maybe", "expected True or False"),
    ("crop_size", "16", "expected an integer > 16"),
    ("base_size", "10", "expected an integer > 16"),
    ("epochs", "0", "expected an integer >= 1"),
    ("learning_rate", "0", "expected a number > 0 and <= 1"),
    ("learning_rate", "1.5", "expected a number > 0 and <= 1"),
    ("lr_scheduler", "linear", "expected one of poly, cosine, step"),
    ("lr_scheduler_factor", "2", "expected a number >= 0 and <= 1"),
    ("lr_scheduler_step", "5,3", "epochs must be strictly increasing"),
    ("optimizer", "adadelta", "expected one of sgd, adam, adagrad, nag, rmsprop"),
    ("momentum", "0", "expected a number > 0 and <= 1"),
    ("weight_decay", "0", "expected a number > 0 and < 1"),
    ("weight_decay", "1", "expected a number > 0 and < 1"),
    ("gamma1", "1.1", "expected a number >= 0 and <= 1"),
    ("gamma2", "-0.1", "expected a number >= 0 and <= 1"),
    ("mini_batch_size", "0", "expected an integer >= 1"),
    ("validation_mini_batch_size", "0", "expected an integer >= 1"),
    ("syncbn", "2", "expected True or False"),
    ("early_stopping_tolerance", "1.5", "expected a number >= 0 and <= 1"),
    ("early_stopping_patience", "0", "expected an integer >= 1"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(ClientError) as err:
        parse({**REQUIRED, key: value})
    message = str(err.value)
    assert f"Invalid value '{value}' for hyperparameter '{key}'" in message and allowed in message


def test_unknown_keys_are_named_with_the_allowed_list():
    with pytest.raises(ClientError) as err:
        parse({**REQUIRED, "image_shape": "224"})
    assert "'image_shape'" in str(err.value) and "crop_size" in str(err.value)


@pytest.mark.parametrize("given,resolved", [("17", 24), ("60", 64), ("64", 64), ("240", 240), ("241", 248)])
def test_crop_size_is_rounded_up_to_a_multiple_of_8(given, resolved):
    hp = parse({**REQUIRED, "crop_size": given})
    assert hp.crop_size == resolved and hp.as_strings()["crop_size"] == str(resolved)


def test_step_schedule_needs_its_epochs():
    with pytest.raises(ClientError, match="'lr_scheduler_step': it is required when lr_scheduler is 'step'"):
        parse({**REQUIRED, "lr_scheduler": "step"})
    hp = parse({**REQUIRED, "lr_scheduler": "step", "lr_scheduler_step": "3, 6"})
    assert hp.lr_scheduler_step == (3, 6)
    assert parse({**REQUIRED, "lr_scheduler_step": "3"}).lr_scheduler == "poly"  # accepted, unused


def test_sdk_v2_json_encoded_values_and_boolean_spellings():
    raw = {k: decode_hyperparameter(v) for k, v in
           {**REQUIRED, "algorithm": '"psp"', "use_pretrained_model": '"False"', "syncbn": "true"}.items()}
    hp = parse(raw)
    assert (hp.algorithm, hp.use_pretrained_model, hp.syncbn) == ("psp", False, True)


def test_saved_architecture_reads_values_like_this_job_does():
    hp = parse({**REQUIRED, "crop_size": "60", "algorithm": "psp"})
    saved = saved_architecture({"algorithm": "PSP", "backbone": "resnet-50", "crop_size": "64",
                                "num_classes": "3", "epochs": "7"})
    assert saved == {"algorithm": "PSP", "backbone": "resnet-50", "crop_size": 64, "num_classes": 3}
    assert architecture(hp) == {"algorithm": "psp", "backbone": "resnet-50", "crop_size": 64, "num_classes": 3}
    assert SCHEMA.algorithm == "semantic-segmentation"
