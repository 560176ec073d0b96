"""Request checks, Accept negotiation and RecordIO framing shared by the three endpoints."""
import struct

import pytest

from algorithms.common.inference import (check_image_request, dense_record, media_type, negotiate, record_class,
                                         saved_settings, sniff_image)
from algorithms.object_detection.hyperparameters import SCHEMA
from container.errors import ClientError
from container.serve import RequestError

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
OD = ("application/json", "application/json;annotation=1")


def test_media_type_lowercases_and_keeps_parameters():
    assert media_type("Application/JSON; Annotation=1") == ("application/json", {"annotation": "1"})
    assert media_type(None) == ("", {})


@pytest.mark.parametrize("accept,expected", [
    (None, "application/json"), ("", "application/json"), ("*/*", "application/json"),
    ("application/json;annotation=1", "application/json;annotation=1"),
    ("application/json; annotation=1", "application/json;annotation=1"),
    ("text/csv, application/json;q=0.2", "application/json"),
    ("application/json;annotation=1;q=0.1, application/json", "application/json"),
    ("application/*", "application/json"),
])
def test_negotiate(accept, expected):
    assert negotiate(accept, OD) == expected


def test_negotiate_refuses_what_it_cannot_answer():
    with pytest.raises(RequestError) as error:
        negotiate("text/csv", OD)
    assert error.value.status == 406 and "application/json;annotation=1" in str(error.value)


def test_images_by_content_type_or_by_their_bytes():
    assert sniff_image(JPEG) == "image/jpeg" and sniff_image(PNG) == "image/png" and sniff_image(b"GIF89a") is None
    for content_type in ("image/jpeg", "image/png", "application/x-image", "IMAGE/JPEG; q=1"):
        check_image_request(b"anything", content_type)
    for body in (JPEG, PNG):
        check_image_request(body, "application/octet-stream")
        check_image_request(body, None)
    cases = [(b"", "image/jpeg", 400), (b"GIF89a", "application/octet-stream", 415), (JPEG, "text/csv", 415)]
    for body, content_type, status in cases:
        with pytest.raises(RequestError) as error:
            check_image_request(body, content_type)
        assert error.value.status == status


def test_dense_record_is_one_padded_recordio_record_of_a_record_message():
    import numpy as np

    framed = dense_record({"target": np.array([0.25, 0.75, 0.5], dtype=np.float32),
                           "shape": np.array([1, 3, 1, 1], dtype=np.int32)})
    magic, length = struct.unpack_from("<II", framed)
    assert magic == 0xCED7230A and len(framed) == 8 + length + (-length % 4) and len(framed) % 4 == 0
    record = record_class()()
    record.ParseFromString(framed[8:8 + length])
    assert list(record.features["target"].float32_tensor.values) == [0.25, 0.75, 0.5]
    assert list(record.features["shape"].int32_tensor.values) == [1, 3, 1, 1]
    assert record.features["target"].WhichOneof("value") == "float32_tensor"


def test_saved_settings_parse_known_keys_and_default_the_rest():
    values = saved_settings(SCHEMA, {"num_classes": "3", "image_shape": "512", "some_builtin_key": "x"},
                            ("num_classes", "image_shape", "nms_topk"), "m")
    assert values == {"num_classes": 3, "image_shape": 512, "nms_topk": 400}
    with pytest.raises(ClientError, match="has no 'num_classes'"):
        saved_settings(SCHEMA, {}, ("num_classes",), "m")
