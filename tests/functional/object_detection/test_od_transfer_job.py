"""warm_start_mode=transfer end to end: the 2-class job's model seeds a 3-class job, whose own
artifact then warm-starts a third job strictly; and the same from a real built-in SSD artifact."""
import json
import shutil

import mxnet as mx
import numpy as np
import pytest

from algorithms.object_detection import inference, model_io
from tests.functional.object_detection.conftest import base_hp, rec_channels, tar_model
from tests.reference import BUILTIN_OD_SYMBOL, write_builtin_od_params


@pytest.mark.slow
def test_transfer_to_three_classes_then_strict(trained_model_tar, run_od, od_data, tmp_path, caplog):
    code, b = run_od(base_hp(num_classes=3, warm_start_mode="transfer"), rec_channels(od_data, trained_model_tar))
    assert code == 0, b.failure
    assert "warm_start_mode=transfer: " in caplog.text and " 12 re-initialised, 0 ignored" in caplog.text
    saved = mx.nd.load(str(b.model / "model_algo_1-0000.params"))
    assert saved["arg:ssd_convpredictor0_conv0_weight"].shape[0] == 4 * (3 + 1)
    code, c = run_od(base_hp(num_classes=3), rec_channels(od_data, tar_model(b.model, tmp_path / "b.tar.gz")))
    assert code == 0, c.failure


@pytest.mark.slow
def test_a_builtin_ssd_artifact_seeds_new_classes_with_its_whole_base_network(run_od, od_data, tmp_path, caplog):
    """The built-in's model.tar.gz (its symbol, params with its names, hyperparams.json; one class)
    seeds a 2-class job: the pre-activation ResNet-50 base loads whole, the job's own artifact
    keeps that base, warm-starts a third job strictly and serves."""
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    shutil.copy(BUILTIN_OD_SYMBOL, builtin / model_io.SYMBOL_FILE)
    arrays = write_builtin_od_params(builtin / model_io.PARAMS_FILE)
    (builtin / model_io.HYPERPARAMS_FILE).write_text(json.dumps(
        {"base_network": "resnet-50", "num_classes": "1", "image_shape": "300", "mini_batch_size": "32"}))
    code, b = run_od(base_hp(warm_start_mode="transfer", freeze_layer_pattern="^stage4_"),
                     rec_channels(od_data, tar_model(builtin, tmp_path / "builtin.tar.gz")))
    assert code == 0, b.failure
    assert "pre-activation ResNet-50 base parameters load as they are" in caplog.text
    assert " 12 re-initialised, 0 ignored" in caplog.text  # the class predictors, for 2 classes
    saved = {k.split(":", 1)[1]: v.asnumpy() for k, v in mx.nd.load(str(b.model / model_io.PARAMS_FILE)).items()}
    # Frozen by the built-in's own names: stage 4 is the built-in's as loaded; the rest trained on.
    assert "Frozen 46 base-network parameters matching '^stage4_'" in caplog.text
    assert np.array_equal(saved["stage4_unit3_conv3_weight"], arrays["stage4_unit3_conv3_weight"])
    assert not np.array_equal(saved["stage3_unit1_conv1_weight"], arrays["stage3_unit1_conv1_weight"])
    caplog.clear()
    code, c = run_od(base_hp(), rec_channels(od_data, tar_model(b.model, tmp_path / "b.tar.gz")))
    assert code == 0, c.failure
    assert "the built-in's pre-activation ResNet-50" in caplog.text
    detector = inference.load(c.model)
    assert detector.forward(np.zeros((1, 3, 300, 300), dtype=np.float32)).shape[-1] == 6
