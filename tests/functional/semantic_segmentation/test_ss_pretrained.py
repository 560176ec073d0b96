"""use_pretrained_model: ImageNet backbone weights from the local model store (filled by
`smlocal pretrained import` of a file the test wrote), and the default's clear failure when the
store does not have them."""
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo import resnet50_v1s

from tests.functional.pretrained.fill import import_into
from tests.functional.semantic_segmentation.conftest import base_hp, channels


@pytest.fixture(scope="module")
def model_store(tmp_path_factory):
    """A store holding a GluonCV resnet50_v1s parameter file, imported as a user would import the
    file GluonCV downloads (`resnet50_v1s-<hash>.params`, recognised by its parameters)."""
    downloaded = tmp_path_factory.mktemp("downloads") / "resnet50_v1s-25a187fa.params"
    backbone = resnet50_v1s(pretrained=False)
    backbone.initialize(mx.init.Uniform(0.05))
    backbone(mx.nd.zeros((1, 3, 32, 32)))
    backbone.save_parameters(str(downloaded))
    store = tmp_path_factory.mktemp("store")
    result = import_into(store, [downloaded])
    assert result.exit_code == 0, result.output
    assert (store / "semantic-segmentation" / "resnet50_v1s.params").read_bytes() == downloaded.read_bytes()
    return store


@pytest.mark.slow  # the store is filled by an import, which starts the training stack once
def test_backbone_starts_from_the_stored_imagenet_weights(model_store, monkeypatch, run_ss, ss_data, caplog):
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(model_store))
    code, tree = run_ss(base_hp(use_pretrained_model="True", learning_rate=1e-9), channels(ss_data))
    assert code == 0, tree.failure
    assert "Loaded ImageNet-pretrained resnet-50 backbone weights from" in caplog.text
    stored = mx.nd.load(str(model_store / "semantic-segmentation" / "resnet50_v1s.params"))
    trained = mx.nd.load(str(tree.model / "model_algo-1"))
    for name in ("conv1.0.weight", "layer3.5.conv2.weight", "layer4.2.conv3.weight"):
        assert np.allclose(stored[name].asnumpy(), trained[name].asnumpy(), atol=1e-6), name
    assert "fc.weight" not in trained  # the ImageNet classifier is not part of the network


def test_the_default_without_stored_weights_says_what_to_do(tmp_path, monkeypatch, run_ss, ss_data):
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(tmp_path / "empty-store"))
    hp = base_hp()
    del hp["use_pretrained_model"]  # the built-in's default: True
    chans = channels(ss_data)
    del chans["train"]  # the weights are looked for before any data is read
    code, tree = run_ss(hp, chans)
    assert code == 2
    assert tree.failure == (
        "ClientError: use_pretrained_model=True (the default) needs the ImageNet weights of the resnet-50 "
        f"backbone (resnet50_v1s) at {tmp_path / 'empty-store'}/semantic-segmentation/resnet50_v1s.params, which "
        "does not exist. Run `smlocal pretrained pull resnet50_v1s` (without internet: `smlocal pretrained import "
        "FILE... --name resnet50_v1s`); it fills the host's model store, SMLOCAL_MODEL_STORE (default "
        "~/.smlocal/models), which the emulator mounts at /opt/ml-models in the container. Or set "
        "use_pretrained_model=False to train the backbone from scratch")


def test_a_store_file_that_is_not_the_backbone(tmp_path, monkeypatch, run_ss, ss_data):
    (tmp_path / "semantic-segmentation").mkdir()
    mx.nd.save(str(tmp_path / "semantic-segmentation" / "resnet50_v1s.params"), {"fc.weight": mx.nd.zeros((2, 2))})
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(tmp_path))
    code, tree = run_ss(base_hp(use_pretrained_model="True"), channels(ss_data))
    assert code == 2
    assert "resnet50_v1s.params does not fit this network: 275 parameter(s) are missing (e.g. conv1.0.weight" in tree.failure
