import json

import numpy as np
import pytest

from algorithms.semantic_segmentation import label_map
from container.config import TrainingEnv
from container.errors import ClientError
from container.paths import MLPaths
from tests.jobtree import make_tree

PIXELS = np.array([0, 2, 3, 5, 6, 8, 255], dtype=np.uint8)


def test_scale_divides_and_floors_and_keeps_255_as_ignore():
    mapped = label_map.parse('{"scale": "3"}', "train_label_map.json").apply(PIXELS)
    assert mapped.tolist() == [0, 0, 1, 1, 2, 2, 255]
    assert label_map.parse('{"scale": 1}', "x").apply(PIXELS).tolist() == PIXELS.tolist()


def test_map_reads_the_documented_example():
    lm = label_map.parse('{"map": {"0": 5, "1": 0, "2": 2}}', "validation_label_map.json")
    assert lm.apply(np.array([0, 5, 2, 255], dtype=np.uint8)).tolist() == [1, 0, 2, 255]
    assert lm.apply(np.array([7], dtype=np.uint8)).tolist() == [label_map.UNMAPPED]
    assert lm.max_class() == 2 and lm.kind == "map"


def test_map_may_assign_255_to_a_class():
    lm = label_map.parse('{"map": {"0": 0, "1": 255}}', "x")
    assert lm.apply(np.array([0, 255], dtype=np.uint8)).tolist() == [0, 1]


@pytest.mark.parametrize("text,expected", [
    ("{not json", "is not valid JSON"),
    ('["scale", 3]', 'either "scale"'),
    ('{"scale": 3, "map": {"0": 1}}', 'either "scale"'),
    ('{"scales": 3}', 'either "scale"'),
    ('{"scale": 0}', '"scale" must be a positive number'),
    ('{"scale": "three"}', '"scale" must be a positive number'),
    ('{"map": []}', '"map" must be a non-empty object'),
    ('{"map": {"a": 1}}', "class id 'a' must be an integer in [0, 254]"),
    ('{"map": {"255": 1}}', "class id '255' must be an integer in [0, 254]"),
    ('{"map": {"0": 256}}', "pixel value 256 for class 0 must be an integer in [0, 255]"),
    ('{"map": {"0": 4, "1": 4}}', "pixel value 4 is mapped to both class 0 and class 1"),
])
def test_malformed_label_maps_are_client_errors_naming_the_file(text, expected):
    with pytest.raises(ClientError) as err:
        label_map.parse(text, "train_label_map.json")
    assert "train_label_map.json" in str(err.value) and expected in str(err.value)


def test_a_map_to_classes_beyond_num_classes_is_refused():
    lm = label_map.parse('{"map": {"0": 0, "4": 40}}', "train_label_map.json")
    label_map.check_classes(lm, 5)
    with pytest.raises(ClientError, match="maps to class 4, but num_classes is 3"):
        label_map.check_classes(lm, 3)


def _env(tmp_path, files: dict[str, str] | None):
    channels = {}
    if files is not None:
        source = tmp_path / "maps"
        source.mkdir()
        for name, text in files.items():
            (source / name).write_text(text)
        channels["label_map"] = {"files": sorted(source.iterdir())}
    tree = make_tree(tmp_path / "job", {}, channels)
    return TrainingEnv.read(MLPaths(tree.base))


def test_channels_without_a_label_map_use_pixel_values(tmp_path):
    maps = label_map.read_label_maps(_env(tmp_path, None))
    assert all(m.kind == "identity" for m in maps.values())


def test_each_channel_gets_its_own_file(tmp_path):
    maps = label_map.read_label_maps(_env(tmp_path, {"train_label_map.json": json.dumps({"scale": "3"})}))
    assert maps["train"].kind == "scale" and maps["validation"].kind == "identity"


def test_a_label_map_channel_without_the_expected_files_is_an_error(tmp_path):
    with pytest.raises(ClientError, match="must hold train_label_map.json and/or validation_label_map.json; "
                                          r"found \['label_map.json'\]"):
        label_map.read_label_maps(_env(tmp_path, {"label_map.json": "{}"}))
