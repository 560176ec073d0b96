"""Object detection endpoint: one JPEG/PNG image per request -> detections.

The detector is rebuilt from hyperparams.json (base_network, image_shape, num_classes and the
NMS settings) and loaded from model_algo_1-0000.params, the same network and the same
preprocessing (`preprocess.to_network_input`, after MXNet's decoder) validation uses.

Responses (sagemaker-algorithms.md §2.6):
- `application/json` (default): `{"prediction": [[class_id, score, xmin, ymin, xmax, ymax], ...]}`
  with coordinates as ratios of the image's width and height, best first, low scores included;
- `application/json;annotation=1`: `{"image_size": [{"width", "height", "depth"}],
  "annotations": [{"class_id", "score", "left", "top", "width", "height"}, ...]}` in pixels.
"""
from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from algorithms.common.inference import (check_image_request, decode_image, json_body, negotiate, saved_settings,
                                         serving_context)
from algorithms.object_detection import model_io, network
from algorithms.object_detection.hyperparameters import SCHEMA
from algorithms.object_detection.preprocess import to_network_input

JSON, ANNOTATIONS = "application/json", "application/json;annotation=1"
ACCEPTS = (JSON, ANNOTATIONS)
SETTINGS = ("base_network", "image_shape", "num_classes", "nms_threshold", "nms_topk")


class ObjectDetector:
    def __init__(self, net: network.Detector, context: mx.Context) -> None:
        self.net, self.context = net, context

    def network_input(self, image: np.ndarray) -> np.ndarray:
        return to_network_input(image, self.net.image_shape)

    def forward(self, data: np.ndarray) -> np.ndarray:
        """(1, 3, side, side) network input -> (K, 6) detections without the padding rows."""
        detections = self.net(mx.nd.array(data, ctx=self.context))[0].asnumpy()
        return detections[detections[:, 0] >= 0]

    def predict(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        check_image_request(body, content_type)
        response_type = negotiate(accept, ACCEPTS)
        image = decode_image(body)
        detections = self.forward(self.network_input(image))
        if response_type == ANNOTATIONS:
            return json_body(annotations(detections, image.shape)), JSON
        return json_body({"prediction": detections.tolist()}), JSON


def annotations(detections: np.ndarray, shape: tuple[int, ...]) -> dict:
    height, width = shape[:2]
    boxes = [{"class_id": int(cls), "score": float(score), "left": float(xmin * width),
              "top": float(ymin * height), "width": float((xmax - xmin) * width),
              "height": float((ymax - ymin) * height)}
             for cls, score, xmin, ymin, xmax, ymax in detections.tolist()]
    return {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": boxes}


def load(model_dir: Path, batch: bool = False) -> ObjectDetector:  # noqa: ARG001 - same output in batch
    source = f"the model directory {model_dir}"
    saved = model_io.read_saved_model(model_dir, source)
    hp = saved_settings(SCHEMA, saved.hyperparameters, SETTINGS, source)
    context = serving_context()
    net = network.build(hp["base_network"], hp["image_shape"], hp["num_classes"], hp["nms_threshold"],
                        hp["nms_topk"], layout=model_io.base_layout(saved.params, source))
    net.initialize(ctx=[context])
    model_io.load_params(net, saved.params, source, [context])
    net.hybridize(static_alloc=True, static_shape=True)  # as in training and validation
    detector = ObjectDetector(net, context)
    side = hp["image_shape"]
    detector.forward(np.zeros((1, 3, side, side), dtype=np.float32))  # builds the cached graph before /ping says 200
    return detector
