"""Object detection from Pipe-mode channels, run by the emulator's process runner: RecordIO
streams and Ground Truth augmented manifests (bounding-box labels), and their errors."""
import re

import numpy as np
import pytest

from algorithms.common.recordio import iter_records
from emulator.sample_data import detection_image, encode, make_detection_set
from tests.functional.object_detection.conftest import NUM_CLASSES
from tests.functional.object_detection.emulated_jobs import (ARTIFACTS, detection_manifest, manifest_line,
                                                             od_request)
from tests.ic_jobs import channel, host_log, model_files, run

MANIFEST = {"RecordWrapperType": "RecordIO", "data_type": "AugmentedManifestFile",
            "source": {"AttributeNames": ["source-ref", "bbox"]}}
SIZE = (100, 120)  # (height, width) of make_detection_set's images


@pytest.fixture(scope="module")
def od_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("od-pipe")
    empty = root / "empty.jpg"  # an image without objects (allowed, as in File mode)
    empty.write_bytes(encode(detection_image([], NUM_CLASSES, SIZE, np.random.RandomState(5))))
    return {"train": make_detection_set(root / "train", NUM_CLASSES, 4, seed=41),
            "validation": make_detection_set(root / "validation", NUM_CLASSES, 2, seed=42),
            "empty": empty}


def work_dir(job):
    return job.dir.host_base("algo-1") / "input" / "work" / "object-detection"


def test_pipe_recordio_reads_a_new_stream_every_epoch_into_the_file_mode_reader(od_sets, tmp_path):
    # Two epochs of one batch: the 2 validation images serve as training data too.
    rec = od_sets["validation"]["rec"]
    body = od_request("od-pipe-rec", [channel("train", rec, mode="Pipe"), channel("validation", rec, mode="Pipe")],
                      tmp_path / "out", epochs=2, num_training_samples=2)
    job = run(body, tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    log = host_log(job, "algo-1")
    for epoch in (0, 1):
        assert f"Channel 'train' epoch {epoch}: 0.0 MB of RecordIO from train_{epoch}" in log
        assert f"Channel 'validation' epoch {epoch}: 0.0 MB of RecordIO from validation_{epoch}" in log
        assert re.search(rf"Channel 'train': 2 images, \d+ objects .* in train-epoch{epoch}\.rec", log)
        assert f"epoch={epoch}, validation mAP <score>=(" in log
    assert "epoch 2" not in log
    # The stream is copied as it is; only the last epoch's copy stays on disk.
    work = work_dir(job)
    assert sorted(p.name for p in work.glob("*.rec")) == ["train-epoch1.rec", "validation-epoch1.rec"]
    assert (work / "train-epoch1.rec").read_bytes() == rec.read_bytes()
    assert model_files(job.result) == ARTIFACTS


def test_augmented_manifest_trains_on_the_records_recordio_would_give(od_sets, tmp_path):
    empty = manifest_line(od_sets["empty"], {"image_size": [{"width": SIZE[1], "height": SIZE[0], "depth": 3}],
                                             "annotations": [], "categories": []})
    train = detection_manifest(tmp_path / "train.manifest", od_sets["train"], extra_lines=(empty,))
    validation = detection_manifest(tmp_path / "validation.manifest", od_sets["validation"])
    job = run(od_request("od-manifest", [channel("train", train, mode="Pipe", **MANIFEST),
                                         channel("validation", validation, mode="Pipe", **MANIFEST)],
                         tmp_path / "out", num_training_samples=5), tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    log = host_log(job, "algo-1")
    assert "Channel 'train' epoch 0: 5 augmented-manifest lines from train_0" in log
    assert "Channel 'validation' epoch 0: 2 augmented-manifest lines from validation_0" in log
    assert model_files(job.result) == ARTIFACTS
    # Each line became the record im2rec would have packed: the same image bytes, the box JSON as
    # the packed label [2, 5, cls, xmin, ymin, xmax, ymax, ...] in ratios; no objects: [2, 5].
    packed = list(iter_records(work_dir(job) / "train-epoch0.rec"))
    expected = list(iter_records(od_sets["train"]["rec"]))
    assert len(packed) == 5
    for got, want in zip(packed, expected):
        assert got.image == want.image
        assert np.allclose(got.label, want.label, atol=1e-4)  # the .rec's label went through "%.4f"
    assert packed[4].image == od_sets["empty"].read_bytes() and packed[4].label.tolist() == [2.0, 5.0]


BOX = {"class_id": 0, "left": 10, "top": 10, "width": 30, "height": 20}
IMAGE_SIZE = [{"width": SIZE[1], "height": SIZE[0], "depth": 3}]


@pytest.mark.parametrize("label, message", [
    ("a caption, not JSON",
     "ClientError: stream train_0 of channel 'train': the label attribute of line 4 is not JSON text"),
    ({"image_size": IMAGE_SIZE, "boxes": [BOX]},
     "ClientError: stream train_0 of channel 'train', line 4, label attribute (the second of AttributeNames): "
     "'annotations' must be a list"),
    ({"image_size": IMAGE_SIZE, "annotations": [dict(BOX, class_id=7)]},
     "ClientError: Class id 7 in channel 'train' (train-epoch0.rec), record 4 is out of range"),
])
def test_bad_manifest_labels_fail_naming_the_line(od_sets, tmp_path, label, message):
    train = detection_manifest(tmp_path / "train.manifest", od_sets["train"],
                               extra_lines=({"source-ref": str(od_sets["empty"]), "bbox": label},))
    job = run(od_request("od-bad-manifest", [channel("train", train, mode="Pipe", **MANIFEST),
                                             channel("validation", od_sets["validation"]["rec"])],
                         tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert job.result.failure_reason.startswith(message), job.result.failure_reason


def test_images_with_json_annotations_in_pipe_mode_are_refused(od_sets, tmp_path):
    job = run(od_request("od-pipe-images", [
        channel("train", od_sets["train"]["images"], mode="Pipe", content_type="image/jpeg"),
        channel("train_annotation", od_sets["train"]["annotations"], content_type="image/jpeg"),
        channel("validation", od_sets["validation"]["rec"])], tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert job.result.failure_reason == (
        "ClientError: Pipe mode for channel 'train' needs ContentType application/x-recordio (RecordIO files, or an "
        "augmented manifest with RecordWrapperType RecordIO); got 'image/jpeg' (images with JSON annotations need "
        "File mode)")


def test_manifest_json_is_the_label_not_the_metadata(od_sets, tmp_path):
    """AttributeNames naming the metadata instead of the label: the error says what a label needs."""
    train = detection_manifest(tmp_path / "train.manifest", od_sets["train"])
    spec = dict(MANIFEST, source={"AttributeNames": ["source-ref", "bbox-metadata"]})
    job = run(od_request("od-metadata", [channel("train", train, mode="Pipe", **spec),
                                         channel("validation", od_sets["validation"]["rec"])],
                         tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert "line 0, label attribute (the second of AttributeNames): 'image_size' must be a list" in \
        job.result.failure_reason
