"""What the server answers equals the validation-time forward pass on the same images: for each
algorithm the reference goes through the training code's validation path (record iterator or
validation dataset and loader, network built as the job builds it), the served answer through
HTTP, gunicorn and the algorithm's inference module."""
from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np
import pytest
from google.protobuf import message_factory
from PIL import Image

from algorithms.common.inference import record_class
from emulator.sample_data import encode, make_detection_set, make_segmentation_set

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _images(sizes, seed=0):
    """Smooth random images (JPEG and PNG): distinct enough that a preprocessing change shows."""
    rng = np.random.RandomState(seed)
    images = []
    for i, (height, width) in enumerate(sizes):
        coarse = rng.uniform(0, 255, (4, 5, 3)).astype(np.float32)
        pixels = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)
        images.append(encode(pixels, "PNG" if i % 2 else "JPEG"))
    return images


# ---- image classification -----------------------------------------------------------------------

def _ic_validation_forward(model_dir: Path, images: list[bytes], work: Path) -> np.ndarray:
    """The validation path of training: a .rec of the images through ImageRecordIter with the
    validation preprocessing, the saved graph bound for a batch."""
    from algorithms.image_classification import model_io
    from algorithms.image_classification.preprocess import Preprocessing

    saved = model_io.read_saved_model(model_dir)
    writer = mx.recordio.MXIndexedRecordIO(str(work / "v.idx"), str(work / "v.rec"), "w")
    for i, data in enumerate(images):
        writer.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, 0, i, 0), data))
    writer.close()
    batch_size = len(images)
    iterator = mx.io.ImageRecordIter(path_imgrec=str(work / "v.rec"), batch_size=batch_size, preprocess_threads=1,
                                     **Preprocessing(saved.image_shape).iterator_args())
    module = mx.mod.Module.load(str(model_dir / model_io.PREFIX), saved.epoch)
    module.bind(data_shapes=iterator.provide_data, label_shapes=iterator.provide_label, for_training=False)
    module.forward(iterator.next(), is_train=False)
    return module.get_outputs()[0].asnumpy()


@pytest.mark.parametrize("name,sizes", [
    ("image-classification", [(40, 57), (63, 41), (32, 32), (33, 70)]),
    ("builtin-image-classification", [(224, 224), (240, 300)]),
])
def test_image_classification_answers_the_validation_probabilities(servers, model_dirs, tmp_path, name, sizes):
    images = _images(sizes)
    expected = _ic_validation_forward(model_dirs[name] / "model", images, tmp_path)
    server = servers(name)
    for data, want in zip(images, expected):
        response = server.invoke(data, "image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/json"
        got = response.json()
        assert isinstance(got, list) and len(got) == len(want)  # the bare list the notebooks parse
        np.testing.assert_allclose(got, want, **TOLERANCE)
    assert len({int(np.argmax(p)) for p in expected}) >= 1 and expected.std() > 1e-3  # not a constant network


# ---- object detection ---------------------------------------------------------------------------

def _od_validation_detections(model_dir: Path, rec: Path, work: Path) -> list[np.ndarray]:
    """Training's validation: the checked channel's records through the validation loader, the
    detector built, loaded and hybridized as the job does."""
    from algorithms.object_detection import data, model_io, network
    from algorithms.object_detection.hyperparameters import SCHEMA

    saved = model_io.read_saved_model(model_dir, "test")
    hp = SCHEMA.parse(saved.hyperparameters)
    net = network.build(hp.base_network, hp.image_shape, hp.num_classes, hp.nms_threshold, hp.nms_topk)
    net.initialize(ctx=[mx.cpu()])
    model_io.load_params(net, saved.params, "test", [mx.cpu()])
    net.hybridize(static_alloc=True, static_shape=True)
    found = []
    for images, _, _ in data.validation_loader(data.scan(rec, "validation", hp, work), hp, 2, 0):
        for rows in net(images.as_in_context(mx.cpu())).asnumpy():  # as the job does
            found.append(rows[rows[:, 0] >= 0])
    return found


def _by_box(rows) -> np.ndarray:
    """Rows in a fixed order (near-equal scores may be ranked either way by two batch sizes)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    return rows[np.lexsort(np.round(rows[:, [5, 4, 3, 2, 0]].T, 4))]


def test_object_detection_answers_the_validation_detections(servers, model_dirs, tmp_path):
    dataset = make_detection_set(tmp_path / "od", 2, 3, size=(90, 130), seed=4)
    expected = _od_validation_detections(model_dirs["object-detection"] / "model", dataset["rec"], tmp_path)
    server = servers("object-detection")
    images = sorted(dataset["images"].iterdir())
    assert len(images) == len(expected)
    for path, want in zip(images, expected):
        body = path.read_bytes()
        response = server.invoke(body, "image/jpeg")
        assert response.status_code == 200, response.text
        got = response.json()["prediction"]
        assert len(got) == len(want) > 0
        np.testing.assert_allclose(_by_box(got), _by_box(want), **TOLERANCE)
        assert all(isinstance(row[0], float) for row in got)  # class ids are floats, as the built-in's

        pixels = server.invoke(body, "image/jpeg", accept="application/json;annotation=1").json()
        width, height = Image.open(path).size
        assert pixels["image_size"] == [{"width": width, "height": height, "depth": 3}]
        boxes = [[a["class_id"], a["score"], a["left"] / width, a["top"] / height, (a["left"] + a["width"]) / width,
                  (a["top"] + a["height"]) / height] for a in pixels["annotations"]]
        np.testing.assert_allclose(_by_box(boxes), _by_box(want), rtol=1e-4, atol=1e-4)


# ---- semantic segmentation ----------------------------------------------------------------------

def _ss_validation_scores(model_dir: Path, dataset: dict) -> list[np.ndarray]:
    """Whole-image validation (validation_mini_batch_size=1): the validation dataset's arrays and
    predict_whole on the network built and loaded as the job does."""
    from algorithms.semantic_segmentation import data, hyperparameters, model_io, network
    from algorithms.semantic_segmentation.label_map import identity

    saved = model_io.read_saved_model(model_dir, "test")
    hp = hyperparameters.parse(saved.hyperparameters)
    net = network.build(hp.algorithm, hp.backbone, hp.num_classes, hp.crop_size, hp.base_size, [mx.cpu()])
    model_io.load_into(net, saved, "test", [mx.cpu()])
    samples = []
    for image in sorted(dataset["images"].iterdir()):
        width, height = Image.open(image).size
        samples.append(data.Sample(image, dataset["annotations"] / f"{image.stem}.png", width, height))
    validation = data.ValidationDataset(data.SegmentationSet("validation", samples, identity(), np.ones(3)), None)
    net.hybridize(**network.HYBRIDIZE)
    scores = []
    with network.imperative(net):
        for index in range(len(validation)):
            pixels, _ = validation[index]
            scores.append(network.predict_whole(net, mx.nd.array(pixels)[None]).asnumpy())
    return scores


def _read_recordio_records(body: bytes) -> list[bytes]:
    """MXNet RecordIO framing, read independently of the server's writer."""
    records, offset = [], 0
    while offset < len(body):
        magic, length = struct.unpack_from("<II", body, offset)
        assert magic == 0xCED7230A and length >> 29 == 0
        records.append(body[offset + 8: offset + 8 + length])
        offset += 8 + length + (-length % 4)
    assert offset == len(body)
    return records


def test_semantic_segmentation_answers_the_validation_masks_and_probabilities(servers, model_dirs, tmp_path):
    dataset = make_segmentation_set(tmp_path / "ss", 3, 2, size=[(37, 50), (45, 41)], seed=5)
    expected = _ss_validation_scores(model_dirs["semantic-segmentation"] / "model", dataset)
    server = servers("semantic-segmentation")
    for path, scores in zip(sorted(dataset["images"].iterdir()), expected):
        body = path.read_bytes()
        width, height = Image.open(path).size
        response = server.invoke(body, "image/jpeg", accept="image/png")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "image/png"
        mask = np.array(Image.open(io.BytesIO(response.content)))
        assert mask.shape == (height, width) and mask.dtype == np.uint8
        np.testing.assert_array_equal(mask, scores[0].argmax(axis=0))
        assert len(np.unique(mask)) > 1

        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        for accept in ("application/x-recordio-protobuf", "application/x-protobuf"):
            response = server.invoke(body, "image/jpeg", accept=accept)
            assert response.status_code == 200, response.text
            assert response.headers["Content-Type"] == accept
            (payload,) = _read_recordio_records(response.content)
            record = record_class()()
            record.ParseFromString(payload)
            assert list(record.features["shape"].int32_tensor.values) == [1, 3, height, width]
            target = np.array(record.features["target"].float32_tensor.values, dtype=np.float32)
            np.testing.assert_allclose(target.reshape(1, 3, height, width), probabilities, **TOLERANCE)
            assert np.array_equal(target.reshape(3, height, width).argmax(axis=0), mask)


def test_the_record_descriptor_has_the_sdk_field_numbers():
    """record.proto of the SageMaker SDK: features=1, label=2 (maps of Value), Value oneof with
    float32_tensor=2, float64_tensor=3, int32_tensor=7, bytes=9; tensors values=1, keys=2, shape=3."""
    descriptor = record_class().DESCRIPTOR
    assert descriptor.full_name == "aialgs.data.Record"
    assert {f.name: f.number for f in descriptor.fields} == {
        "features": 1, "label": 2, "uid": 3, "metadata": 4, "configuration": 5}
    value = descriptor.fields_by_name["features"].message_type.fields_by_name["value"].message_type
    assert {f.name: f.number for f in value.fields} == {
        "float32_tensor": 2, "float64_tensor": 3, "int32_tensor": 7, "bytes": 9}
    tensor = value.fields_by_name["float32_tensor"].message_type
    assert {f.name: f.number for f in tensor.fields} == {"values": 1, "keys": 2, "shape": 3}
    # Packed repeated floats: field 1, wire type 2, then the little-endian values.
    message = message_factory.GetMessageClass(tensor)(values=[1.5, -2.0])
    assert message.SerializeToString() == b"\x0a\x08" + struct.pack("<ff", 1.5, -2.0)
    assert json.loads(json.dumps(list(message.values))) == [1.5, -2.0]
