"""Every epoch presents every training image exactly once: RecordIO and .lst images, File and
Pipe mode, one host and a worker's part of several. Each image's label is its own index (one
image per class), so the labels of an epoch's batches (without the filler `pad` counts) must be
the data set, in a new order every epoch."""
from collections import Counter
from pathlib import Path

import pytest

from algorithms.image_classification import data
from container.config import TrainingEnv
from container.paths import MLPaths
from emulator.sample_data import make_classification_set
from tests.jobtree import make_tree

EPOCHS = 3
RECORDIO = "application/x-recordio"


class HP(dict):
    __getattr__ = dict.get


def hp_for(count: int, batch: int) -> HP:
    return HP(image_shape=(3, 28, 28), num_classes=count, multi_label=0, resize=None,
              augmentation_type=None, mini_batch_size=batch)


def one_image_per_class(root: Path, count: int) -> dict:
    return make_classification_set(root, count, 1, size=(32, 32), seed=count)


def env_for(base: Path, channels: dict) -> TrainingEnv:
    make_tree(base, {}, channels)
    return TrainingEnv.read(MLPaths(base))


def epoch_of(iterator, batch: int) -> tuple[list[int], list[int]]:
    """(labels of the real samples, pads) of one pass over `iterator`."""
    labels, pads = [], []
    for b in iterator:
        assert b.data[0].shape[0] == batch
        labels += [int(v) for v in b.label[0].asnumpy()[:batch - b.pad]]
        pads.append(b.pad)
    return labels, pads


def check_epochs(ds: data.DataSet, hp: HP, count: int, batch: int) -> list[list[int]]:
    orders = []
    for epoch in range(EPOCHS):
        labels, pads = epoch_of(data.train_iterator(ds, hp, batch, 2, epoch), batch)
        assert Counter(labels) == Counter(range(count)), f"epoch {epoch}"
        assert len(pads) == -(-count // batch)
        assert pads[:-1] == [0] * (len(pads) - 1) and pads[-1] == len(pads) * batch - count
        orders.append(labels)
    assert len({tuple(o) for o in orders}) == EPOCHS, "each epoch has its own order"
    return orders


@pytest.mark.parametrize("count, batch", [(37, 8), (8, 8), (9, 8), (13, 13), (1, 1), (641, 256)])
def test_recordio_epochs_hold_every_image_once(tmp_path, count, batch):
    images = one_image_per_class(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"files": [images["rec"]], "content_type": RECORDIO}})
    ds = data.prepare(env, "train", hp_for(count, batch), tmp_path / "work")
    assert ds.count == count
    if count == 1:
        # One image cannot be shuffled into a new order: only the count is checked.
        assert epoch_of(data.train_iterator(ds, hp_for(1, 1), 1, 2, 0), 1) == ([0], [0])
        return
    check_epochs(ds, hp_for(count, batch), count, batch)


# application/jpeg: what the public .lst-format notebook sends on all four channels.
@pytest.mark.parametrize("content_type", ["application/x-image", "application/jpeg"])
def test_lst_images_epochs_hold_every_image_once(tmp_path, content_type):
    count, batch = 23, 8
    images = one_image_per_class(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {
        "train": {"files": sorted(images["images"].iterdir()), "content_type": content_type},
        "train_lst": {"files": [images["lst"]], "content_type": content_type}})
    ds = data.prepare(env, "train", hp_for(count, batch), tmp_path / "work")
    check_epochs(ds, hp_for(count, batch), count, batch)


def test_pipe_mode_epochs_hold_every_image_of_each_stream_once(tmp_path):
    count, batch = 19, 4
    images = one_image_per_class(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"content_type": RECORDIO, "mode": "Pipe"}})
    for epoch in range(EPOCHS):  # regular files stand in for the FIFOs the emulator feeds
        (tmp_path / "job" / "input" / "data" / f"train_{epoch}").write_bytes(images["rec"].read_bytes())
    hp = hp_for(count, batch)
    channel = data.ChannelData(env, "train", hp, tmp_path / "work")
    orders = []
    for epoch in range(EPOCHS):
        ds = channel.next_epoch()
        assert ds.rec.name == f"train-epoch{epoch}.rec"
        labels, pads = epoch_of(data.train_iterator(ds, hp, batch, 2, epoch), batch)
        assert Counter(labels) == Counter(range(count)) and len(pads) == 5 and pads[-1] == 1
        orders.append(tuple(labels))
    assert len(set(orders)) == EPOCHS


@pytest.mark.parametrize("parts", [2, 3])
def test_the_parts_of_several_hosts_cover_every_image_once_per_epoch(tmp_path, parts):
    count, batch = 41, 4
    images = one_image_per_class(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"train": {"files": [images["rec"]], "content_type": RECORDIO}})
    hp = hp_for(count, batch)
    ds = data.prepare(env, "train", hp, tmp_path / "work")
    for epoch in range(EPOCHS):
        seen, batches = Counter(), []
        for part in range(parts):
            labels, pads = epoch_of(data.train_iterator(ds, hp, batch, 2, epoch, part, parts), batch)
            seen.update(labels)
            batches.append(len(pads))
            assert len(pads) == -(-len(labels) // batch)
        assert seen == Counter(range(count)), f"epoch {epoch}"
        # FullyReplicated parts differ by at most one image, so by at most one batch.
        assert max(batches) - min(batches) <= 1


def test_validation_passes_hold_every_image_once_in_order(tmp_path):
    count, batch = 29, 8
    images = one_image_per_class(tmp_path / "data", count)
    env = env_for(tmp_path / "job", {"validation": {"files": [images["rec"]], "content_type": RECORDIO}})
    hp = hp_for(count, batch)
    ds = data.prepare(env, "validation", hp, tmp_path / "work")
    first = epoch_of(data.validation_iterator(ds, hp, batch, 2), batch)
    assert sorted(first[0]) == list(range(count)) and first[1][-1] == 3
    assert epoch_of(data.validation_iterator(ds, hp, batch, 2), batch) == first
