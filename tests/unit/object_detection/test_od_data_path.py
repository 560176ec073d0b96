"""Both input formats reach the same checked records; augmentation moves boxes with the pixels."""
import random

import numpy as np
import pytest

from algorithms.object_detection import data
from algorithms.object_detection.hyperparameters import SCHEMA
from container.config import TrainingEnv
from container.paths import MLPaths
from emulator.sample_data import make_detection_set
from tests.jobtree import make_tree

HP = SCHEMA.parse({"num_classes": "3", "num_training_samples": "6"})


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return make_detection_set(tmp_path_factory.mktemp("od") / "set", 3, 6, size=(90, 120), max_objects=2, seed=3)


def _prepare(tmp_path, channels):
    tree = make_tree(tmp_path / "job", {}, channels)
    env = TrainingEnv.read(MLPaths(tree.base))
    return data.prepare(env, "train", HP, tmp_path / "work")


def _records(ds):
    dataset = data.RecordDataset(ds)
    return [dataset[i] for i in range(len(dataset))]


def test_json_annotations_pack_to_the_same_records_as_recordio(sample, tmp_path):
    from_rec = _prepare(tmp_path / "rec", {"train": {"files": [sample["rec"]], "content_type": "application/x-recordio"}})
    from_json = _prepare(tmp_path / "json", {
        "train": {"files": sorted(sample["images"].iterdir()), "content_type": "image/jpeg"},
        "train_annotation": {"files": sorted(sample["annotations"].iterdir()), "content_type": "image/jpeg"}})
    assert from_rec.count == from_json.count == 6
    assert from_rec.objects_per_class == from_json.objects_per_class
    for (image_a, objects_a), (image_b, objects_b) in zip(_records(from_rec), _records(from_json)):
        assert image_a.shape == image_b.shape == (90, 120, 3)
        assert np.allclose(objects_a, objects_b, atol=1e-6)


def test_channels_without_content_type_are_told_apart_by_the_annotation_channel(sample, tmp_path):
    ds = _prepare(tmp_path, {"train": {"files": sorted(sample["images"].iterdir())},
                             "train_annotation": {"files": sorted(sample["annotations"].iterdir())}})
    assert ds.count == 6


def test_images_without_their_annotation_channel_fail_clearly(sample, tmp_path):
    with pytest.raises(Exception, match="channel 'train_annotation' with their JSON annotations is missing"):
        _prepare(tmp_path, {"train": {"files": sorted(sample["images"].iterdir()), "content_type": "image/png"}})


def _colour_inside(image_chw, box, side):
    xmin, ymin, xmax, ymax = (np.array(box) * side).round().astype(int)
    # The centre half of the box: away from edges blurred by resizing.
    w, h = xmax - xmin, ymax - ymin
    patch = image_chw[:, ymin + h // 4:ymax - h // 4, xmin + w // 4:xmax - w // 4]
    return patch.reshape(3, -1).mean(axis=1)


def test_augmented_boxes_still_frame_their_objects(sample, tmp_path):
    ds = _prepare(tmp_path, {"train": {"files": [sample["rec"]], "content_type": "application/x-recordio"}})
    transform, side = data.TrainTransform(300), 300
    np.random.seed(0)
    random.seed(0)  # GluonCV's crop and hue jitter draw from both generators
    checked = 0
    for image, objects in _records(ds) * 4:
        pixels, label = transform(image, objects)
        assert pixels.shape == (3, side, side) and pixels.dtype == np.float32
        assert label.shape[1] == 5 and label[:, 1:].min() >= 0 and label[:, 1:].max() <= 1
        for cls, *box in label:
            if cls < 0 or min(box[2] - box[0], box[3] - box[1]) * side < 16:
                continue
            # Colour jitter shifts every colour, but an object's stays far from the grey background.
            colour = _colour_inside(pixels.asnumpy(), box, side)
            assert np.abs(colour - 110).mean() > 15, (cls, box, colour)
            checked += 1
    assert checked >= 10


def test_validation_transform_is_the_inference_preprocessing(sample, tmp_path):
    from algorithms.object_detection.preprocess import to_network_input

    ds = _prepare(tmp_path, {"train": {"files": [sample["rec"]], "content_type": "application/x-recordio"}})
    image, objects = data.RecordDataset(ds)[0]
    pixels, label, size = data.ValidationTransform(300)(image, objects)
    assert np.array_equal(pixels, to_network_input(image.asnumpy(), 300)[0])
    assert np.array_equal(label, objects) and size.tolist() == [120, 90]


@pytest.mark.parametrize("workers", [0, 2])
def test_loaders_batch_images_and_padded_labels(sample, tmp_path, workers):
    ds = _prepare(tmp_path, {"train": {"files": [sample["rec"]], "content_type": "application/x-recordio"}})
    hp = SCHEMA.parse({"num_classes": "3", "num_training_samples": "6"})
    batches = list(data.train_loader(ds, hp, 4, workers))
    # 6 images: one full batch and the short rest (filled up by the training loop), none rolled over
    assert [b[0].shape for b in batches] == [(4, 3, 300, 300), (2, 3, 300, 300)]
    labels = batches[0][1].asnumpy()
    assert labels.ndim == 3 and labels.shape[2] == 5 and labels.shape[1] >= 1
    assert set(np.unique(labels[:, :, 0])) <= {-1.0, 0.0, 1.0, 2.0}
    images, labels, sizes = next(iter(data.validation_loader(ds, hp, 4, workers)))
    assert images.shape == (4, 3, 300, 300) and sizes.asnumpy().tolist() == [[120, 90]] * 4
    half = list(data.train_loader(ds, hp, 3, workers, part_index=1, num_parts=2))
    assert [b[0].shape[0] for b in half] == [3]  # this host's shard: 3 of the 6 images
