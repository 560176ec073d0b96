"""Image classification endpoint: one JPEG/PNG image per request -> per-class probabilities.

The model is the exported graph as the built-in writes it (symbol, latest NNNN.params,
model-shapes.json for C, H, W), ours or the built-in's. Images go through the validation
preprocessing (`Preprocessing.to_input` without `resize`, which the artifacts do not record:
centre crop of image_shape, upscaled first when smaller), decoded by MXNet's decoder as the
record iterator does, so an endpoint scores images exactly as validation did.

Responses: `application/json` (the default) is a bare list `[p0, p1, ...]` in real time and
`{"prediction": [...]}` in batch transform (SAGEMAKER_BATCH=true), as the built-in's notebooks
read them; `application/jsonlines` is `{"prediction": [...]}`.
"""
from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from algorithms.common.inference import check_image_request, decode_image, json_body, negotiate, serving_context
from algorithms.image_classification import model_io
from algorithms.image_classification.preprocess import Preprocessing
from container.errors import ClientError

JSON, JSONLINES = "application/json", "application/jsonlines"
ACCEPTS = (JSON, JSONLINES)


class Classifier:
    def __init__(self, module: mx.mod.Module, preprocessing: Preprocessing, context: mx.Context,
                 batch: bool = False) -> None:
        self.module, self.preprocessing, self.context, self.batch = module, preprocessing, context, batch

    @property
    def grayscale(self) -> bool:
        return self.preprocessing.image_shape[0] == 1

    def network_input(self, image: np.ndarray) -> np.ndarray:
        return self.preprocessing.to_input(image)

    def forward(self, data: np.ndarray) -> np.ndarray:
        """(1, C, H, W) network input -> (num_classes,) probabilities."""
        self.module.forward(mx.io.DataBatch([mx.nd.array(data, ctx=self.context)]), is_train=False)
        return self.module.get_outputs()[0].asnumpy()[0]

    def predict(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        check_image_request(body, content_type)
        response_type = negotiate(accept, ACCEPTS)
        image = decode_image(body, grayscale=self.grayscale)
        probabilities = self.forward(self.network_input(image)).tolist()
        if response_type == JSON and not self.batch:
            return json_body(probabilities), JSON
        return json_body({"prediction": probabilities}), response_type


def load(model_dir: Path, batch: bool = False) -> Classifier:
    saved = model_io.read_saved_model(model_dir)
    if saved.image_shape is None:
        raise ClientError(f"{model_dir} has no model-shapes.json: the input shape of the model is unknown")
    symbol = mx.sym.load(str(saved.symbol))
    arg_params, aux_params = model_io.load_params(saved.params)
    # The built-in's graph ends in SoftmaxOutput with a `softmax_label` input, unused at inference.
    labels = [name for name in symbol.list_arguments() if name == "softmax_label"]
    context = serving_context()
    module = mx.mod.Module(symbol, data_names=["data"], label_names=labels or None, context=context)
    module.bind(data_shapes=[("data", (1, *saved.image_shape))], for_training=False)
    try:
        module.set_params(arg_params, aux_params)
    except (mx.base.MXNetError, RuntimeError, ValueError) as exc:
        raise ClientError(f"The parameters in {saved.params.name} do not fit {saved.symbol.name}: {exc}") from None
    classifier = Classifier(module, Preprocessing(tuple(saved.image_shape)), context, batch)
    classifier.forward(np.zeros((1, *saved.image_shape), dtype=np.float32))  # first-call set-up before /ping says 200
    return classifier
