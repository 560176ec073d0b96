"""Pairing and up-front checks of images and masks, augmentation geometry, loader fallback."""
import io
import logging
import multiprocessing
import os
import signal
import threading
import time

import numpy as np
import pytest
from PIL import Image

from algorithms.common import dataloader
from algorithms.semantic_segmentation import data, label_map
from algorithms.semantic_segmentation.preprocess import centre_crop
from container.config import TrainingEnv
from container.errors import ClientError
from container.paths import MLPaths
from container.stop import StopSignal
from emulator.sample_data import encode_mask, make_segmentation_set
from tests.jobtree import make_tree

NUM_CLASSES = 3


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return make_segmentation_set(tmp_path_factory.mktemp("ss") / "set", NUM_CLASSES, 3, size=(20, 28), seed=3)


def _env(tmp_path, images, masks, extra=None):
    channels = {"train": {"files": images}, "train_annotation": {"files": masks}}
    channels.update(extra or {})
    tree = make_tree(tmp_path / "job", {}, channels)
    return TrainingEnv.read(MLPaths(tree.base))


def _prepare(tmp_path, sample, replace=None, drop_image=None, drop_mask=None, lm=None, num_classes=NUM_CLASSES):
    """The sample set as channel 'train', with one mask replaced by `replace` bytes."""
    images = [p for p in sorted(sample["images"].iterdir()) if p.stem != drop_image]
    masks = [p for p in sorted(sample["annotations"].iterdir()) if p.stem != drop_mask]
    if replace is not None:
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "00001.png").write_bytes(replace)
        masks = [bad / "00001.png" if p.stem == "00001" else p for p in masks]
    env = _env(tmp_path, images, masks)
    return data.prepare(env, "train", lm or label_map.identity(), num_classes)


def _png(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_good_set_counts_labelled_pixels(tmp_path, sample):
    ds = _prepare(tmp_path, sample)
    assert ds.count == 3 and [s.image.stem for s in ds.samples] == ["00000", "00001", "00002"]
    expected = sum(np.bincount(m[m != 255], minlength=NUM_CLASSES) for m in sample["masks"].values())
    assert ds.class_pixels.tolist() == expected.tolist()


def test_palette_and_grayscale_masks_read_as_the_same_class_ids(sample):
    mask = sample["masks"]["00000"]
    for mode in ("P", "L"):
        path = sample["annotations"].parent / f"m-{mode}.png"
        path.write_bytes(encode_mask(mask, mode))
        assert np.array_equal(data.read_mask(path, "channel 'train_annotation'"), mask)


def test_rgb_mask(tmp_path, sample):
    rgb = np.stack([sample["masks"]["00001"]] * 3, axis=-1)
    with pytest.raises(ClientError, match="Mask 00001.png in channel 'train_annotation' is an RGB/colour image; "
                                          "masks must be single-channel 8-bit PNGs"):
        _prepare(tmp_path, sample, replace=_png(rgb))


def test_16_bit_mask(tmp_path, sample):
    wide = sample["masks"]["00001"].astype(np.uint16) * 300
    with pytest.raises(ClientError, match="is a mode-I;16 image"):
        _prepare(tmp_path, sample, replace=_png(wide))


def test_mask_that_is_not_a_png(tmp_path, sample):
    buffer = io.BytesIO()
    Image.fromarray(sample["masks"]["00001"]).save(buffer, format="JPEG")
    with pytest.raises(ClientError, match="Mask 00001.png in channel 'train_annotation' is a JPEG file"):
        _prepare(tmp_path, sample, replace=buffer.getvalue())


def test_mask_of_another_size(tmp_path, sample):
    with pytest.raises(ClientError, match=r"Mask 00001.png in channel 'train_annotation' is 27x20 \(WxH\) but image "
                                          r"00001.jpg in channel 'train' is 28x20"):
        _prepare(tmp_path, sample, replace=_png(sample["masks"]["00001"][:, :27].copy()))


def test_image_without_mask_and_mask_without_image(tmp_path, sample):
    with pytest.raises(ClientError, match="1 image.s. in channel 'train' have no mask .* in channel "
                                          "'train_annotation': 00002.jpg"):
        _prepare(tmp_path / "a", sample, drop_mask="00002")
    with pytest.raises(ClientError, match="1 mask.s. in channel 'train_annotation' have no image .* 00000.png"):
        _prepare(tmp_path / "b", sample, drop_image="00000")


def test_class_ids_beyond_num_classes(tmp_path, sample):
    mask = sample["masks"]["00001"].copy()
    mask[0, :2] = [3, 7]
    with pytest.raises(ClientError, match=r"holds class id\(s\) 3, 7, but num_classes is 3: class ids must be in "
                                          r"\[0, 2\] or 255 \(ignore\)"):
        _prepare(tmp_path, sample, replace=_png(mask))


def test_values_a_label_map_does_not_cover(tmp_path, sample):
    lm = label_map.parse('{"map": {"0": 0, "1": 1}}', "train_label_map.json")
    with pytest.raises(ClientError, match=r"holds pixel value\(s\) 2 that label map train_label_map.json \(map\) "
                                          r"does not map"):
        _prepare(tmp_path, sample, lm=lm)


def test_scaled_values_are_checked_after_the_label_map(tmp_path, sample):
    scaled = make_segmentation_set(tmp_path / "scaled", NUM_CLASSES, 2, size=(20, 28), label_map={"scale": 3})
    env = _env(tmp_path, sorted(scaled["images"].iterdir()), sorted(scaled["annotations"].iterdir()))
    lm = label_map.parse(scaled["label_map"].read_text(), "train_label_map.json")
    assert data.prepare(env, "train", lm, NUM_CLASSES).count == 2
    with pytest.raises(ClientError, match="after label map"):
        data.prepare(env, "train", label_map.parse('{"scale": 1.5}', "train_label_map.json"), NUM_CLASSES)


def test_all_ignore_masks_are_refused(tmp_path, sample):
    images = sorted(sample["images"].iterdir())[:1]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "00000.png").write_bytes(_png(np.full((20, 28), 255, np.uint8)))
    env = _env(tmp_path, images, [tmp_path / "m" / "00000.png"])
    with pytest.raises(ClientError, match="entirely 255"):
        data.prepare(env, "train", label_map.identity(), NUM_CLASSES)


def test_duplicate_base_names(tmp_path, sample):
    image = sorted(sample["images"].iterdir())[0]
    twin = tmp_path / "00000.png"
    twin.write_bytes(image.read_bytes())
    env = _env(tmp_path, [image, twin], sorted(sample["annotations"].iterdir())[:1])
    with pytest.raises(ClientError, match="two files with base name '00000'"):
        data.prepare(env, "train", label_map.identity(), NUM_CLASSES)


def test_pipe_mode_and_missing_channels(tmp_path, sample):
    images, masks = sorted(sample["images"].iterdir()), sorted(sample["annotations"].iterdir())
    env = _env(tmp_path / "pipe", images, masks, extra={"validation": {"files": [], "mode": "Pipe"}})
    with pytest.raises(ClientError, match="Channel 'validation' uses Pipe mode"):
        data.pair_files(env, "validation")
    env = _env(tmp_path / "file", images, masks, extra={"validation": {"files": images}})
    with pytest.raises(ClientError, match="Missing required channel 'validation_annotation'"):
        data.prepare(env, "validation", label_map.identity(), NUM_CLASSES)


def test_augmentation_keeps_labels_and_marks_padding_ignored():
    rng = np.random.default_rng(0)
    image = Image.fromarray(np.full((30, 40, 3), 200, np.uint8))
    mask = np.zeros((30, 40), np.uint8)
    mask[10:20, 10:30] = 2
    for _ in range(20):
        # base_size 20: the long side becomes 10…40 pixels, often smaller than the 32-pixel crop
        out_image, out_mask = data.augment(image, Image.fromarray(mask, "L"), 20, 32, rng)
        labels = np.asarray(out_mask)
        assert out_image.size == out_mask.size == (32, 32)
        assert set(np.unique(labels)) <= {0, 2, 255}
        padded = np.asarray(out_image).sum(axis=2) == 0
        assert np.all(labels[padded] == 255)
    assert padded.any()  # the last draws were padded


def test_centre_crop_resizes_the_short_side_then_crops():
    image = Image.fromarray(np.zeros((30, 60, 3), np.uint8))
    mask = Image.fromarray(np.zeros((30, 60), np.uint8), "L")
    cropped_image, cropped_mask = centre_crop(image, mask, 48)
    assert cropped_image.size == cropped_mask.size == (48, 48)


def test_datasets_turn_255_into_the_loss_ignore_value(tmp_path, sample):
    ds = _prepare(tmp_path, sample)
    image, labels = data.ValidationDataset(ds, None)[1]
    mask = sample["masks"]["00001"]
    assert image.shape == (3, 20, 28) and labels.shape == (20, 28) and image.dtype == np.float32
    assert np.array_equal(labels == data.LOSS_IGNORE, mask == 255)
    assert np.array_equal(labels[mask != 255], mask[mask != 255])
    image, labels = data.TrainDataset(ds, 24, 32)[0]
    assert image.shape == (3, 32, 32) and labels.shape == (32, 32)


def test_loader_uses_threads_and_says_so_when_shm_is_small(monkeypatch, caplog):
    monkeypatch.setattr(dataloader, "shm_free_bytes", lambda shm=None: 64 * 2**20)
    with caplog.at_level(logging.INFO, logger="smlocal"):
        small = dataloader.parallel_loader(list(range(4)), 2, workers=2, batch_bytes=16 * 2**20)
    assert small._thread_pool and "loading data with 2 threads instead" in caplog.text
    assert "--shm-size" in caplog.text
    monkeypatch.setattr(dataloader, "shm_free_bytes", lambda shm=None: 2**34)
    large = dataloader.parallel_loader(list(range(4)), 2, workers=2, batch_bytes=16 * 2**20)
    assert not large._thread_pool and large._num_workers == 2
    assert [b.asnumpy().tolist() for b in large] == [[0, 1], [2, 3]]


def _block_like_a_loader_worker(ready, held):
    """A worker's shape: an extra (MXNet-like) thread, and the main thread blocked on the task
    queue's lock. SIGTERM is masked in the main thread so the kernel hands it to the other thread,
    as it may for any multithreaded process."""
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    ready.set()
    held.acquire()


def test_forked_workers_still_die_on_sigterm():
    """Data-loading workers are forked after the job installed its SIGTERM handler; their parent
    ends them with SIGTERM (Pool.terminate) and waits, so they must die even when their main thread
    is blocked and never gets to run a Python-level handler."""
    stop = StopSignal()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        stop.install()
        context = multiprocessing.get_context("fork")
        ready, held = context.Event(), context.Lock()
        held.acquire()
        child = context.Process(target=_block_like_a_loader_worker, args=(ready, held))
        child.start()
        assert ready.wait(10)
        time.sleep(0.2)  # let the child block on the lock
        os.kill(child.pid, signal.SIGTERM)
        child.join(10)
        if child.exitcode is None:
            child.kill()
        assert child.exitcode == -signal.SIGTERM
        assert not stop.requested
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_sibling_prefix_of_an_s3_prefix_without_a_slash_is_not_read_as_images(tmp_path, sample):
    # s3://b/p/train (no trailing slash) also matches p/train_annotation/...: SageMaker places those
    # objects in channel 'train' as train_annotation/<name>.png, next to the images of the same names.
    masks = sorted(sample["annotations"].iterdir())
    env = _env(tmp_path, sorted(sample["images"].iterdir()), masks)
    sibling = tmp_path / "job" / "input" / "data" / "train" / "train_annotation"
    sibling.mkdir()
    for mask in masks:
        (sibling / mask.name).write_bytes(mask.read_bytes())
    pairs = data.pair_files(env, "train")
    assert [image.suffix for image, _ in pairs] == [".jpg"] * 3
    assert all(mask.parent.name == "train_annotation" and mask.parent.parent.name == "data" for _, mask in pairs)
