"""PSP and DeepLab train and validate on images whose sizes are not the crop size (the built-in
fails on these after the first epoch), whole or cropped, on one or two devices."""
import re

import mxnet as mx
import pytest
from mxnet.gluon.contrib.nn import SyncBatchNorm

from algorithms.common import devices
from algorithms.semantic_segmentation import network
from tests.functional.semantic_segmentation.conftest import base_hp, channels


@pytest.mark.parametrize("algorithm", ["psp", "deeplab"])
def test_whole_image_validation_at_sizes_that_are_not_the_crop(algorithm, run_ss, ss_data, caplog):
    code, tree = run_ss(base_hp(algorithm=algorithm, crop_size=24), channels(ss_data))
    assert code == 0, tree.failure
    assert re.search(r"epoch=0, validation mIOU <score>=\(\d", caplog.text)
    assert (tree.model / "model_algo-1").is_file()


def test_cropped_validation_batches_on_two_devices(run_ss, ss_data, caplog, monkeypatch):
    monkeypatch.setenv("SMLOCAL_CPU_CONTEXTS", "2")
    code, tree = run_ss(base_hp(algorithm="psp", syncbn="True", validation_mini_batch_size=2), channels(ss_data))
    assert code == 0, tree.failure
    assert "syncbn=True applies to GPUs; on the CPU BatchNorm statistics are per device." in caplog.text
    assert "validation pixel_accuracy <score>=(" in caplog.text


def test_syncbn_means_sync_batchnorm_over_every_gpu():
    gpus = [mx.gpu(0), mx.gpu(1)]
    assert network.normalisation(True, gpus) == {"norm_layer": SyncBatchNorm, "norm_kwargs": {"num_devices": 2}}
    assert network.normalisation(False, gpus) == {}
    assert network.normalisation(True, [mx.cpu(0), mx.cpu(1)]) == {}


@pytest.mark.gpu
def test_syncbn_training_on_the_gpus(run_ss, ss_data, caplog):
    if devices.num_gpus() < 1:
        pytest.skip("no GPU on this machine")
    code, tree = run_ss(base_hp(algorithm="deeplab", syncbn="True", mini_batch_size=4,
                                num_training_samples=4), channels(ss_data))
    assert code == 0, tree.failure
    assert "validation mIOU <score>=(" in caplog.text
