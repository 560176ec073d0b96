"""warm_start_mode=transfer in the detection loader: a 4-class model seeds a 3-class network."""
import logging

import mxnet as mx
import numpy as np
import pytest

from algorithms.object_detection import model_io, network
from container.errors import ClientError
from tests.reference import write_builtin_od_params

SIDE = 128  # any side builds the same parameters; a small one keeps the traced forward cheap


def _net(num_classes, seed, layout=network.V1):
    mx.random.seed(seed)
    net = network.build("resnet-50", SIDE, num_classes, nms_topk=100, layout=layout)  # a small side: few anchors
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


@pytest.fixture(scope="module")
def builtin_params(tmp_path_factory):
    """A params file with the real built-in SSD's names and shapes (its graph has num_classes=1)."""
    path = tmp_path_factory.mktemp("builtin") / model_io.PARAMS_FILE
    return path, write_builtin_od_params(path)


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
    with pytest.raises(ClientError, match="built-in algorithm's SSD, whose base network is not this job's "
                                          "resnet-50.*set warm_start_mode=transfer"):
        model_io.load_params(_net(1, seed=2), builtin_params[0], "channel 'model'", [mx.cpu()])


def test_the_builtins_ssd_loads_whole_into_the_pre_activation_base(builtin_params, tmp_path, caplog):
    path, builtin = builtin_params
    assert model_io.base_layout(path, "channel 'model'") == network.PREACT
    net = _net(1, seed=2, layout=network.PREACT)
    with caplog.at_level(logging.INFO):
        model_io.load_params(net, path, "channel 'model'", [mx.cpu()])  # strict: every parameter
    ours = _learned(net)
    base = [n for n in ours if not n.startswith(("expand_", "ssd_"))]
    assert len(base) == len([n for n in builtin if n.startswith(("bn_data", "conv0", "bn0", "stage"))]) > 200
    assert all(np.array_equal(ours[n], builtin[n]) for n in base)
    assert np.array_equal(ours["ssd_convpredictor0_conv0_weight"], builtin["_plus12_cls_pred_conv_weight"])
    assert "pre-activation ResNet-50 base parameters load as they are" in caplog.text
    assert network.base_parameter_names(net) == base  # freeze_layer_pattern sees the built-in's own names
    # Our artifact of that network keeps the layout, so later jobs and the server build it again.
    exported = model_io.export(net, tmp_path / "b", {"num_classes": "1"})
    assert model_io.base_layout(exported, "channel 'model'") == network.PREACT
    again = _net(1, seed=3, layout=network.PREACT)
    model_io.load_params(again, exported, "channel 'model'", [mx.cpu()])
    assert all(np.array_equal(v, ours[n]) for n, v in _learned(again).items())


def test_the_builtins_ssd_transfers_to_new_classes_with_its_base(builtin_params, caplog):
    net = _net(3, seed=2, layout=network.PREACT)
    with caplog.at_level(logging.INFO):
        model_io.load_params(net, builtin_params[0], "channel 'model'", [mx.cpu()], transfer=True)
    assert " 12 re-initialised, 0 ignored" in caplog.text  # the six class predictors (weight, bias)
    assert "ssd_convpredictor0_conv0_weight" in caplog.text


def test_our_default_resnet_layout_is_recognised(model_a):
    assert model_io.base_layout(model_a[0], "channel 'model'") == network.V1


def _gluoncv_zoo_file(name, folder, side):
    """What GluonCV's model zoo publishes for `name`: its network's save_parameters file (random
    values here; the zoo's own files cannot be downloaded in tests)."""
    from gluoncv import model_zoo
    mx.random.seed(5)
    zoo = model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    zoo.initialize()
    zoo(mx.nd.zeros((1, 3, side, side)))
    folder.mkdir()
    path = folder / f"{name}-37ceb3b2.params"
    zoo.save_parameters(str(path))
    return path, {n: v.asnumpy() for n, v in mx.nd.load(str(path)).items()}


def test_a_gluoncv_zoo_ssd_loads_by_the_networks_structure(tmp_path, caplog):
    path, zoo = _gluoncv_zoo_file("ssd_300_vgg16_atrous_voc", tmp_path / "model", 300)
    with caplog.at_level(logging.INFO):
        saved = model_io.read_saved_model(tmp_path / "model", "channel 'model'")
    assert saved.params == path and saved.hyperparameters == {"base_network": "vgg-16"}
    assert "Recognised a public GluonCV parameter file in channel 'model': ssd_300_vgg16_atrous_voc-37ceb3b2.params" \
        in caplog.text
    mx.random.seed(2)
    net = network.build("vgg-16", 300, 20, nms_topk=100)  # VOC's 20 classes: every parameter fits
    net.initialize(mx.init.Xavier(), ctx=[mx.cpu()])
    model_io.load_params(net, path, "channel 'model'", [mx.cpu()])  # strict
    ours = dict(net._collect_params_with_prefix())  # noqa: SLF001 - compare by place, as the loader maps
    for place in ("features.stages.0.0.weight", "features.extras.3.2.bias", "class_predictors.5.predictor.weight",
                  "box_predictors.0.predictor.bias", "features.init_scale"):
        assert np.array_equal(ours[place].data().asnumpy(), zoo[place]), place


def test_a_gluoncv_zoo_resnet_ssd_transfers_its_base_and_reports_the_rest(tmp_path, caplog):
    path, zoo = _gluoncv_zoo_file("ssd_512_resnet50_v1_voc", tmp_path / "model", 512)
    mx.random.seed(2)
    net = network.build("resnet-50", 512, 3, nms_topk=100)
    net.initialize(mx.init.Xavier(), ctx=[mx.cpu()])
    # Strict: its extra layers have batch norms instead of biases, and other widths.
    with pytest.raises(ClientError, match="8 parameter.* not in ssd_512_resnet50_v1_voc-37ceb3b2.params.*"
                                          "set warm_start_mode=transfer"):
        model_io.load_params(net, path, "channel 'model'", [mx.cpu()])
    with caplog.at_level(logging.INFO):
        model_io.load_params(net, path, "channel 'model'", [mx.cpu()], transfer=True)
    net(mx.nd.zeros((1, 3, 512, 512)))
    ours = net.collect_params()
    assert np.array_equal(ours["resnet50_v1_stage4_conv9_weight"].data().asnumpy(),
                          zoo["features.resnetv10_stage4_conv9_weight"])
    assert "expand_conv0_weight" in caplog.text and "in the model, this network needs" in caplog.text
