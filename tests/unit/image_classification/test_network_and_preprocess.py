import json

import cv2
import mxnet as mx
import numpy as np
import pytest

from algorithms.image_classification import model_io
from algorithms.image_classification.network import classifier
from algorithms.image_classification.preprocess import Preprocessing
from tests.reference import REFERENCE_ARTIFACTS

REFERENCE = REFERENCE_ARTIFACTS


def test_graph_is_the_builtins_graph():
    """Same operators, names, order and parameter shapes as the real built-in ResNet-50 artifact."""
    ours = classifier(50, 2)
    ref = mx.sym.load(str(REFERENCE / "ic-resnet50-builtin-symbol.json"))
    ops = lambda s: [(n["op"], n["name"]) for n in json.loads(s.tojson())["nodes"] if n["op"] != "null"]  # noqa: E731
    assert ops(ours) == ops(ref)
    shape = {"data": (1, 3, 224, 224)}
    assert ours.infer_shape(**shape) == ref.infer_shape(**shape)
    assert ours.list_auxiliary_states() == ref.list_auxiliary_states()


@pytest.mark.parametrize("layers,image", [(18, 28), (34, 64), (101, 224), (152, 224), (200, 224), (20, 32), (110, 32)])
def test_every_depth_builds(layers, image):
    symbol = classifier(layers, 7)
    arg_shapes, out_shapes, _ = symbol.infer_shape(data=(2, 3, image, image))
    assert out_shapes == [(2, 7)]
    convs = [n for n in symbol.list_arguments() if n.endswith("_weight") and ("conv" in n)]
    assert len(convs) + 1 == layers  # unit convolutions + conv0, plus the fc layer


def test_saved_model_is_described_from_its_graph(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "image-classification-symbol.json").write_text((REFERENCE / "ic-resnet50-builtin-symbol.json").read_text())
    (model / "model-shapes.json").write_text((REFERENCE / "ic-resnet50-builtin-model-shapes.json").read_text())
    (model / "image-classification-0003.params").write_bytes(b"")
    (model / "image-classification-0017.params").write_bytes(b"")
    saved = model_io.read_saved_model(model)
    assert (saved.num_layers, saved.num_classes, saved.image_shape, saved.epoch) == (50, 2, (3, 224, 224), 17)


@pytest.mark.parametrize("resize", [None, 33])
def test_python_preprocessing_equals_the_validation_iterator(tmp_path, resize):
    """One definition: the record iterator used for validation and `to_input` give the same pixels."""
    writer = mx.recordio.MXIndexedRecordIO(str(tmp_path / "v.idx"), str(tmp_path / "v.rec"), "w")
    rng = np.random.RandomState(0)
    images = []
    for i, (h, w) in enumerate([(40, 57), (63, 41), (37, 37), (50, 90)]):
        img = (rng.rand(h, w, 3) * 255).astype("uint8")
        images.append(img)
        ok, buf = cv2.imencode(".png", img[:, :, ::-1])
        writer.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, 1, i, 0), buf.tobytes()))
    writer.close()
    pre = Preprocessing((3, 28, 30), resize)
    batch = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / "v.rec"), batch_size=4, preprocess_threads=1,
                                  **pre.iterator_args()).next().data[0].asnumpy()
    for i, img in enumerate(images):
        np.testing.assert_array_equal(batch[i], pre.to_input(img)[0])
