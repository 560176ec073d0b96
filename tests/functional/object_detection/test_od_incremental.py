"""Incremental training: warm start from the model channel, and mismatches named as ClientErrors."""
import mxnet as mx
import numpy as np

from algorithms.object_detection import network
from tests.epoch_log import assert_epoch_samples
from tests.functional.object_detection.conftest import TRAIN_IMAGES, base_hp, rec_channels, run_subprocess, tar_model
from tests.jobtree import make_tree


def _learned(model_dir):
    saved = mx.nd.load(str(model_dir / "model_algo_1-0000.params"))
    # Convolution weights only: BatchNorm running statistics move with every forward pass.
    return {k.split(":", 1)[1]: v.asnumpy() for k, v in saved.items()
            if k.startswith("arg:") and "conv" in k and k.endswith("_weight")}


def test_warm_start_continues_from_the_model_channel(trained_job, trained_model_tar, run_od, od_data, caplog):
    _, first, _ = trained_job
    # A learning rate this small leaves the weights where the first job left them; image_shape may
    # change (anchors are rebuilt for the new size, the convolutions are size-independent).
    code, second = run_od(base_hp(learning_rate=1e-9, momentum=0, image_shape=320), rec_channels(od_data, trained_model_tar))
    assert code == 0, second.failure
    assert any("Incremental training: initialising from model_algo_1-0000.params" in r.getMessage()
               for r in caplog.records)
    assert_epoch_samples(caplog.text, TRAIN_IMAGES, [0])  # the first epoch of a warm start counts like any
    before, after = _learned(first.model), _learned(second.model)
    assert before.keys() == after.keys() and len(before) > 50
    assert all(np.allclose(before[k], after[k], atol=1e-6) for k in before)
    fresh = network.build("resnet-50", 320, 2)
    fresh.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    head = "ssd_convpredictor0_conv0_weight"
    fresh(mx.nd.zeros((1, 3, 320, 320)))
    assert not np.allclose(fresh.collect_params()[head].data().asnumpy(), after[head], atol=1e-3)


def test_mismatched_num_classes_fails_naming_key_and_both_values(trained_model_tar, od_data, tmp_path):
    tree = make_tree(tmp_path / "job", base_hp(num_classes=3), rec_channels(od_data, trained_model_tar))
    code, log = run_subprocess(tree)
    assert code == 2, log[-2000:]
    assert tree.failure == (
        "ClientError: Incompatible model in channel 'model': hyperparameter 'num_classes' is '3' in this job but "
        "the model was trained with '2'; 'num_classes' must match the original model for incremental training")
    assert "Customer Error: Incompatible model" in log


def test_mismatched_base_network_fails_before_reading_data(trained_model_tar, run_od, od_data):
    channels = rec_channels(od_data, trained_model_tar)
    channels["train"]["files"] = []  # would fail later with "No .rec file found"
    code, tree = run_od(base_hp(base_network="vgg-16"), channels)
    assert code == 2
    assert "hyperparameter 'base_network' is 'vgg-16' in this job but the model was trained with 'resnet-50'" in tree.failure


def test_a_model_channel_without_detection_artifacts_is_rejected(run_od, od_data, tmp_path):
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / "image-classification-symbol.json").write_text("{}")
    code, tree = run_od(base_hp(), rec_channels(od_data, tar_model(bogus, tmp_path / "model.tar.gz")))
    assert code == 2
    assert tree.failure.startswith("ClientError: channel 'model' does not hold an object-detection model: expected "
                                   "model_algo_1-symbol.json, model_algo_1-0000.params, hyperparams.json")
