"""warm_start_mode=transfer end to end: the 21-class job's model seeds a 3-class job (a new last
layer), whose own artifact then warm-starts a third job strictly."""
import mxnet as mx

from tests.functional.semantic_segmentation.conftest import base_hp, channels, tar_model


def test_transfer_to_three_classes_then_strict(trained_model_tar, run_ss, ss_data, tmp_path, caplog):
    hp = base_hp(num_classes=3, crop_size=32)
    code, b = run_ss({**hp, "warm_start_mode": "transfer"}, channels(ss_data, model=trained_model_tar))
    assert code == 0, b.failure
    assert "Incremental training: initialising the layers that fit from model_algo-1" in caplog.text
    assert " 4 re-initialised, 0 ignored" in caplog.text
    assert "shape 21x512x1x1 in the model, this network needs 3x512x1x1" in caplog.text
    assert mx.nd.load(str(b.model / "model_algo-1"))["head.block.4.weight"].shape[0] == 3
    code, c = run_ss(hp, channels(ss_data, model=tar_model(b.model, tmp_path / "b.tar.gz")))
    assert code == 0, c.failure
