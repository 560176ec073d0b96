"""Bad inputs end `python -m container train` with exit code 2 and one ClientError line in
output/failure, before any training."""
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.functional.semantic_segmentation.conftest import base_hp, channels, run_subprocess
from tests.jobtree import make_tree


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _masks_with(tmp_path, ss_data, name, content):
    """The training masks, with `name` replaced by `content` (bytes) or removed (None)."""
    target = tmp_path / "masks"
    shutil.copytree(ss_data["train"]["annotations"], target)
    if content is None:
        (target / name).unlink()
    else:
        (target / name).write_bytes(content)
    return sorted(target.iterdir())


def _fail(tmp_path, hp, chans):
    tree = make_tree(tmp_path / "job", hp, chans)
    code, log = run_subprocess(tree, timeout=300)
    assert code == 2, log[-2000:]
    failure = tree.failure
    assert failure is not None and failure.startswith("ClientError: ") and "\n" not in failure
    assert f"Customer Error: {failure[len('ClientError: '):]}" in log
    assert not any(tree.model.iterdir())  # nothing half-written
    return failure


def _with_train_masks(ss_data, masks):
    chans = channels(ss_data)
    chans["train_annotation"] = {"files": masks}
    return chans


def test_rgb_mask(tmp_path, ss_data):
    mask = ss_data["train"]["masks"]["00001"]
    masks = _masks_with(tmp_path, ss_data, "00001.png", _png(np.stack([mask] * 3, axis=-1)))
    failure = _fail(tmp_path, base_hp(), _with_train_masks(ss_data, masks))
    assert failure.startswith("ClientError: Mask 00001.png in channel 'train_annotation' is an RGB/colour image")


def test_mask_of_the_wrong_size(tmp_path, ss_data):
    mask = ss_data["train"]["masks"]["00002"]
    masks = _masks_with(tmp_path, ss_data, "00002.png", _png(mask[:40].copy()))
    failure = _fail(tmp_path, base_hp(), _with_train_masks(ss_data, masks))
    assert failure == ("ClientError: Mask 00002.png in channel 'train_annotation' is 64x40 (WxH) but image 00002.jpg "
                       "in channel 'train' is 64x48; a mask must have its image's size")


def test_image_without_a_mask(tmp_path, ss_data):
    masks = _masks_with(tmp_path, ss_data, "00003.png", None)
    failure = _fail(tmp_path, base_hp(), _with_train_masks(ss_data, masks))
    assert failure == ("ClientError: 1 image(s) in channel 'train' have no mask with the same base name (<name>.png) "
                       "in channel 'train_annotation': 00003.jpg")


def test_mask_without_an_image(tmp_path, ss_data):
    chans = channels(ss_data)
    chans["validation"]["files"] = chans["validation"]["files"][1:]
    failure = _fail(tmp_path, base_hp(), chans)
    assert failure == ("ClientError: 1 mask(s) in channel 'validation_annotation' have no image with the same base "
                       "name in channel 'validation': 00000.png")


def test_class_id_beyond_num_classes(tmp_path, ss_data):
    mask = ss_data["train"]["masks"]["00000"].copy()
    mask[0, 0] = 3
    masks = _masks_with(tmp_path, ss_data, "00000.png", _png(mask))
    failure = _fail(tmp_path, base_hp(num_classes=3), _with_train_masks(ss_data, masks))
    assert failure == ("ClientError: Mask 00000.png in channel 'train_annotation' holds class id(s) 3, but "
                       "num_classes is 3: class ids must be in [0, 2] or 255 (ignore)")


@pytest.mark.parametrize("text,expected", [
    ('{"scale": 3', "ClientError: Label map train_label_map.json is not valid JSON: "),
    ('{"divide": 3}', 'ClientError: Label map train_label_map.json must be a JSON object with either "scale"'),
])
def test_malformed_label_map(tmp_path, ss_data, text, expected):
    label_map = tmp_path / "train_label_map.json"
    label_map.write_text(text)
    failure = _fail(tmp_path, base_hp(), channels(ss_data, label_maps=[label_map]))
    assert failure.startswith(expected)


def test_too_few_images_for_the_batch(tmp_path, ss_data):
    failure = _fail(tmp_path, base_hp(mini_batch_size=16), channels(ss_data))
    assert failure == ("ClientError: The number of training images must be at least mini_batch_size: channel "
                       "'train' has 4 images, mini_batch_size is 16")


def test_bad_hyperparameter(tmp_path, ss_data):
    failure = _fail(tmp_path, base_hp(algorithm="unet"), channels(ss_data))
    assert failure == "ClientError: Invalid value 'unet' for hyperparameter 'algorithm': expected one of fcn, psp, deeplab"


def test_label_map_makes_encoded_masks_readable(tmp_path, ss_data, run_ss, caplog):
    """The counterpart of the failures: masks written as id × 3 train with {"scale": 3}."""
    from emulator.sample_data import make_segmentation_set

    scaled = make_segmentation_set(tmp_path / "scaled", 3, 4, size=(48, 64), label_map={"scale": 3}, seed=5)
    chans = channels(ss_data)
    chans["train"]["files"] = sorted(scaled["images"].iterdir())
    chans["train_annotation"]["files"] = sorted(scaled["annotations"].iterdir())
    label_map = tmp_path / "train_label_map.json"
    label_map.write_text(json.dumps({"scale": "3"}))
    chans["label_map"] = {"files": [label_map]}
    code, tree = run_ss(base_hp(), chans)
    assert code == 0, tree.failure
    assert "Channel 'train' uses label map train_label_map.json (scale 3)" in caplog.text
