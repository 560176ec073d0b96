"""Augmented-manifest labels of image classification: class ids, multi-hot, class-id lists."""
import numpy as np
import pytest

from algorithms.image_classification.pipe_input import label_format, manifest_label
from container.config import ChannelConfig
from container.errors import ClientError


class HP(dict):
    __getattr__ = dict.get


SINGLE = HP(multi_label=0, num_classes=4)
MULTI = HP(multi_label=1, num_classes=4)


def test_label_format_comes_from_the_content_type_and_defaults_to_multi_hot():
    def channel(content_type):
        return ChannelConfig("train", content_type=content_type, input_mode="Pipe", record_wrapper="RecordIO")
    assert label_format(channel("application/x-recordio")) == "multi-hot"
    assert label_format(channel("application/x-recordio; label-format=class-id")) == "class-id"
    with pytest.raises(ClientError, match="Unsupported label-format 'ids'.*allowed: multi-hot, class-id"):
        label_format(channel("application/x-recordio; label-format=ids"))


@pytest.mark.parametrize("value, expected", [(3, 3.0), ("2", 2.0), (1.0, 1.0), ([0], 0.0)])
def test_single_label_is_a_class_id(value, expected):
    assert manifest_label(value, SINGLE, "multi-hot", "line 0") == expected


@pytest.mark.parametrize("value", [[0, 1], {"class": 1}, "cat", True])
def test_single_label_rejects_other_shapes(value):
    with pytest.raises(ClientError, match="line 0: the label must be a class id"):
        manifest_label(value, SINGLE, "multi-hot", "line 0")


def test_multi_label_multi_hot_and_class_ids_give_the_same_vector():
    multi_hot = manifest_label([1, 0, 1, 0], MULTI, "multi-hot", "line 0")
    class_ids = manifest_label([0, 2], MULTI, "class-id", "line 0")
    assert multi_hot.tolist() == class_ids.tolist() == [1, 0, 1, 0]
    assert class_ids.dtype == np.float32


def test_multi_label_errors_name_the_line_and_the_format():
    with pytest.raises(ClientError, match=r"line 3: class id 4 \(label-format=class-id\) is out of range \[0, 3\]"):
        manifest_label([1, 4], MULTI, "class-id", "line 3")
    with pytest.raises(ClientError, match="multi_label=1 needs a JSON list of numbers as the label"):
        manifest_label(2, MULTI, "class-id", "line 0")
