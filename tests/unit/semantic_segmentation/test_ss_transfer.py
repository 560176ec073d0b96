"""warm_start_mode=transfer in the segmentation loader: a 4-class model seeds a 3-class network."""
import logging

import mxnet as mx
import numpy as np
import pytest

from algorithms.semantic_segmentation import model_io, network
from container.errors import ClientError

CROP = 32
SOURCE = "channel 'model'"
LAST_LAYERS = {"head.block.4.weight", "head.block.4.bias", "auxlayer.block.4.weight", "auxlayer.block.4.bias"}


def _net(num_classes):
    net = network.build("fcn", "resnet-50", num_classes, CROP, CROP, [mx.cpu()])
    net(mx.nd.zeros((1, 3, CROP, CROP)))  # the backbone's shapes are inferred at the first pass
    return net


def _values(net):
    return {n: p.data().asnumpy() for n, p in network.structural_params(net).items()}


@pytest.fixture(scope="module")
def model_a(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ss-a")
    net = _net(4)
    model_io.export(net, directory, {"num_classes": "4", "algorithm": "fcn", "backbone": "resnet-50"})
    return model_io.read_saved_model(directory, SOURCE), _values(net)


def test_transfer_loads_everything_but_the_last_layers(model_a, caplog):
    saved, a = model_a
    net = _net(3)
    with caplog.at_level(logging.INFO):
        model_io.load_into(net, saved, SOURCE, [mx.cpu()], transfer=True)
    b = _values(net)
    assert set(b) == set(a)
    assert all(np.array_equal(b[n], a[n]) for n in b if n not in LAST_LAYERS)
    assert all(b[n].shape[0] == 3 and a[n].shape[0] == 4 for n in LAST_LAYERS)
    assert f"{len(b) - 4} loaded, 4 re-initialised, 0 ignored" in caplog.text
    assert "head.block.4.weight" in caplog.text and "shape 4x512x1x1 in the model" in caplog.text


def test_strict_loading_names_the_last_layer(model_a):
    with pytest.raises(ClientError, match=r"parameter 'head.block.4.weight' has shape \(4, 512, 1, 1\)"):
        model_io.load_into(_net(3), model_a[0], SOURCE, [mx.cpu()])


def test_a_truncated_params_file_is_a_client_error(model_a, tmp_path):
    (tmp_path / model_io.PARAMS_FILE).write_bytes(model_a[0].params.read_bytes()[:2000])
    with pytest.raises(ClientError, match="Cannot read model_algo-1 in channel 'model': damaged or not MXNet"):
        model_io.read_saved_model(tmp_path, SOURCE)


def test_another_networks_weights_are_refused_in_transfer_mode(tmp_path):
    mx.nd.save(str(tmp_path / model_io.PARAMS_FILE), {"features.0.weight": mx.nd.zeros((3, 4))})
    saved = model_io.read_saved_model(tmp_path, SOURCE)
    with pytest.raises(ClientError, match="no parameter of the model in model_algo-1 in channel 'model' fits "
                                          "this network.*features.0.weight"):
        model_io.load_into(_net(3), saved, SOURCE, [mx.cpu()], transfer=True)


def test_a_public_gluoncv_params_file_is_recognised_and_transfers(model_a, tmp_path, caplog):
    public = tmp_path / "public"
    public.mkdir()
    (public / "fcn_resnet50_voc-d6b0ea6f.params").write_bytes(model_a[0].params.read_bytes())
    with caplog.at_level(logging.INFO):
        saved = model_io.read_saved_model(public, SOURCE)
        assert saved.architecture() == {"num_classes": "4", "algorithm": "fcn", "backbone": "resnet-50"}
        net = _net(3)
        model_io.load_into(net, saved, SOURCE, [mx.cpu()], transfer=True)
    assert "Recognised a public GluonCV parameter file in channel 'model': fcn_resnet50_voc-d6b0ea6f.params" in caplog.text
    b = _values(net)
    assert all(np.array_equal(b[n], model_a[1][n]) for n in b if n not in LAST_LAYERS)


def test_two_candidate_params_files_are_a_client_error_naming_both(model_a, tmp_path):
    (tmp_path / "sub").mkdir()
    for path in (tmp_path / "a.params", tmp_path / "sub" / "b.params"):
        path.write_bytes(b"x")
    with pytest.raises(ClientError, match=r"holds 2 candidate models \(\['a.params', 'sub/b.params'\]\)"):
        model_io.read_saved_model(tmp_path, SOURCE)
