"""Bad inputs end the job with one ClientError line in output/failure and exit code 2."""
import json

import pytest

from emulator.sample_data import detection_label, pack_record, write_recordio
from tests.functional.object_detection.conftest import base_hp, json_channels, rec_channels, run_subprocess
from tests.jobtree import make_tree


def _fail(run_od, hp, channels):
    code, tree = run_od(hp, channels)
    assert code == 2, tree.failure
    assert tree.failure is not None and tree.failure.startswith("ClientError: ") and "\n" not in tree.failure
    return tree.failure


def _rec_with_label(tmp_path, od_data, label):
    """The training set with the first record's label replaced."""
    image = sorted(od_data["train"]["images"].iterdir())[0].read_bytes()
    path = tmp_path / "bad.rec"
    write_recordio(path, [pack_record(label, image, 0)])
    return path


def test_bad_hyperparameter_through_the_container_entry(od_data, tmp_path):
    tree = make_tree(tmp_path / "job", base_hp(image_shape=256), rec_channels(od_data))
    code, log = run_subprocess(tree)
    assert code == 2
    assert tree.failure == "ClientError: Invalid value '256' for hyperparameter 'image_shape': expected an integer >= 300"
    assert "Customer Error: Invalid value '256'" in log


def test_class_id_not_below_num_classes_through_the_container_entry(od_data, tmp_path):
    tree = make_tree(tmp_path / "job", base_hp(num_classes=1), rec_channels(od_data))
    code, _ = run_subprocess(tree)
    assert code == 2
    assert tree.failure.startswith("ClientError: Class id 1 in channel 'train' (data.rec), record ")
    assert "class ids must be integers in [0, num_classes-1] = [0, 0]" in tree.failure


@pytest.mark.parametrize("label,message", [
    ([2, 5, 0, 0.1, 0.1, 0.5], "ClientError: Not enough annotation packed in the list file or the RecordIO file."),
    ([0], "ClientError: Not enough label packed in img_list or rec file."),
    ([2, 5, 0, 12, 30, 80, 90], "must be ratios of the image width and height in [0, 1]"),
    (detection_label([(0, 1, 1, 5, 5)] * 10, (10, 10)),
     "ClientError: Invalid parameter value 'label_width'. Please ensure that the value of parameter 'label_width' (50)"),
])
def test_bad_recordio_labels(run_od, od_data, tmp_path, label, message):
    channels = rec_channels(od_data)
    channels["train"]["files"] = [_rec_with_label(tmp_path, od_data, label)]
    assert message in _fail(run_od, base_hp(label_width=50, mini_batch_size=1), channels)


def test_missing_annotation_file(run_od, od_data):
    channels = json_channels(od_data)
    channels["train_annotation"]["files"] = channels["train_annotation"]["files"][1:]
    failure = _fail(run_od, base_hp(), channels)
    assert failure.startswith("ClientError: Missing annotation file for 1 image(s) in channel 'train': '00000.jpg'")


def test_annotation_with_absolute_box_outside_the_image(run_od, od_data, tmp_path):
    channels = json_channels(od_data)
    first = channels["train_annotation"]["files"][0]
    data = json.loads(first.read_text())
    data["annotations"][0]["left"] = data["image_size"][0]["width"] + 10
    broken = tmp_path / first.name
    broken.write_text(json.dumps(data))
    channels["train_annotation"]["files"] = [broken] + channels["train_annotation"]["files"][1:]
    assert "has no area inside the 120x100 image" in _fail(run_od, base_hp(), channels)


def test_fewer_images_than_mini_batch_size(run_od, od_data):
    failure = _fail(run_od, base_hp(mini_batch_size=8), rec_channels(od_data))
    assert "The number of input images must be bigger or equal to the mini_batch_size" in failure


def test_missing_channel_and_unknown_key(run_od, od_data):
    channels = rec_channels(od_data)
    del channels["validation"]
    assert "Missing required channel 'validation'" in _fail(run_od, base_hp(), channels)
    assert "Unknown hyperparameter(s) for object-detection: 'num_class'" in _fail(
        run_od, base_hp(num_class=2), rec_channels(od_data))


def test_freeze_pattern_matching_nothing_is_named(run_od, od_data):
    failure = _fail(run_od, base_hp(freeze_layer_pattern="^(conv1_|conv2_).*"), rec_channels(od_data))
    assert "hyperparameter 'freeze_layer_pattern': it matches no resnet-50 parameter" in failure
    assert "resnet50_v1_conv0_weight" in failure


def test_pretrained_weights_missing_from_the_store(run_od, od_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(tmp_path / "store"))
    failure = _fail(run_od, base_hp(use_pretrained_model=1), rec_channels(od_data))
    assert f"{tmp_path / 'store' / 'object-detection' / 'resnet50_v1.params'}, which does not exist" in failure
