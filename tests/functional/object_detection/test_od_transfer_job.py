"""warm_start_mode=transfer end to end: the 2-class job's model seeds a 3-class job, whose own
artifact then warm-starts a third job strictly."""
import mxnet as mx
import pytest

from tests.functional.object_detection.conftest import base_hp, rec_channels, tar_model


@pytest.mark.slow
def test_transfer_to_three_classes_then_strict(trained_model_tar, run_od, od_data, tmp_path, caplog):
    code, b = run_od(base_hp(num_classes=3, warm_start_mode="transfer"), rec_channels(od_data, trained_model_tar))
    assert code == 0, b.failure
    assert "warm_start_mode=transfer: " in caplog.text and " 12 re-initialised, 0 ignored" in caplog.text
    saved = mx.nd.load(str(b.model / "model_algo_1-0000.params"))
    assert saved["arg:ssd_convpredictor0_conv0_weight"].shape[0] == 4 * (3 + 1)
    code, c = run_od(base_hp(num_classes=3), rec_channels(od_data, tar_model(b.model, tmp_path / "b.tar.gz")))
    assert code == 0, c.failure
