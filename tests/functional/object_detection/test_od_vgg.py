"""VGG-16 end to end: pretrained base from the store, built-in-style freeze of conv1/conv2, export."""
import mxnet as mx
import numpy as np
import pytest

from algorithms.object_detection import network
from tests.functional.object_detection.conftest import base_hp, rec_channels


@pytest.mark.slow
def test_vgg16_job_with_pretrained_frozen_base(run_od, od_data, tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(store))
    base = network.base_network_block("vgg-16", 300)
    base.initialize(mx.init.Normal(0.02))
    base(mx.nd.zeros((1, 3, 300, 300)))
    (store / "object-detection").mkdir(parents=True)
    base.save_parameters(str(store / "object-detection" / "vgg16_atrous.params"))
    stored = {name: p.data().asnumpy() for name, p in base.collect_params().items()}

    # conv1_1 .. conv2_2 of VGG-16 are the first four convolutions.
    hp = base_hp(base_network="vgg-16", use_pretrained_model=1, freeze_layer_pattern=r"vgg16_atrous_conv[0-3]_")
    code, tree = run_od(hp, rec_channels(od_data))
    assert code == 0, tree.failure
    saved = {k.split(":", 1)[1]: v.asnumpy() for k, v in mx.nd.load(str(tree.model / "model_algo_1-0000.params")).items()}
    for index in range(4):
        name = f"vgg16_atrous_conv{index}_weight"
        assert np.array_equal(saved[name], stored[name])
    assert not np.array_equal(saved["vgg16_atrous_conv4_weight"], stored["vgg16_atrous_conv4_weight"])

    block = mx.gluon.SymbolBlock.imports(str(tree.model / "model_algo_1-symbol.json"), ["data"],
                                         str(tree.model / "model_algo_1-0000.params"))
    assert block(mx.nd.zeros((1, 3, 300, 300))).shape == (1, 400, 6)
