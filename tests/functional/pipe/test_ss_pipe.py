"""Semantic segmentation from augmented manifests in Pipe mode, run by the emulator's process
runner: each epoch's lines are written out as image/mask pairs and go through the File-mode checks
and loader; and the errors of a Pipe channel that is not such a manifest."""
import pytest

from emulator.sample_data import make_segmentation_set
from tests.ic_jobs import channel, host_log, manifest, model_files, run

NUM_CLASSES = 3
MANIFEST = {"RecordWrapperType": "RecordIO", "data_type": "AugmentedManifestFile",
            "source": {"AttributeNames": ["source-ref", "mask-ref"]}}
ARTIFACTS = ["hyperparams.json", "model_algo-1"]


def ss_request(name, channels, output, **hyperparameters):
    """FCN-ResNet-50 from random weights at crop_size 32, 2 images per batch."""
    hp = {"num_classes": NUM_CLASSES, "num_training_samples": 4, "mini_batch_size": 2, "epochs": 1,
          "crop_size": 32, "base_size": 48, "use_pretrained_model": "False", "validation_mini_batch_size": 1,
          "learning_rate": 0.01, **hyperparameters}
    return {
        "TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "semantic-segmentation"},
        "OutputDataConfig": {"S3OutputPath": str(output)},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "HyperParameters": {k: str(v) for k, v in hp.items()},
        "InputDataConfig": channels,
    }


def seg_manifest(path, sample_set, label_key="mask-ref", label_of=str):
    """Ground Truth's layout: source-ref and <name>-ref per line, plus the label's metadata."""
    lines = [{"source-ref": str(image), label_key: label_of(sample_set["annotations"] / f"{image.stem}.png"),
              f"{label_key}-metadata": {"job-name": "labeling", "class-map": {"0": "a", "1": "b", "2": "c"}}}
             for image in sorted(sample_set["images"].iterdir())]
    return manifest(path, lines)


@pytest.fixture(scope="module")
def ss_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ss-pipe")
    return {"train": make_segmentation_set(root / "train", NUM_CLASSES, 4, size=(40, 48), seed=11),
            "validation": make_segmentation_set(root / "validation", NUM_CLASSES, 2, size=[(37, 50), (45, 41)],
                                                mask_mode="L", seed=12)}


def test_augmented_manifest_trains_from_a_new_stream_every_epoch(ss_sets, tmp_path):
    train = seg_manifest(tmp_path / "train.manifest", ss_sets["train"])
    validation = seg_manifest(tmp_path / "validation.manifest", ss_sets["validation"])
    job = run(ss_request("ss-manifest", [channel("train", train, mode="Pipe", **MANIFEST),
                                         channel("validation", validation, mode="Pipe", **MANIFEST)],
                         tmp_path / "out", epochs=2), tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    log = host_log(job, "algo-1")
    for epoch in (0, 1):
        assert f"Channel 'train' epoch {epoch}: 4 augmented-manifest lines from train_{epoch}" in log
        assert f"Channel 'validation' epoch {epoch}: 2 augmented-manifest lines from validation_{epoch}" in log
        assert f"epoch={epoch}, validation mIOU <score>=(" in log
    assert "epoch 2" not in log
    assert model_files(job.result) == ARTIFACTS
    # The lines were written out as the File-mode layout; only the last epoch stays on disk, and
    # its files are the bytes the manifest's -ref attributes point to.
    work = job.dir.host_base("algo-1") / "input" / "work" / "semantic-segmentation"
    assert sorted(p.name for p in work.iterdir()) == ["train-epoch1", "validation-epoch1"]
    images = sorted(ss_sets["train"]["images"].iterdir())
    for number, image in enumerate(images):
        assert (work / "train-epoch1" / "images" / f"line-{number}.jpg").read_bytes() == image.read_bytes()
        mask = ss_sets["train"]["annotations"] / f"{image.stem}.png"
        assert (work / "train-epoch1" / "masks" / f"line-{number}.png").read_bytes() == mask.read_bytes()


def test_bad_mask_in_a_manifest_fails_with_the_file_mode_check(ss_sets, tmp_path):
    """A mask of the wrong size is caught by the same check as in File mode, naming the line."""
    train = seg_manifest(tmp_path / "train.manifest", ss_sets["train"],
                         label_of=lambda mask: str(ss_sets["validation"]["annotations"] / "00000.png")
                         if mask.stem == "00002" else str(mask))
    job = run(ss_request("ss-bad-mask", [channel("train", train, mode="Pipe", **MANIFEST),
                                         channel("validation", train, mode="Pipe", **MANIFEST)],
                         tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert job.result.failure_reason == (
        "ClientError: Mask line-2.png in stream train_0 of channel 'train' (label attribute) is 50x37 (WxH) but "
        "image line-2.jpg in stream train_0 of channel 'train' is 48x40; a mask must have its image's size")


def test_label_attribute_without_ref_is_refused(ss_sets, tmp_path):
    train = seg_manifest(tmp_path / "train.manifest", ss_sets["train"], label_key="mask")
    spec = dict(MANIFEST, source={"AttributeNames": ["source-ref", "mask"]})
    job = run(ss_request("ss-no-ref", [channel("train", train, mode="Pipe", **spec),
                                       channel("validation", train, mode="Pipe", **spec)],
                         tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert job.result.failure_reason.startswith(
        "ClientError: stream train_0 of channel 'train': the label attribute of line 0 is not a PNG mask (it starts "
        "with b'"), job.result.failure_reason
    assert "name must end in '-ref'" in job.result.failure_reason


@pytest.mark.parametrize("extra, message", [
    ({"RecordWrapperType": "None"},
     "ClientError: Channel 'train' uses Pipe mode with RecordWrapperType None; semantic segmentation reads Pipe "
     "mode from an augmented manifest"),
    ({"annotation": True},
     "ClientError: Channel 'train' is an augmented manifest in Pipe mode, whose lines carry the masks, but "
     "channel 'train_annotation' is configured too"),
])
def test_pipe_channels_that_are_not_manifests_are_refused(ss_sets, tmp_path, extra, message):
    train = seg_manifest(tmp_path / "train.manifest", ss_sets["train"])
    channels = [channel("validation", train, mode="Pipe", **MANIFEST)]
    if extra.pop("annotation", False):
        channels += [channel("train", train, mode="Pipe", **MANIFEST),
                     channel("train_annotation", ss_sets["train"]["annotations"], content_type="image/png")]
    else:
        channels.append(channel("train", ss_sets["train"]["images"], mode="Pipe", content_type=None, **extra))
    job = run(ss_request("ss-not-manifest", channels, tmp_path / "out"), tmp_path / "home")
    assert job.result.status == "Failed"
    assert job.result.failure_reason.startswith(message), job.result.failure_reason
