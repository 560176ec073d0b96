"""Incremental training: a second job starts from the first job's model.tar.gz; the architecture
keys must match."""
import mxnet as mx
import numpy as np
import pytest

from tests.epoch_log import assert_epoch_samples
from tests.functional.semantic_segmentation.conftest import base_hp, channels

HEAD = "head.block.4.weight"


def _weights(model_dir):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(model_dir / "model_algo-1")).items()}


def test_warm_start_continues_from_the_earlier_model(trained_job, trained_model_tar, run_ss, ss_data, caplog):
    _, first, _ = trained_job
    # Nearly frozen learning rate: the result must be (almost) the earlier model, not a new one.
    hp = base_hp(num_classes=21, crop_size=32, learning_rate=1e-9, use_pretrained_model="True")
    code, second = run_ss(hp, channels(ss_data, model=trained_model_tar))
    assert code == 0, second.failure
    assert "Extracting model.tar.gz for incremental training" in caplog.text
    assert "use_pretrained_model is ignored because a model channel is present." in caplog.text
    assert_epoch_samples(caplog.text, 4, [0])
    before, after = _weights(first.model), _weights(second.model)
    assert before.keys() == after.keys()
    for name in (HEAD, "layer1.0.conv1.weight", "auxlayer.block.4.weight"):
        assert np.allclose(before[name], after[name], atol=1e-6), name
    assert not np.allclose(before["layer2.0.conv2.weight"], 0)


@pytest.mark.parametrize("key,value,trained", [
    ("algorithm", "psp", "fcn"),
    ("num_classes", "3", "21"),
    ("crop_size", "48", "32"),
    ("backbone", "resnet-101", "resnet-50"),
])
def test_mismatched_architecture_fails_before_reading_data(key, value, trained, trained_job, run_ss, ss_data):
    _, first, _ = trained_job
    hp = base_hp(**{"num_classes": 21, "crop_size": 30, key: value})
    chans = channels(ss_data, model=first.model)  # the extracted files work as well as the tarball
    del chans["train"]  # a data problem would be reported if the model were not checked first
    code, tree = run_ss(hp, chans)
    assert code == 2
    assert tree.failure == (
        f"ClientError: Incompatible model in channel 'model': hyperparameter '{key}' is '{value}' in this job but "
        f"the model was trained with '{trained}'; '{key}' must match the original model for incremental training")


@pytest.mark.parametrize("name,failure", [
    ("notes.txt", "channel 'model' does not hold a semantic-segmentation model: expected model_algo-1 (and "
                  "hyperparams.json) or one GluonCV parameter file NAME.params, found ['notes.txt']"),
    ("image-classification-0001.params", "Cannot read image-classification-0001.params in channel 'model': "
                                         "damaged or not MXNet; expected the Gluon parameter file"),
])
def test_a_model_channel_without_a_segmentation_model(tmp_path, run_ss, ss_data, name, failure):
    other = tmp_path / "other"
    other.mkdir()
    (other / name).write_bytes(b"x")
    code, tree = run_ss(base_hp(), channels(ss_data, model=other))
    assert code == 2
    assert tree.failure.startswith(f"ClientError: {failure}")
