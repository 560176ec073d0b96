"""`smlocal pretrained import`: files the user has are checked against the network (in the training
stack: a subprocess of this Python, or the image), converted where needed and stored; wrong or
damaged files are refused with the file named and what was expected."""
import json

import mxnet as mx
import numpy as np
import pytest

from tests.functional.pretrained.fill import import_into
from tests.functional.pretrained.weights import classifier_checkpoint, tiny_network_file

pytestmark = pytest.mark.slow  # each import starts the training stack (MXNet, GluonCV) once


@pytest.fixture(scope="module")
def half_precision_checkpoint(tmp_path_factory):
    return classifier_checkpoint(tmp_path_factory.mktemp("checkpoint"), 18, dtype="float16", epoch=12)


def test_a_checkpoint_is_recognised_converted_and_stored(half_precision_checkpoint, tmp_path):
    symbol, params, arrays = half_precision_checkpoint
    store = tmp_path / "store"
    result = import_into(store, [symbol, params])  # no --name: recognised by names and shapes
    assert result.exit_code == 0, result.output
    stored = store / "image-classification" / "resnet-18-0000.params"  # epoch 12 is stored as the store's 0000
    assert result.output.strip() == (f"imagenet1k-resnet-18: stored {stored} (for image-classification "
                                     f"num_layers=18; float16 arrays cast to float32)")
    loaded = mx.nd.load(str(stored))
    assert loaded.keys() == arrays.keys()
    assert all(loaded[k].dtype == np.float32 for k in loaded)
    assert np.array_equal(loaded["arg:conv0_weight"].asnumpy(), arrays["arg:conv0_weight"].astype("float32").asnumpy())
    record = json.loads(stored.with_name(stored.name + ".source.json").read_text())
    assert record["origin"] == str(params) and record["converted"] == ["float16 arrays cast to float32"]


def test_a_symbol_of_another_checkpoint_is_refused(half_precision_checkpoint, tmp_path):
    _, params, _ = half_precision_checkpoint
    other = tmp_path / "other-symbol.json"
    mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc").save(str(other))
    result = import_into(tmp_path / "store", [other, params])
    assert result.exit_code == 2
    assert f"{other} and {params} are not one checkpoint: 'arg:bn_data_gamma' is not a parameter of the symbol" \
        in result.output


def test_the_weights_of_another_network_are_refused(tmp_path):
    weights = tiny_network_file(tmp_path / "resnet50_v1s-25a187fa.params")
    store = tmp_path / "store"
    named = import_into(store, [weights], "--name", "resnet50_v1s")
    assert named.exit_code == 2
    assert named.output.strip() == (
        f"Error: ClientError: {weights} is not the ImageNet weights of the resnet-50 backbone of "
        "semantic-segmentation (resnet50_v1s): 275 of its 275 parameters are missing (e.g. conv1.0.weight, "
        "conv1.1.gamma, conv1.1.beta)")
    unnamed = import_into(store, [weights])
    assert unnamed.exit_code == 2
    assert f"{weights} is none of the pretrained weights the algorithms read (name one with --name)" in unnamed.output
    as_checkpoint = import_into(store, [weights], "--name", "imagenet1k-resnet-50")
    assert f"{weights} is a GluonCV parameter file (save_parameters names such as features.0.weight), but " \
           "imagenet1k-resnet-50 (ResNet-50 of image-classification) is an MXNet checkpoint" in as_checkpoint.output
    assert not (store / "semantic-segmentation").exists()


def test_a_larger_network_is_not_taken_for_a_smaller_one(tmp_path):
    from algorithms.semantic_segmentation.pretrained import expected_for

    weights = tmp_path / "backbone.params"  # ResNet-101 has every name and shape ResNet-50 has, and more
    mx.nd.save(str(weights), {name: mx.nd.zeros(shape) for name, shape in expected_for("resnet-101").items()})
    store = tmp_path / "store"
    named = import_into(store, [weights], "--name", "resnet50_v1s")
    assert named.exit_code == 2
    assert (f"{weights} is not the ImageNet weights of the resnet-50 backbone of semantic-segmentation "
            "(resnet50_v1s): it has 255 parameters more (e.g. layer3.6.conv1.weight") in named.output
    recognised = import_into(store, [weights])
    assert recognised.exit_code == 0, recognised.output
    assert recognised.output.startswith("resnet101_v1s: stored ")


def test_a_truncated_file_is_refused(tmp_path):
    whole = tiny_network_file(tmp_path / "whole.params").read_bytes()
    truncated = tmp_path / "resnet50_v1-cc729d95.params"
    truncated.write_bytes(whole[: len(whole) // 2])
    result = import_into(tmp_path / "store", [truncated], "--name", "resnet50_v1")
    assert result.exit_code == 2
    assert f"Cannot read {truncated}: not an MXNet parameter file, or a truncated one" in result.output
    assert not (tmp_path / "store" / "object-detection").exists()


@pytest.mark.docker
def test_the_check_runs_inside_the_image(tmp_path):
    from algorithms.semantic_segmentation.pretrained import expected_for

    image = "smlocal/semantic-segmentation:latest"
    weights = tiny_network_file(tmp_path / "weights.params")
    refused = import_into(tmp_path / "store", [weights], "--name", "resnet101_v1s", "--image", image)
    assert refused.exit_code == 2
    # The image sees the file at its mount point: the message names it there.
    assert "/in/0/weights.params is not the ImageNet weights of the resnet-101 backbone" in refused.output
    backbone = {name: mx.nd.zeros(shape) for name, shape in expected_for("resnet-101").items()}
    correct = tmp_path / "resnet101_v1s-bd93a83c.params"
    mx.nd.save(str(correct), backbone)
    stored = import_into(tmp_path / "store", [correct], "--image", image)
    assert stored.exit_code == 0, stored.output
    assert (tmp_path / "store" / "semantic-segmentation" / "resnet101_v1s.params").read_bytes() == correct.read_bytes()
