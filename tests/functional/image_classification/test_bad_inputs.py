"""Every bad input ends the job with one clear ClientError line in output/failure and exit != 0."""




from emulator.sample_data import pack_record, write_recordio
from tests.functional.image_classification.conftest import base_hp, rec_channels


def _fail(run_ic, hp, channels):
    code, tree = run_ic(hp, channels)
    assert code != 0
    assert tree.failure is not None and tree.failure.startswith("ClientError: "), tree.failure
    assert "\n" not in tree.failure
    return tree.failure


def test_corrupt_recordio(run_ic, ic_data, tmp_path):
    bad = tmp_path / "bad.rec"
    bad.write_bytes(ic_data["train"]["rec"].read_bytes()[:100] + b"garbage" * 50)
    channels = rec_channels(ic_data)
    channels["train"]["files"] = [bad]
    assert "Corrupt RecordIO file bad.rec" in _fail(run_ic, base_hp(), channels)


def test_missing_validation_channel(run_ic, ic_data):
    channels = rec_channels(ic_data)
    del channels["validation"]
    assert "Missing required channel 'validation'" in _fail(run_ic, base_hp(), channels)


def test_label_not_below_num_classes(run_ic, ic_data):
    failure = _fail(run_ic, base_hp(num_classes=3), rec_channels(ic_data))
    assert "Label 3 in channel" in failure and "[0, 2]" in failure


def test_fewer_images_than_mini_batch_size(run_ic, ic_data):
    failure = _fail(run_ic, base_hp(mini_batch_size=32), rec_channels(ic_data))
    assert "The number of input images must be bigger or equal to the mini_batch_size" in failure
    assert "'validation' has 16 images" in failure


def test_image_smaller_than_image_shape(run_ic, ic_data):
    failure = _fail(run_ic, base_hp(image_shape="3,40,40"), rec_channels(ic_data))
    assert "smaller than image_shape 40x40" in failure


def test_unknown_hyperparameter(run_ic, ic_data):
    failure = _fail(run_ic, base_hp(mini_batch_siz=8), rec_channels(ic_data))
    assert "Unknown hyperparameter(s) for image-classification: 'mini_batch_siz'" in failure


def test_missing_required_hyperparameter(run_ic, ic_data):
    hp = base_hp()
    del hp["num_classes"]
    assert "Missing required hyperparameter(s) for image-classification: num_classes" in _fail(
        run_ic, hp, rec_channels(ic_data))


def test_bad_hyperparameter_value(run_ic, ic_data):
    failure = _fail(run_ic, base_hp(optimizer="adagrad"), rec_channels(ic_data))
    assert failure == ("ClientError: Invalid value 'adagrad' for hyperparameter 'optimizer': expected one of "
                       "sgd, adam, rmsprop, nag")


def test_lst_channel_missing_for_image_input(run_ic, ic_data):
    channels = {
        "train": {"files": [ic_data["train"]["images"]], "content_type": "application/x-image"},
        "validation": {"files": [ic_data["validation"]["images"]], "content_type": "application/x-image"},
    }
    assert "channel 'train_lst' with its .lst file is missing" in _fail(run_ic, base_hp(resize=32), channels)


def test_lst_lists_a_missing_image(run_ic, ic_data, tmp_path):
    lst = tmp_path / "train.lst"
    lst.write_text("0\t1\timages/nope.jpg\n")
    channels = {
        "train": {"files": [ic_data["train"]["images"]], "content_type": "application/x-image"},
        "validation": {"files": [ic_data["validation"]["images"]], "content_type": "application/x-image"},
        "train_lst": {"files": [lst]},
        "validation_lst": {"files": [ic_data["validation"]["lst"]]},
    }
    assert "train.lst lists 'images/nope.jpg', which is not in the channel" in _fail(
        run_ic, base_hp(resize=32), channels)


def test_multi_label_width_mismatch(run_ic, ic_data):
    failure = _fail(run_ic, base_hp(multi_label=1), rec_channels(ic_data))
    assert ("Mismatch between number of labels in the multi-label data (1) and the num_classes parameter (4)"
            in failure)


def test_undecodable_image_in_recordio(run_ic, ic_data, tmp_path):
    bad = tmp_path / "train.rec"
    write_recordio(bad, [pack_record(0, b"not an image at all", i) for i in range(20)])
    channels = rec_channels(ic_data)
    channels["train"]["files"] = [bad]
    assert "Cannot decode the image in channel 'train'" in _fail(run_ic, base_hp(), channels)


def test_model_channel_without_a_model(run_ic, ic_data, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    channels = rec_channels(ic_data)
    channels["model"] = {"files": [junk], "content_type": "application/x-sagemaker-model"}
    assert "does not hold an image-classification model" in _fail(run_ic, base_hp(), channels)


def test_unsupported_content_type(run_ic, ic_data):
    channels = rec_channels(ic_data)
    channels["train"]["content_type"] = "text/csv"
    assert "Unsupported ContentType 'text/csv' for channel 'train'" in _fail(run_ic, base_hp(), channels)


def test_empty_channel(run_ic, ic_data, tmp_path):
    channels = rec_channels(ic_data)
    channels["train"]["files"] = []
    assert "No .rec file found in channel 'train'" in _fail(run_ic, base_hp(), channels)


def test_grayscale_network_on_rgb_data_is_fine_but_bad_shape_text_is_not(run_ic, ic_data):
    assert "Invalid value '3,28' for hyperparameter 'image_shape'" in _fail(
        run_ic, base_hp(image_shape="3,28"), rec_channels(ic_data))


