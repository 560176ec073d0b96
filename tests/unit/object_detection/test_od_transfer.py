"""warm_start_mode=transfer in the detection loader: a 4-class model seeds a 3-class network."""
import logging

import mxnet as mx
import numpy as np
import pytest

from algorithms.object_detection import model_io, network
from container.errors import ClientError

SIDE = 128  # any side builds the same parameters; a small one keeps the traced forward cheap


def _net(num_classes, seed):
    mx.random.seed(seed)
    net = network.build("resnet-50", SIDE, num_classes)
    net.initialize(mx.init.Xavier(), ctx=[mx.cpu()])
    net.hybridize()  # export traces the graph
    return net


def _learned(net):
    return {n: p.data().asnumpy() for n, p in net.collect_params().items() if not network.is_constant(p)}


@pytest.fixture(scope="module")
def model_a(tmp_path_factory):
    net = _net(4, seed=1)
    path = model_io.export(net, tmp_path_factory.mktemp("od-a"), {"num_classes": "4"})
    return path, _learned(net)


def test_transfer_loads_the_body_and_reinitialises_the_class_predictors(model_a, caplog):
    path, a = model_a
    net = _net(3, seed=2)
    with caplog.at_level(logging.INFO):
        model_io.load_params(net, path, "channel 'model'", [mx.cpu()], transfer=True)
    net(mx.nd.zeros((1, 3, SIDE, SIDE)))  # the re-initialised predictors get their (deferred) values
    b = _learned(net)
    predictors = {p.name for block in net.class_predictors for p in block.collect_params().values()}
    assert len(predictors) == 12  # a weight and a bias for each of the six class predictors
    assert all(np.array_equal(b[n], a[n]) for n in b if n not in predictors)
    assert all(b[n].shape[0] == a[n].shape[0] // 5 * 4 for n in predictors)  # anchors x (3 + 1), was x (4 + 1)
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{len(b) - 12} loaded, 12 re-initialised, 0 ignored" in log
    assert "ssd_convpredictor0_conv0_weight" in log and "in the model, this network needs" in log


def test_strict_loading_of_another_num_classes_names_the_parameter(model_a):
    with pytest.raises(ClientError, match=r"parameter 'ssd_convpredictor0_conv0_weight' has shape \(20, 1024, 3, 3\)"):
        model_io.load_params(_net(3, seed=2), model_a[0], "channel 'model'", [mx.cpu()])


def test_a_truncated_params_file_is_a_client_error(model_a, tmp_path):
    cut = tmp_path / model_io.PARAMS_FILE
    cut.write_bytes(model_a[0].read_bytes()[:1000])
    with pytest.raises(ClientError, match="Cannot read model_algo_1-0000.params in channel 'model': damaged"):
        model_io.load_params(_net(3, seed=2), cut, "channel 'model'", [mx.cpu()], transfer=True)


def test_another_networks_weights_are_refused_in_transfer_mode(tmp_path):
    other = tmp_path / model_io.PARAMS_FILE
    mx.nd.save(str(other), {"arg:dense0_weight": mx.nd.zeros((3, 4))})
    with pytest.raises(ClientError, match="no parameter of the model in model_algo_1-0000.params in channel "
                                          "'model' fits this network.*dense0_weight"):
        model_io.load_params(_net(3, seed=2), other, "channel 'model'", [mx.cpu()], transfer=True)
