"""An image channel given as an S3Prefix without a trailing slash (`s3://b/p/train`) also holds the
sibling prefix `p/train_annotation/` (docs/emulator.md, S3 prefix semantics): object detection
reads only the images of its image channel, so the JSON files beside them change nothing."""
import shutil

from algorithms.object_detection.annotations import list_entries
from emulator.sample_data import make_detection_set


def test_annotations_beside_the_images_are_not_read_from_the_image_channel(tmp_path):
    data = make_detection_set(tmp_path / "set", num_classes=2, num_images=3, seed=4)
    channel = tmp_path / "input" / "data" / "train"
    shutil.copytree(data["images"], channel)
    shutil.copytree(data["annotations"], channel / "train_annotation")  # what the sibling prefix stages
    entries = list_entries(channel, "train", data["annotations"], "train_annotation")
    assert [e.path for e in entries] == ["00000.jpg", "00001.jpg", "00002.jpg"]
