"""Ground Truth bounding-box labels of augmented manifests become the packed RecordIO label."""
import json

import numpy as np
import pytest

from algorithms.common.pipe import Example
from algorithms.object_detection.data import check_label, manifest_label
from algorithms.object_detection.hyperparameters import SCHEMA
from container.errors import ClientError

SOURCE = "stream train_0 of channel 'train'"
HP = SCHEMA.parse({"num_classes": "2", "num_training_samples": "4"})


def _example(label, number=3) -> Example:
    text = label if isinstance(label, str) else json.dumps(label)
    return Example(number, (b"\xff\xd8\xff image bytes", text.encode()))


def test_ground_truth_boxes_become_ratios_in_the_packed_layout():
    label = {"image_size": [{"width": 400, "height": 200, "depth": 3}],
             "annotations": [{"class_id": 1, "left": 40, "top": 20, "width": 100, "height": 50},
                             {"class_id": 0, "left": 0, "top": 100, "width": 400, "height": 100}]}
    packed = manifest_label(_example(label), SOURCE)
    assert packed.dtype == np.float32
    assert np.allclose(packed, [2, 5, 1, 0.1, 0.1, 0.35, 0.35, 0, 0.0, 0.5, 1.0, 1.0])
    assert check_label(packed, HP, "record 3").shape == (2, 5)  # what the epoch's scan checks next


def test_an_image_without_objects_keeps_only_the_header():
    label = {"image_size": [{"width": 400, "height": 200, "depth": 3}], "annotations": []}
    packed = manifest_label(_example(label), SOURCE)
    assert packed.tolist() == [2.0, 5.0]
    assert check_label(packed, HP, "record 3").shape == (0, 5)


@pytest.mark.parametrize("label, message", [
    ("not json", "stream train_0 of channel 'train': the label attribute of line 3 is not JSON text"),
    ([1, 2], "line 3, label attribute (the second of AttributeNames): expected a JSON object with 'image_size' "
             "and 'annotations', got [1, 2]"),
    ({"annotations": []}, "line 3, label attribute (the second of AttributeNames): 'image_size' must be a list"),
    ({"image_size": [{"width": 10, "height": 10}], "annotations": [{"class_id": 0, "left": 1}]},
     "line 3, label attribute (the second of AttributeNames), annotation 0: 'top' must be a number"),
])
def test_bad_labels_name_the_stream_line_and_attribute(label, message):
    with pytest.raises(ClientError) as error:
        manifest_label(_example(label), SOURCE)
    assert message in str(error.value)
    assert str(error.value).startswith(SOURCE)
