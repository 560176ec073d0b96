"""Every epoch presents every training image exactly once: images + PNG masks in File mode and
augmented manifests in Pipe mode. Image i's mask is class i everywhere (a crop always keeps some
of it), so the classes of an epoch's batches must be the data set, in a new order every epoch;
the filler of the short last batch is all 'ignore' and never counted."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from algorithms.common.dataloader import fill_batch
from algorithms.semantic_segmentation import data, pipe_input
from algorithms.semantic_segmentation.label_map import identity
from container.config import TrainingEnv
from container.paths import MLPaths
from emulator.sample_data import encode, encode_mask, write_recordio
from tests.jobtree import make_tree

EPOCHS = 3
SIZE = (24, 30)


class HP(dict):
    __getattr__ = dict.get


def hp_for(batch: int) -> HP:
    return HP(base_size=24, crop_size=16, mini_batch_size=batch)


def indexed_set(root: Path, count: int) -> dict:
    rng = np.random.RandomState(count)
    images, masks = root / "images", root / "annotations"
    images.mkdir(parents=True)
    masks.mkdir()
    for index in range(count):
        (images / f"{index:04d}.jpg").write_bytes(encode(rng.randint(0, 255, SIZE + (3,)).astype(np.uint8)))
        (masks / f"{index:04d}.png").write_bytes(encode_mask(np.full(SIZE, index, dtype=np.uint8), mode="L"))
    return {"images": images, "masks": masks}


def env_for(base: Path, channels: dict) -> TrainingEnv:
    make_tree(base, {}, channels)
    return TrainingEnv.read(MLPaths(base))


def epoch_of(loader, batch: int) -> tuple[list[int], list[int]]:
    classes, counts = [], []
    for images, labels in loader:
        images, labels, count = fill_batch(images, labels, batch, data.LOSS_IGNORE)
        assert images.shape[0] == batch
        labels = labels.asnumpy()
        assert (labels[count:] == data.LOSS_IGNORE).all()
        for mask in labels[:count]:
            present = set(np.unique(mask)) - {data.LOSS_IGNORE}
            assert len(present) == 1
            classes.append(int(present.pop()))
        counts.append(count)
    return classes, counts


def check_epochs(ds, count: int, batch: int):
    loader = data.train_loader(ds, hp_for(batch), 0)
    orders = []
    for epoch in range(EPOCHS):
        classes, counts = epoch_of(loader, batch)
        assert Counter(classes) == Counter(range(count)), f"epoch {epoch}"
        assert len(counts) == -(-count // batch) and all(c == batch for c in counts[:-1])
        orders.append(tuple(classes))
    assert len(set(orders)) > 1


@pytest.mark.parametrize("count, batch", [(13, 4), (4, 4), (3, 2)])
def test_file_mode_epochs_hold_every_image_once(tmp_path, count, batch):
    images = indexed_set(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {
        "train": {"files": sorted(images["images"].iterdir()), "content_type": "image/jpeg"},
        "train_annotation": {"files": sorted(images["masks"].iterdir()), "content_type": "image/png"}})
    ds = data.prepare(env, "train", identity(), count)
    check_epochs(ds, count, batch)


def test_pipe_mode_epochs_hold_every_image_of_each_stream_once(tmp_path):
    count, batch = 5, 2
    images = indexed_set(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"content_type": "application/x-recordio", "mode": "Pipe"}})
    config = json.loads((tmp_path / "job/input/config/inputdataconfig.json").read_text())
    config["train"].update(RecordWrapperType="RecordIO", S3DataType="AugmentedManifestFile",
                           AttributeNames=["source-ref", "mask-ref"])
    (tmp_path / "job/input/config/inputdataconfig.json").write_text(json.dumps(config))
    env = TrainingEnv.read(MLPaths(tmp_path / "job"))
    records = []
    for index in range(count):  # each manifest line streams its image, then its mask
        records += [(images["images"] / f"{index:04d}.jpg").read_bytes(),
                    (images["masks"] / f"{index:04d}.png").read_bytes()]
    for epoch in range(EPOCHS):  # regular files stand in for the FIFOs the emulator feeds
        write_recordio(tmp_path / "job" / "input" / "data" / f"train_{epoch}", records)
    channel = pipe_input.ChannelData(env, "train", identity(), count, tmp_path / "work")
    for epoch in range(EPOCHS):
        classes, counts = epoch_of(data.train_loader(channel.next_epoch(), hp_for(batch), 0), batch)
        assert sorted(classes) == list(range(count)) and counts == [2, 2, 1]
