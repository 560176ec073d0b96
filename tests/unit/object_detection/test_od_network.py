"""The SSD layout (anchors, heads, names), the detection output and freezing."""
import mxnet as mx
import numpy as np
import pytest

from algorithms.object_detection import network


def _symbolic_outputs(net, side):
    net.training_outputs(True)
    cls_preds, box_preds, anchors = net(mx.sym.var("data"))
    _, shapes, _ = mx.sym.Group([cls_preds, box_preds, anchors]).infer_shape(data=(1, 3, side, side))
    return shapes


def test_resnet50_heads_match_the_builtin_graph():
    # The built-in's saved ResNet-50 SSD graph (num_classes=1) has class predictors with
    # 8, 12, 12, 12, 8, 8 filters (anchors x (classes + 1)) and box predictors with 16, 24, 24, 24, 16, 16.
    net = network.build("resnet-50", 300, num_classes=1)
    cls_filters = [p.weight.shape[0] for p in (b.predictor for b in net.class_predictors)]
    box_filters = [p.weight.shape[0] for p in (b.predictor for b in net.box_predictors)]
    assert cls_filters == [8, 12, 12, 12, 8, 8] and box_filters == [16, 24, 24, 24, 16, 16]
    cls_shape, box_shape, anchor_shape = _symbolic_outputs(net, 300)
    # 19x19x4 + 10x10x6 + 5x5x6 + 3x3x6 + 2x2x4 + 1x1x4
    assert cls_shape == (1, 2268, 2) and box_shape == (1, 2268, 4) and anchor_shape == (1, 2268, 4)


@pytest.mark.parametrize("side,anchors", [(300, 8732), (512, 24564)])
def test_vgg16_has_the_classic_ssd_anchor_counts(side, anchors):
    cls_shape, _, _ = _symbolic_outputs(network.build("vgg-16", side, num_classes=3), side)
    assert cls_shape == (1, anchors, 4)


def test_anchor_sizes_are_fractions_of_the_input_side():
    net = network.build("resnet-50", 400, num_classes=2)
    net.initialize()
    first = net.anchor_generators[0].anchors.data().asnumpy().reshape(-1, 4)
    # The first anchor of the first layer is the square of size 0.1 x side, centred on the first cell.
    assert np.allclose(first[0, 2:], [40, 40]) and np.allclose(first[1, 2:], [400 * np.sqrt(0.1 * 0.2)] * 2)


@pytest.fixture(scope="module")
def resnet_detector():
    net = network.build("resnet-50", 300, num_classes=2, nms_threshold=0.45, nms_topk=50)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    return net


def test_detections_are_normalised_rows_padded_with_minus_one(resnet_detector):
    rng = np.random.RandomState(0)
    detections = resnet_detector(mx.nd.array(rng.uniform(0, 255, (1, 3, 300, 300)))).asnumpy()
    assert detections.shape == (1, 50, 6)
    valid = detections[0][detections[0, :, 0] >= 0]
    assert len(valid) > 0 and set(np.unique(valid[:, 0])) <= {0.0, 1.0}
    assert valid[:, 2:].min() >= 0 and valid[:, 2:].max() <= 1
    assert (np.diff(valid[:, 1]) <= 1e-6).all()  # best first
    assert (detections[0][detections[0, :, 0] < 0][:, 0] == -1).all()


def test_training_outputs_switch_the_graph(resnet_detector):
    resnet_detector.hybridize()
    x = mx.nd.zeros((1, 3, 300, 300))
    resnet_detector.training_outputs(True)
    assert [o.shape for o in resnet_detector(x)] == [(1, 2268, 3), (1, 2268, 4), (1, 2268, 4)]
    resnet_detector.training_outputs(False)
    assert resnet_detector(x).shape == (1, 50, 6)


def test_freeze_touches_only_matching_base_parameters(resnet_detector):
    frozen = network.freeze(resnet_detector, r"resnet50_v1_(conv0|batchnorm0)_")
    assert sorted(frozen) == ["resnet50_v1_batchnorm0_beta", "resnet50_v1_batchnorm0_gamma",
                              "resnet50_v1_batchnorm0_running_mean", "resnet50_v1_batchnorm0_running_var",
                              "resnet50_v1_conv0_weight"]
    params = resnet_detector.collect_params()
    assert params["resnet50_v1_conv0_weight"].grad_req == "null"
    assert params["resnet50_v1_stage1_conv0_weight"].grad_req == "write"
    assert network.freeze(resnet_detector, "expand_") == []  # extra layers are not the base network


def test_vgg_base_names_exclude_the_ssd_extras():
    names = network.base_parameter_names(network.build("vgg-16", 300, num_classes=1))
    assert "vgg16_atrous_conv0_weight" in names and "vgg16_atrous_dilated_conv1_weight" in names
    assert not [n for n in names if "extra" in n]


def test_nms_threshold_controls_suppression(resnet_detector):
    rng = np.random.RandomState(1)
    x = mx.nd.array(rng.uniform(0, 255, (1, 3, 300, 300)))
    counts = {}
    for threshold in (0.1, 1.0):
        resnet_detector.set_nms(nms_thresh=threshold, nms_topk=300)
        counts[threshold] = int((resnet_detector(x).asnumpy()[0, :, 0] >= 0).sum())
    resnet_detector.set_nms(nms_thresh=0.45, nms_topk=50)
    assert counts[1.0] == 300 > counts[0.1]  # 1.0 suppresses nothing: the best nms_topk remain
