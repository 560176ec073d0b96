"""GluonCV's networks with input-size adaptation, weight loading and what saved weights reveal."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from algorithms.semantic_segmentation import model_io, network
from container.errors import ClientError

CROP = 32


@pytest.fixture(scope="module", params=["fcn", "psp", "deeplab"])
def net(request):
    model = network.build(request.param, "resnet-50", 3, CROP, CROP, [mx.cpu()])
    model.algorithm = request.param
    return model


@pytest.mark.parametrize("height,width", [(37, 50), (45, 41), (8, 8), (64, 24)])
def test_whole_images_of_any_size_get_scores_at_their_size(net, height, width):
    with network.imperative(net):
        scores = network.predict_whole(net, mx.nd.random.uniform(shape=(1, 3, height, width)))
    assert scores.shape == (1, 3, height, width)


def test_training_graph_still_uses_the_crop_size_after_whole_image_validation(net):
    net.hybridize(**network.HYBRIDIZE)
    x = mx.nd.random.uniform(shape=(2, 3, CROP, CROP))
    with autograd.record():
        before = net(x)
    with network.imperative(net):
        network.predict_whole(net, mx.nd.random.uniform(shape=(1, 3, 40, 56)))
    with autograd.record():
        after = net(x)
    assert before[0].shape == after[0].shape == (2, 3, CROP, CROP) and len(after) == 2  # main + aux head


def test_without_adaptation_psp_and_deeplab_fail_like_the_builtin(net):
    """The failure the built-in reports for 512x640 images with crop 240 (see docs)."""
    net.hybridize(False)
    x = mx.nd.random.uniform(shape=(1, 3, 40, 56))
    if net.algorithm == "fcn":
        assert net(x)[0].shape == (1, 3, CROP, CROP)  # FCN silently answers at the crop size
        return
    with pytest.raises(mx.base.MXNetError, match="Incompatible input shape"):
        net(x)[0].wait_to_read()


def _weights(net):
    """What save_parameters would write, without the 150-200 MB file."""
    net(mx.nd.zeros((1, 3, CROP, CROP)))  # finish deferred initialisation
    return {name: p.data().copy() for name, p in network.structural_params(net).items()}


def test_saved_weights_describe_their_network(net):
    described = model_io.describe_weights(_weights(net))
    assert described == {"algorithm": net.algorithm, "backbone": "resnet-50", "num_classes": "3"}


def _stand_ins(model, wrong=None):
    """An array per parameter with the parameter's shape (1 where Gluon still infers a dimension);
    `wrong` gets one output channel too many."""
    arrays = {}
    for name, param in network.structural_params(model).items():
        shape = tuple(d or 1 for d in param.shape)
        if name == wrong:
            shape = (shape[0] + 1,) + shape[1:]
        arrays[name] = mx.nd.zeros(shape)
    return arrays


def test_weights_must_fit_the_network():
    model = network.build("psp", "resnet-50", 3, CROP, CROP, [mx.cpu()])
    with pytest.raises(ClientError, match=r"model_algo-1 does not fit this network: parameter 'head.block.4.weight' "
                                          r"has shape \(4, 512, 1, 1\), the network needs \(3, 512, 1, 1\)"):
        network.set_weights(model, _stand_ins(model, wrong="head.block.4.weight"), [mx.cpu()], "model_algo-1")
    arrays = _stand_ins(model)
    del arrays["layer4.0.conv1.weight"]
    with pytest.raises(ClientError, match=r"model_algo-1 does not fit this network: 1 parameter\(s\) are missing "
                                          r"\(e.g. layer4.0.conv1.weight\)"):
        network.set_weights(model, arrays, [mx.cpu()], "model_algo-1")


def test_backbone_only_loading_leaves_the_decoder_alone():
    model = network.build("fcn", "resnet-50", 3, CROP, CROP, [mx.cpu()])
    head_before = network.structural_params(model)["head.block.4.weight"].data().asnumpy().copy()
    backbone = {name: value + 0.5 for name, value in _stand_ins(model).items() if network.is_backbone(name)}
    network.set_weights(model, backbone, [mx.cpu()], "store", backbone_only=True)
    params = network.structural_params(model)
    assert np.all(params["layer1.0.conv1.weight"].data().asnumpy() == 0.5)
    assert np.array_equal(params["head.block.4.weight"].data().asnumpy(), head_before)


def test_resnet_101_is_recognised_by_its_layer3_depth():
    model = network.build("fcn", "resnet-101", 3, CROP, CROP, [mx.cpu()])
    names = network.structural_params(model)
    fake = {name: mx.nd.zeros((3, 1)) if name == "head.block.4.weight" else mx.nd.zeros((1,)) for name in names}
    assert model_io.describe_weights(fake) == {"algorithm": "fcn", "backbone": "resnet-101", "num_classes": "3"}
