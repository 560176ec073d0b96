"""Semantic segmentation endpoint: one JPEG/PNG image per request -> per-pixel classes.

The network is rebuilt from model_algo-1 (whose weights tell the decoder, backbone and class
count) and hyperparams.json, and runs on the whole image at its own size exactly as whole-image
validation does: PIL decoding and `preprocess.to_network_input`, then `network.predict_whole`.

Responses (sagemaker-algorithms.md §3.6), by Accept:
- `image/png` (the default): a single-channel PNG of class ids at the input's height × width;
- `application/x-recordio-protobuf` or `application/x-protobuf`: one RecordIO-wrapped protobuf
  `Record` with `target` (float32 class probabilities, C×H×W) and `shape` (int32 [1, C, H, W]);
  its argmax over C is the PNG.
"""
from __future__ import annotations

import io
from pathlib import Path

import mxnet as mx
import numpy as np
from PIL import Image

from algorithms.common.inference import check_image_request, dense_record, negotiate, saved_settings, serving_context
from algorithms.semantic_segmentation import hyperparameters, model_io, network
from algorithms.semantic_segmentation.preprocess import read_image, to_network_input
from container.serve import RequestError

PNG = "image/png"
PROTOBUF_TYPES = ("application/x-recordio-protobuf", "application/x-protobuf")
ACCEPTS = (PNG, *PROTOBUF_TYPES)
SETTINGS = ("algorithm", "backbone", "num_classes", "crop_size", "base_size")


class Segmenter:
    def __init__(self, net, context: mx.Context) -> None:
        self.net, self.context = net, context

    @staticmethod
    def network_input(image: Image.Image) -> np.ndarray:
        return to_network_input(image)[None]

    def forward(self, data: np.ndarray) -> np.ndarray:
        """(1, 3, H, W) network input -> (1, C, H, W) class scores of the main head."""
        return network.predict_whole(self.net, mx.nd.array(data, ctx=self.context)).asnumpy()

    def predict(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        check_image_request(body, content_type)
        response_type = negotiate(accept, ACCEPTS)
        try:
            image = read_image(io.BytesIO(body))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise RequestError(400, f"The request body ({len(body)} bytes) could not be decoded as a JPEG or "
                                    f"PNG image: {exc}") from None
        scores = self.forward(self.network_input(image))
        if response_type == PNG:
            return png_mask(scores), PNG
        probabilities = softmax(scores)
        shape = np.array(probabilities.shape, dtype=np.int32)
        return dense_record({"target": probabilities, "shape": shape}), response_type


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def png_mask(scores: np.ndarray) -> bytes:
    mask = scores[0].argmax(axis=0).astype(np.uint8)  # num_classes <= 254
    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def load(model_dir: Path, batch: bool = False) -> Segmenter:  # noqa: ARG001 - same output in batch
    source = f"the model directory {model_dir}"
    saved = model_io.read_saved_model(model_dir, source)
    hp = saved_settings(hyperparameters.SCHEMA, saved.architecture(), SETTINGS, source)
    context = serving_context()
    net = network.build(hp["algorithm"], hp["backbone"], hp["num_classes"],
                        hyperparameters.round_up_crop(hp["crop_size"]), hp["base_size"], [context])
    model_io.load_into(net, saved, source, [context])
    segmenter = Segmenter(net, context)  # never hybridized: predict_whole sizes it to each image
    segmenter.forward(np.zeros((1, 3, 32, 32), dtype=np.float32))  # first-call set-up before /ping says 200
    return segmenter
