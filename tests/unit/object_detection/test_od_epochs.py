"""Every epoch presents every training image exactly once: RecordIO, images + JSON annotations
and Pipe mode, one host and a host's part of several. Each image holds one box whose class id is
the image's index (the augmentation never drops an image's only box), so the classes of an
epoch's batches must be the data set, in a new order every epoch. The short last batch is
filled up (fill_batch) with images whose labels are all padding, never counted."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from algorithms.common.dataloader import fill_batch
from algorithms.object_detection import data
from container.config import TrainingEnv
from container.paths import MLPaths
from emulator.sample_data import detection_annotation, detection_image, detection_label, encode, pack_record, \
    write_recordio
from tests.jobtree import make_tree

EPOCHS = 3
SIZE = (40, 48)  # (height, width)
RECORDIO = "application/x-recordio"


class HP(dict):
    __getattr__ = dict.get


def hp_for(count: int) -> HP:
    return HP(image_shape=32, num_classes=count, label_width=350)


def indexed_set(root: Path, count: int) -> dict:
    """Image i holds one box of class i; as RecordIO and as images + JSON annotations."""
    rng = np.random.RandomState(count)
    images, annotations = root / "images", root / "annotations"
    images.mkdir(parents=True)
    annotations.mkdir()
    payloads = []
    for index in range(count):
        box = [(index, 8, 6, 36, 30)]
        encoded = encode(detection_image(box, count, SIZE, rng))
        (images / f"{index:04d}.jpg").write_bytes(encoded)
        (annotations / f"{index:04d}.json").write_text(
            json.dumps(detection_annotation(f"{index:04d}.jpg", box, SIZE, count)))
        payloads.append(pack_record(np.asarray(detection_label(box, SIZE), dtype=np.float32), encoded, index))
    write_recordio(root / "data.rec", payloads)
    return {"rec": root / "data.rec", "images": images, "annotations": annotations}


def env_for(base: Path, channels: dict) -> TrainingEnv:
    make_tree(base, {}, channels)
    return TrainingEnv.read(MLPaths(base))


def epoch_of(loader, batch: int) -> tuple[list[int], list[int]]:
    """(class ids of the real images, real images per batch) of one pass, after fill_batch."""
    classes, counts = [], []
    for images, labels in loader:
        images, labels, count = fill_batch(images, labels, batch, data.PADDING_CLASS)
        assert images.shape[0] == labels.shape[0] == batch
        labels = labels.asnumpy()
        assert (labels[count:] == data.PADDING_CLASS).all(), "the filler holds no objects"
        classes += [int(c) for c in labels[:count, 0, 0]]
        counts.append(count)
    return classes, counts


def check_epochs(ds, count: int, batch: int, part: int = 0, parts: int = 1) -> list[int]:
    loader = data.train_loader(ds, hp_for(count), batch, 0, part, parts)
    orders, seen = [], None
    for epoch in range(EPOCHS):
        classes, counts = epoch_of(loader, batch)
        if seen is None:
            seen = Counter(classes)
        assert Counter(classes) == seen, f"epoch {epoch} holds other images than epoch 0"
        assert len(set(classes)) == len(classes) and sum(counts) == len(classes)
        assert len(counts) == -(-len(classes) // batch) and all(c == batch for c in counts[:-1])
        orders.append(tuple(classes))
    if len(seen) > 2:
        assert len(set(orders)) > 1, "epochs are shuffled"
    return sorted(seen)


@pytest.mark.parametrize("count, batch", [(23, 8), (8, 8), (5, 8), (1, 4)])
def test_recordio_epochs_hold_every_image_once(tmp_path, count, batch):
    images = indexed_set(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"files": [images["rec"]], "content_type": RECORDIO}})
    ds = data.prepare(env, "train", hp_for(count), tmp_path / "work")
    assert check_epochs(ds, count, batch) == list(range(count))


def test_json_annotated_images_epochs_hold_every_image_once(tmp_path):
    count, batch = 11, 4
    images = indexed_set(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {
        "train": {"files": sorted(images["images"].iterdir()), "content_type": "image/jpeg"},
        "train_annotation": {"files": sorted(images["annotations"].iterdir()), "content_type": "application/json"}})
    ds = data.prepare(env, "train", hp_for(count), tmp_path / "work")
    assert check_epochs(ds, count, batch) == list(range(count))


def test_pipe_mode_epochs_hold_every_image_of_each_stream_once(tmp_path):
    count, batch = 7, 4
    images = indexed_set(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"content_type": RECORDIO, "mode": "Pipe"}})
    for epoch in range(EPOCHS):  # regular files stand in for the FIFOs the emulator feeds
        (tmp_path / "job" / "input" / "data" / f"train_{epoch}").write_bytes(images["rec"].read_bytes())
    channel = data.ChannelData(env, "train", hp_for(count), tmp_path / "work")
    for epoch in range(EPOCHS):
        ds = channel.next_epoch()
        assert ds.rec.name == f"train-epoch{epoch}.rec"
        classes, counts = epoch_of(data.train_loader(ds, hp_for(count), batch, 0), batch)
        assert sorted(classes) == list(range(count)) and counts == [4, 3]


@pytest.mark.parametrize("parts", [2, 3])
def test_the_parts_of_several_hosts_cover_every_image_once_per_epoch(tmp_path, parts):
    count, batch = 17, 4
    images = indexed_set(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"files": [images["rec"]], "content_type": RECORDIO}})
    ds = data.prepare(env, "train", hp_for(count), tmp_path / "work")
    seen = Counter()
    for part in range(parts):
        seen.update(check_epochs(ds, count, batch, part, parts))
    assert seen == Counter(range(count))
