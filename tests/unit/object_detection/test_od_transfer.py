"""warm_start_mode=transfer in the detection loader: a 4-class model seeds a 3-class network."""
import logging

import mxnet as mx
import numpy as np
import pytest

from algorithms.object_detection import model_io, network
from container.errors import ClientError
from tests.reference import REFERENCE_ARTIFACTS

SIDE = 128  # any side builds the same parameters; a small one keeps the traced forward cheap


def _net(num_classes, seed):
    mx.random.seed(seed)
    net = network.build("resnet-50", SIDE, num_classes, nms_topk=100)  # a small side has few anchors
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


BUILTIN_SYMBOL = str(REFERENCE_ARTIFACTS / "od-ssd-resnet50-builtin-symbol.json")


@pytest.fixture(scope="module")
def builtin_params(tmp_path_factory):
    """A params file with the real built-in SSD's names and shapes (its graph has num_classes=1)."""
    symbol = mx.sym.load(BUILTIN_SYMBOL)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 300, 300), label=(1, 1, 5))
    rng = np.random.RandomState(4)
    arrays = {f"arg:{n}": mx.nd.array(rng.normal(0, 0.05, s)) for n, s in zip(symbol.list_arguments(), arg_shapes)
              if n not in ("data", "label")}
    arrays.update({f"aux:{n}": mx.nd.array(np.abs(rng.normal(1, 0.1, s)))
                   for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)})
    path = tmp_path_factory.mktemp("builtin") / model_io.PARAMS_FILE
    mx.nd.save(str(path), arrays)
    return path, {k.split(":", 1)[1]: v.asnumpy() for k, v in arrays.items()}


@pytest.mark.parametrize("num_classes", [1, 3])
def test_the_builtins_ssd_layers_load_by_their_mapped_names(builtin_params, num_classes, caplog):
    path, builtin = builtin_params
    net = _net(num_classes, seed=2)
    with caplog.at_level(logging.INFO):
        model_io.load_params(net, path, "channel 'model'", [mx.cpu()], transfer=True)
    net(mx.nd.zeros((1, 3, SIDE, SIDE)))
    ours = _learned(net)
    assert np.array_equal(ours["expand_trans_conv0_weight"], builtin["multi_feat_2_conv_1x1_conv_weight"])
    assert np.array_equal(ours["expand_conv3_bias"], builtin["multi_feat_5_conv_3x3_conv_bias"])
    assert np.array_equal(ours["ssd_convpredictor11_conv0_weight"],
                          builtin["multi_feat_5_conv_3x3_relu_loc_pred_conv_weight"])
    assert np.array_equal(ours["ssd_convpredictor1_conv0_weight"], builtin["_plus12_loc_pred_conv_weight"])
    # Class predictors fit only for the built-in's own num_classes; otherwise they are re-initialised.
    class_layer_loaded = np.array_equal(ours["ssd_convpredictor0_conv0_weight"], builtin["_plus12_cls_pred_conv_weight"])
    assert class_layer_loaded == (num_classes == 1)
    assert "Recognised the built-in algorithm's SSD parameters" in caplog.text
    assert "stage1_unit1_bn1_gamma" in caplog.text and "not in this network" in caplog.text


def test_the_builtins_ssd_in_strict_mode_says_what_is_possible(builtin_params):
    with pytest.raises(ClientError, match="built-in algorithm's SSD, whose ResNet-50 base network is the "
                                          "pre-activation ResNet.*set warm_start_mode=transfer"):
        model_io.load_params(_net(1, seed=2), builtin_params[0], "channel 'model'", [mx.cpu()])
