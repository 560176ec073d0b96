"""The public notebooks of introduction_to_amazon_algorithms/ (aws/amazon-sagemaker-examples), cell
by cell, against one `smlocal api` and SeaweedFS (conftest.py), with tiny data.

Each notebook is a client script in clients/ that keeps the notebook's code, cell by cell (the
cells that cannot run are listed, with the reason, in docs/notebooks.md). The test writes what the
notebook would have downloaded (a few generated images in the same files and folders), starts
every selected notebook at once (conftest.client_runs) so that their SDK start-up, training and
polling overlap, and each test then checks what its notebook's cells produced and what the server
recorded.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emulator.sample_data import (class_image, encode, make_classification_set, make_detection_set,
                                  make_segmentation_set)

pytestmark = [pytest.mark.slow, pytest.mark.s3]

IC_CLASSES = 4
IC_PER_CLASS = 16  # 64 images: the notebooks' tuning ranges reach mini_batch_size 64
OD_CLASSES, OD_TRAIN_IMAGES = 2, 4
SS_TRAIN_IMAGES, SS_VALIDATION_IMAGES = 4, 2


def _test_image(path: Path, label: int = 1, size=(40, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(class_image(label, IC_CLASSES, size, np.random.RandomState(label))))
    return path


def _caltech_recordio(workdir: Path) -> None:
    """caltech-256-60-train.rec / -val.rec as the notebooks download them, tiny."""
    for name, seed in (("caltech-256-60-train.rec", 1), ("caltech-256-60-val.rec", 2)):
        data = make_classification_set(workdir / "generated" / name, IC_CLASSES, IC_PER_CLASS, size=(32, 32), seed=seed)
        shutil.copy(data["rec"], workdir / name)


def prepare_ic_recordio(workdir: Path) -> list[str]:
    _caltech_recordio(workdir)
    _test_image(workdir / "test.jpg")
    return [str(IC_CLASSES), str(IC_CLASSES * IC_PER_CLASS)]


def prepare_ic_fulltraining(workdir: Path) -> list[str]:
    """The RecordIO files, and the 008.bathtub images the batch-transform cells classify."""
    for i in range(2):
        _test_image(workdir / "images" / "008.bathtub" / f"008_000{i}.jpg", label=i)
    return prepare_ic_recordio(workdir)


def prepare_ic_lst_format(workdir: Path) -> list[str]:
    """The class folders and the .lst files that the notebook's tar and `im2rec.py --list` make."""
    for folder, lst, seed in (("caltech_256_train_60", "caltech-256-60-train.lst", 1),
                              ("256_ObjectCategories", "caltech-256-60-val.lst", 2)):
        data = make_classification_set(workdir / "generated" / folder, IC_CLASSES, IC_PER_CLASS, size=(32, 32),
                                       seed=seed)
        shutil.copytree(data["images"], workdir / folder)
        shutil.copy(data["lst"], workdir / lst)
    _test_image(workdir / "test.jpg")
    return [str(IC_CLASSES), str(IC_CLASSES * IC_PER_CLASS)]


def prepare_od_incremental(workdir: Path) -> list[str]:
    """VOCdevkit/train.rec, val.rec and train.lst, as tools/prepare_dataset.py writes them."""
    devkit = workdir / "VOCdevkit"
    devkit.mkdir()
    for name, count, seed in (("train", OD_TRAIN_IMAGES, 1), ("val", 2, 2)):
        data = make_detection_set(workdir / "generated" / name, OD_CLASSES, count, seed=seed)
        shutil.copy(data["rec"], devkit / f"{name}.rec")
        shutil.copy(data["lst"], devkit / f"{name}.lst")
    shutil.copy(next(iter(sorted(data["images"].iterdir()))), workdir / "test.jpg")
    return [str(OD_CLASSES), str(OD_TRAIN_IMAGES)]


def prepare_ss_pascalvoc(workdir: Path) -> list[str]:
    """pascal-voc/VOC2012 as the notebook's tarball unpacks it (JPEGImages, SegmentationClass with
    the VOC palette, ImageSets/Segmentation/{train,val}.txt), and data/test.jpg."""
    voc = workdir / "pascal-voc" / "VOC2012"
    images, masks, lists = voc / "JPEGImages", voc / "SegmentationClass", voc / "ImageSets" / "Segmentation"
    for folder in (images, masks, lists):
        folder.mkdir(parents=True)
    for split, count, seed in (("train", SS_TRAIN_IMAGES, 1), ("val", SS_VALIDATION_IMAGES, 2)):
        data = make_segmentation_set(workdir / "generated" / split, 3, count, size=(48, 64), seed=seed)
        names = []
        for image in sorted(data["images"].iterdir()):
            name = f"2007_{split}_{image.stem}"
            shutil.copy(image, images / f"{name}.jpg")
            shutil.copy(data["annotations"] / f"{image.stem}.png", masks / f"{name}.png")
            names.append(name)
        (lists / f"{split}.txt").write_text("\n".join(names) + "\n")
    _test_image(workdir / "data" / "test.jpg", size=(36, 52))
    return []


# clients/<name>.py -> what writes its files (conftest.client_runs starts them).
NOTEBOOK_CLIENTS = {"ic_fulltraining": prepare_ic_fulltraining, "ic_incremental": prepare_ic_recordio,
           "ic_lst_format": prepare_ic_lst_format, "ic_transfer_learning": prepare_ic_recordio,
           "od_incremental": prepare_od_incremental, "ss_pascalvoc": prepare_ss_pascalvoc}


def test_ic_fulltraining(client_runs, notebook_api):
    result, output = client_runs["ic_fulltraining"].result()
    sm = notebook_api.client("sagemaker")
    assert result["training_status"] == "Completed"
    assert "Training job ended with status: Completed" in output
    assert result["tuning_status"] == "Completed"
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=result["tuning_job"])
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 6
    assert result["hosted_job"] == tuning["BestTrainingJob"]["TrainingJobName"]
    # The transform job classified each test image: one .out per input, the notebook's labels.
    assert [k.rsplit("/", 1)[1] for k in result["batch_inputs"]] == ["008_0000.jpg", "008_0001.jpg"]
    assert sorted(k.rsplit("/", 1)[1] for k in result["batch_outputs"]) == ["008_0000.jpg.out", "008_0001.jpg.out"]
    assert all(0 <= p <= 1 for _, p in result["batch_labels"])
    assert result["endpoint_status"] == "InService"
    assert len(result["prediction"]) == IC_CLASSES and abs(sum(result["prediction"]) - 1) < 1e-4
    assert "Result: label - " in output
    assert all(e["EndpointName"] != result["endpoint"] for e in sm.list_endpoints()["Endpoints"]
               if e["EndpointStatus"] != "Deleting")


def _assert_tuned_and_deployed(sm, result, output):
    """The notebooks' tuner cell ran its 6 jobs; the endpoint answered a class distribution."""
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=result["tuning_job"])
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 6
    assert len(result["prediction"]) == IC_CLASSES and abs(sum(result["prediction"]) - 1) < 1e-4
    assert "Result: label - " in output
    return tuning


def test_ic_incremental(client_runs, notebook_api):
    result, output = client_runs["ic_incremental"].result()
    sm = notebook_api.client("sagemaker")
    tuning = _assert_tuned_and_deployed(sm, result, output)
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    # The incremental job's model channel is the best tuning job's model (deploy_amt_model=True).
    assert result["base_model"].endswith(f"/{best}/output/model.tar.gz")
    incremental = sm.describe_training_job(TrainingJobName=result["incremental_job"])
    model = next(c for c in incremental["InputDataConfig"] if c["ChannelName"] == "model")
    assert model["DataSource"]["S3DataSource"]["S3Uri"] == result["base_model"]
    assert "Incremental training: initialising from" in output  # fit(logs=True) printed the job's log


def test_ic_lst_format(client_runs, notebook_api):
    result, output = client_runs["ic_lst_format"].result()
    sm = notebook_api.client("sagemaker")
    assert [len(line.split("\t")) for line in result["example_lst"].splitlines()] == [3, 3, 3]
    first = sm.describe_training_job(TrainingJobName=result["first_job"])
    assert first["TrainingJobStatus"] == "Completed"
    assert {c["ChannelName"]: c["ContentType"] for c in first["InputDataConfig"]} == {
        "train": "application/jpeg", "validation": "application/jpeg",
        "train_lst": "application/jpeg", "validation_lst": "application/jpeg"}
    assert "Using pretrained model for initializing weights and transfer learning" in output
    tuning = _assert_tuned_and_deployed(sm, result, output)
    _assert_deployed_best_job(sm, tuning)


def test_ic_transfer_learning(client_runs, notebook_api):
    result, output = client_runs["ic_transfer_learning"].result()
    sm = notebook_api.client("sagemaker")
    assert sm.describe_training_job(TrainingJobName=result["first_job"])["TrainingJobStatus"] == "Completed"
    assert "Using pretrained model for initializing weights and transfer learning" in output
    tuning = _assert_tuned_and_deployed(sm, result, output)
    _assert_deployed_best_job(sm, tuning)


def _assert_deployed_best_job(sm, tuning):
    """`(hp_tuner if deploy_amt_model else ic).deploy(...)` deployed the best job's model."""
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    deployed = [sm.describe_model(ModelName=m["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
                for m in sm.list_models(MaxResults=100)["Models"]]
    assert any(url.endswith(f"/{best}/output/model.tar.gz") for url in deployed), deployed


def test_od_incremental(client_runs, notebook_api):
    result, output = client_runs["od_incremental"].result()
    sm = notebook_api.client("sagemaker")
    first = sm.describe_training_job(TrainingJobName=result["first_job"])
    assert first["TrainingJobStatus"] == "Completed"
    # sess.upload_data's URI has no trailing slash: the channel is the .rec below it.
    assert first["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/DEMO-ObjectDetection/train")
    assert "Loaded ImageNet-pretrained resnet-50 base network weights from" in output
    incremental = sm.describe_training_job(TrainingJobName=result["incremental_job"])
    model = next(c for c in incremental["InputDataConfig"] if c["ChannelName"] == "model")
    assert model["DataSource"]["S3DataSource"]["S3Uri"] == result["base_model"] == first["ModelArtifacts"][
        "S3ModelArtifacts"]
    assert "Incremental training: initialising from" in output
    detections = result["detections"]["prediction"]
    assert all(len(row) == 6 and 0 <= row[1] <= 1 for row in detections)


def test_ss_pascalvoc(client_runs, notebook_api):
    result, output = client_runs["ss_pascalvoc"].result()
    sm = notebook_api.client("sagemaker")
    assert not any(uri.endswith("/") for uri in result["channels"])
    job = sm.describe_training_job(TrainingJobName=result["training_job"])
    assert job["TrainingJobStatus"] == "Completed" and result["training_job"].startswith("ss-notebook-demo-")
    assert job["HyperParameters"]["num_training_samples"] == str(SS_TRAIN_IMAGES)
    assert "Loaded ImageNet-pretrained resnet-50 backbone weights from" in output
    # The endpoint's image/png answer, read by the notebook's ImageDeserializer: one class id per pixel.
    width, height = result["image_size"]
    assert result["mask_shape"] == [height, width] and result["mask_max"] < 21
