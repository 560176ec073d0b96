"""What an endpoint's page shows of the built-ins' answers to a test image."""
import base64
import json

from emulator.console.hosting import prediction_view


def test_image_classification_shows_the_top_classes_best_first():
    view = prediction_view(json.dumps([0.1, 0.05, 0.6, 0.2, 0.03, 0.01, 0.01]).encode(), "application/json")
    assert view["kind"] == "classes"
    assert [c["class"] for c in view["classes"]] == [2, 3, 0, 1, 4]  # five, best first


def test_object_detection_shows_the_boxes_and_drops_the_padding_rows():
    body = {"prediction": [[1, 0.4, 0.1, 0.1, 0.5, 0.5], [0, 0.9, 0.2, 0.3, 0.4, 0.6], [-1, 0.0, 0, 0, 0, 0]]}
    view = prediction_view(json.dumps(body).encode(), "application/json")
    assert view["kind"] == "boxes"
    assert view["boxes"] == [{"class": 0, "score": 0.9, "box": [0.2, 0.3, 0.4, 0.6]},
                             {"class": 1, "score": 0.4, "box": [0.1, 0.1, 0.5, 0.5]}]


def test_semantic_segmentation_shows_the_mask_for_the_page_to_overlay():
    png = b"\x89PNG\r\n\x1a\n" + b"rest"
    view = prediction_view(png, "image/png")
    assert view == {"kind": "mask", "mask": "data:image/png;base64," + base64.b64encode(png).decode()}


def test_anything_else_is_shown_as_it_came():
    assert prediction_view(b"not json", "text/plain") == {"kind": "text", "text": "not json"}
