"""A Gluon model zoo pre-activation ResNet's save_parameters file, under this network's names,
computes what the Gluon network computes."""
import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon.model_zoo import vision

from algorithms.image_classification import gluon_names, model_io, network
from container.errors import ClientError


def _gluon_file(tmp_path, factory, classes=10):
    mx.random.seed(7)
    net = factory(classes=classes)
    net.initialize(mx.init.Xavier())
    image = mx.nd.random.uniform(0, 255, (2, 3, 32, 32))
    net(image)  # deferred shapes
    for name, param in net.collect_params().items():  # BatchNorm statistics that are not the defaults
        if name.endswith(("running_mean", "running_var")):
            param.set_data(mx.nd.random.uniform(0.5, 1.5, param.shape))
    path = tmp_path / "resnet_v2-1234abcd.params"
    net.save_parameters(str(path))
    return path, net(image).asnumpy(), image


def test_a_gluon_resnet_v2_file_computes_the_same_in_this_network(tmp_path):
    path, expected, image = _gluon_file(tmp_path, vision.resnet50_v2)
    arg, aux = model_io.load_params(path)
    symbol = network.classifier(50, 10)
    module = mx.mod.Module(symbol, data_names=["data"], label_names=["softmax_label"])
    module.bind(data_shapes=[("data", image.shape)], for_training=False)
    module.set_params(arg, aux)  # every parameter, nothing left over (set_params refuses missing ones)
    module.forward(mx.io.DataBatch([image]), is_train=False)
    probabilities = module.get_outputs()[0].asnumpy()
    # Equal but for BatchNorm's epsilon (Gluon's 1e-5, the built-in's 2e-5), over 50 layers.
    assert np.allclose(probabilities, mx.nd.softmax(mx.nd.array(expected)).asnumpy(), rtol=2e-3, atol=1e-6)


def test_names_cover_the_deeper_networks_exactly(tmp_path):
    path, _, _ = _gluon_file(tmp_path, vision.resnet50_v2, classes=7)
    arrays = mx.nd.load(str(path))
    arg, aux, unknown = gluon_names.renamed(arrays)
    symbol = network.classifier(50, 7)
    assert not unknown
    assert set(arg) == set(symbol.list_arguments()) - {"data", "softmax_label"}
    assert set(aux) == set(symbol.list_auxiliary_states())
    assert gluon_names.describe(arrays) == (50, 7)


def test_the_shallow_networks_lack_only_the_first_stages_projection(tmp_path):
    """Gluon's ResNet-18/34 v2 add the first unit's input unchanged; this network (the symbolic
    model zoo's, the built-in's) projects it (`stage1_unit1_sc`): the one parameter not in the file."""
    path, _, _ = _gluon_file(tmp_path, vision.resnet18_v2)
    arg, aux = model_io.load_params(path)
    assert set(network.classifier(18, 10).list_arguments()) - set(arg) == {"data", "softmax_label",
                                                                           "stage1_unit1_sc_weight"}


def test_another_gluon_network_is_named_in_the_error(tmp_path):
    net = vision.resnet18_v1(classes=3)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.save_parameters(str(tmp_path / "resnet18_v1.params"))
    with pytest.raises(ClientError, match="resnet18_v1.params is a Gluon parameter file, but not of a "
                                          "pre-activation ResNet"):
        model_io.load_params(tmp_path / "resnet18_v1.params")
