"""Annotation conversion and the per-record label checks, with the built-in's error wording."""
import json

import numpy as np
import pytest

from algorithms.object_detection import annotations
from algorithms.object_detection.data import check_label
from algorithms.object_detection.hyperparameters import SCHEMA
from container.errors import ClientError
from emulator.sample_data import detection_annotation, detection_label

HP = SCHEMA.parse({"num_classes": "2", "num_training_samples": "4", "label_width": "17"})
WHERE = "channel 'train' (a.rec), record 3"


def test_json_boxes_become_ratios_of_the_image_size():
    data = detection_annotation("a.jpg", [(1, 20, 10, 60, 50)], (100, 200), 2)  # size is (height, width)
    assert annotations.objects_from_json(data, "a.json") == [(1.0, 0.1, 0.1, 0.3, 0.5)]


def test_reference_annotation_example_converts():
    # The built-in's documented example (od-json-annotation-example.json).
    data = {"file": "1.jpg", "image_size": [{"width": 1600, "height": 900, "depth": 3}],
            "annotations": [{"class_id": 0, "top": 227, "left": 779, "width": 290, "height": 585}],
            "categories": [{"class_id": 1, "name": "faon"}]}
    (cls, xmin, ymin, xmax, ymax), = annotations.objects_from_json(data, "1.json")
    assert cls == 0 and np.allclose([xmin, ymin, xmax, ymax], [779 / 1600, 227 / 900, 1069 / 1600, 812 / 900])


def test_boxes_past_the_border_are_clipped_and_empty_ones_rejected():
    data = detection_annotation("a.jpg", [(0, -5, 90, 30, 130)], (100, 100), 1)
    assert annotations.objects_from_json(data, "a.json") == [(0.0, 0.0, 0.9, 0.3, 1.0)]
    data["annotations"][0]["left"] = 120
    with pytest.raises(ClientError, match="has no area inside the 100x100 image"):
        annotations.objects_from_json(data, "a.json")


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(image_size=[{"width": 10, "height": 10, "depth": 1}]), "only 3-channel images"),
    (lambda d: d.pop("image_size"), "'image_size' must be a list"),
    (lambda d: d["annotations"][0].pop("class_id"), "'class_id' must be a number"),
    (lambda d: d.update(annotations={}), "'annotations' must be a list"),
])
def test_malformed_annotation_files_are_named(change, message):
    data = detection_annotation("a.jpg", [(0, 1, 1, 5, 5)], (10, 10), 1)
    change(data)
    with pytest.raises(ClientError, match=message):
        annotations.objects_from_json(data, "annotation file 'a.json'")


def _channels(tmp_path, images, jsons):
    image_dir, annotation_dir = tmp_path / "train", tmp_path / "train_annotation"
    image_dir.mkdir(parents=True)
    annotation_dir.mkdir(parents=True)
    for name in images:
        (image_dir / name).write_bytes(b"not decoded here")
    for name, data in jsons.items():
        (annotation_dir / name).write_text(data if isinstance(data, str) else json.dumps(data))
    return annotations.list_entries(image_dir, "train", annotation_dir, "train_annotation")


def test_entries_pair_images_by_file_key_or_base_name(tmp_path):
    named = detection_annotation("a.jpg", [(1, 0, 0, 5, 5)], (10, 10), 2)
    unnamed = detection_annotation("ignored", [(0, 5, 5, 10, 10)], (10, 10), 2)
    del unnamed["file"]
    entries = _channels(tmp_path, ["a.jpg", "b.png"], {"x.json": named, "b.json": unnamed})
    assert {e.path: e.label for e in entries} == {
        "a.jpg": (2.0, 5.0, 1.0, 0.0, 0.0, 0.5, 0.5), "b.png": (2.0, 5.0, 0.0, 0.5, 0.5, 1.0, 1.0)}


def test_an_image_without_annotation_file_is_named(tmp_path):
    data = detection_annotation("a.jpg", [(0, 0, 0, 5, 5)], (10, 10), 1)
    with pytest.raises(ClientError, match=r"Missing annotation file for 1 image\(s\) in channel 'train': 'b.jpg'"):
        _channels(tmp_path, ["a.jpg", "b.jpg"], {"a.json": data})


def test_an_annotation_naming_a_missing_image_or_broken_json_is_named(tmp_path):
    data = detection_annotation("zzz.jpg", [(0, 0, 0, 5, 5)], (10, 10), 1)
    with pytest.raises(ClientError, match="'a.json' in channel 'train_annotation' refers to image 'zzz.jpg'"):
        _channels(tmp_path / "1", ["a.jpg"], {"a.json": data})
    with pytest.raises(ClientError, match="'a.json' in channel 'train_annotation' is not valid JSON"):
        _channels(tmp_path / "2", ["a.jpg"], {"a.json": "{"})


def _label(*objects, header=(2, 5)):
    return np.array(list(header) + [v for obj in objects for v in obj], dtype=np.float32)


def test_valid_label_keeps_objects_and_drops_padding():
    label = _label((1, 0.1, 0.2, 0.3, 0.4), (-1, -1, -1, -1, -1))
    objects = check_label(label, HP, WHERE)
    assert objects.shape == (1, 5) and np.allclose(objects, [[1, 0.1, 0.2, 0.3, 0.4]])


def test_sample_data_label_layout_is_the_builtins():
    assert detection_label([(1, 10, 20, 30, 40)], (100, 50)) == [2.0, 5.0, 1.0, 0.2, 0.2, 0.6, 0.4]


@pytest.mark.parametrize("label,message", [
    (np.array([2.0], dtype=np.float32), "Not enough label packed in img_list or rec file."),
    (_label((1, 0.1, 0.2, 0.3)), "Not enough annotation packed in the list file or the RecordIO file. Each "
                                 "object requires at least five numbers"),
    (_label((1, 0.1, 0.2, 0.3), header=(2, 4)), "Not enough annotation packed"),
    (_label(*[(0, 0.1, 0.1, 0.2, 0.2)] * 4), "Invalid parameter value 'label_width'. Please ensure that the value "
                                             "of parameter 'label_width' (17)"),
    (_label((2, 0.1, 0.1, 0.2, 0.2)), "Class id 2 in channel 'train' (a.rec), record 3 is out of range"),
    (_label((0.5, 0.1, 0.1, 0.2, 0.2)), "Class id 0.5"),
    (_label((0, 10, 20, 110, 120)), "must be ratios of the image width and height in [0, 1]"),
    (_label((0, 0.5, 0.1, 0.2, 0.2)), "has no area"),
])
def test_bad_labels_fail_with_the_builtins_wording(label, message):
    with pytest.raises(ClientError) as err:
        check_label(label, HP, WHERE)
    assert message in str(err.value)
