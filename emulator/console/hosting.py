"""Inference → Models and Endpoints, and a test image sent to an endpoint.

A model's page shows its Primary container (image, model artifact location), as the
incremental-training guide finds a model there. An endpoint's page sends an uploaded image
through the runtime's own InvokeEndpoint handler and shows the built-in's answer: the top
classes (image classification), the boxes (object detection) or the class mask (semantic
segmentation); the page's script draws boxes and masks over the image.
"""
from __future__ import annotations

import base64
import json

from flask import Blueprint, abort, render_template, request

from emulator.console.backend import ConsoleBackend
from emulator.validation import RequestValidationError

LIST_SIZE = 100
TOP_CLASSES = 5
IMAGE_TYPES = ("image/jpeg", "image/png")


def prediction_view(body: bytes, content_type: str) -> dict:
    """The answer as the page shows it: `kind` classes | boxes | mask | text."""
    if content_type.startswith("image/png"):
        return {"kind": "mask", "mask": "data:image/png;base64," + base64.b64encode(body).decode()}
    try:
        answer = json.loads(body)
    except ValueError:
        return {"kind": "text", "text": body.decode(errors="replace")[:4000]}
    if isinstance(answer, dict) and isinstance(answer.get("prediction"), list) and all(
            isinstance(row, list) and len(row) == 6 for row in answer["prediction"]):
        boxes = [{"class": int(r[0]), "score": r[1], "box": r[2:]} for r in answer["prediction"] if r[0] >= 0]
        return {"kind": "boxes", "boxes": sorted(boxes, key=lambda b: -b["score"])}
    probabilities = answer.get("prediction") if isinstance(answer, dict) else answer
    if isinstance(probabilities, list) and probabilities and all(isinstance(p, (int, float)) for p in probabilities):
        ranked = sorted(enumerate(probabilities), key=lambda item: -item[1])[:TOP_CLASSES]
        return {"kind": "classes", "classes": [{"class": i, "probability": p} for i, p in ranked]}
    return {"kind": "text", "text": json.dumps(answer, indent=1)[:4000]}


def create_blueprint(backend: ConsoleBackend) -> Blueprint:
    bp = Blueprint("hosting", __name__)

    def get(operation: str, **params) -> dict:
        try:
            return backend.sm(operation, **params)
        except RequestValidationError:
            abort(404)

    @bp.get("/models")
    def models():
        name = request.args.get("name", "").strip()
        params = {"MaxResults": LIST_SIZE, **({"NameContains": name} if name else {})}
        return render_template("models.html", models=backend.sm("ListModels", **params)["Models"], name=name)

    @bp.get("/models/<name>")
    def model(name: str):
        return render_template("model.html", model=get("DescribeModel", ModelName=name))

    @bp.get("/endpoints")
    def endpoints():
        return render_template("endpoints.html", endpoints=backend.sm("ListEndpoints", MaxResults=LIST_SIZE)["Endpoints"])

    def endpoint_page(name: str, **extra):
        endpoint = get("DescribeEndpoint", EndpointName=name)
        config = get("DescribeEndpointConfig", EndpointConfigName=endpoint["EndpointConfigName"])
        return render_template("endpoint.html", endpoint=endpoint, config=config,
                               can_invoke=backend.runtime is not None, image_types=IMAGE_TYPES, **extra)

    @bp.get("/endpoints/<name>")
    def endpoint(name: str):
        return endpoint_page(name)

    @bp.post("/endpoints/<name>/invoke")
    def invoke(name: str):
        upload = request.files.get("image")
        if backend.runtime is None or upload is None or not upload.filename:
            return endpoint_page(name, invoke_error="Choose an image to send."), 400
        body = upload.read()
        content_type = upload.mimetype if upload.mimetype in IMAGE_TYPES else "application/x-image"
        try:
            answer = backend.call(backend.runtime, "InvokeEndpoint",
                                  {"EndpointName": name, "Body": body, "ContentType": content_type})
        except RequestValidationError as exc:
            return endpoint_page(name, invoke_error=exc.message), 400
        if answer.status_code != 200:
            error = (answer.get_json(silent=True) or {}).get("Message") or answer.get_data(as_text=True)
            return endpoint_page(name, invoke_error=error), 400
        image = f"data:{content_type};base64," + base64.b64encode(body).decode()
        return endpoint_page(name, prediction=prediction_view(answer.get_data(), answer.content_type or ""),
                             image=image)

    return bp
