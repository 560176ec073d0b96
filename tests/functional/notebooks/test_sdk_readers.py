"""SDK v2's and sagemaker-core's readers of Describe/List responses, each called once against the
session's server (clients/sdk_readers.py): Estimator.attach, TrainingJobAnalytics,
HyperparameterTuner.attach, HyperparameterTuningJobAnalytics, Estimator.transformer,
Transformer.attach, and sagemaker-core's TrainingJob, HyperParameterTuningJob, Model,
EndpointConfig, Endpoint and TransformJob (get, refresh, get_all). A member the SDK needs that a
response lacks, or has with the wrong type, fails the client with the SDK's own KeyError or
pydantic ValidationError."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emulator.sample_data import class_image, encode, make_classification_set

pytestmark = [pytest.mark.slow, pytest.mark.s3]


def prepare_sdk_readers(workdir: Path) -> list[str]:
    for name, seed in (("train", 1), ("validation", 2)):
        data = make_classification_set(workdir / "generated" / name, 4, 4, size=(32, 32), seed=seed)
        shutil.copy(data["rec"], workdir / f"{name}.rec")
    (workdir / "test.jpg").write_bytes(encode(class_image(2, 4, (32, 32), np.random.RandomState(3))))
    return []


NOTEBOOK_CLIENTS = {"sdk_readers": prepare_sdk_readers}


def test_sdk_readers(client_runs, notebook_api):
    seen, _ = client_runs["sdk_readers"].result()
    sm = notebook_api.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=seen["job"])

    attach = seen["attach"]
    assert attach["model_data"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert (attach["instance_type"], attach["instance_count"], attach["volume_size"]) == ("ml.m5.large", 1, 30)
    assert attach["input_mode"] == "File" and attach["output_kms_key"] == ""
    assert attach["hyperparameters"]["num_classes"] == "4" and attach["base_job_name"] == "image-classification"
    # GetMetricStatistics per 60 s period (the SDK's default): the two epochs fall in one or two periods.
    metrics = dict(seen["training_analytics"])
    assert set(metrics) == {"train:accuracy", "validation:accuracy"} and all(1 <= n <= 2 for n in metrics.values())

    tuner = seen["tuner_attach"]
    assert (tuner["objective_metric_name"], tuner["objective_type"], tuner["strategy"]) == (
        "validation:accuracy", "Maximize", "Bayesian")
    assert (tuner["max_jobs"], tuner["max_parallel_jobs"], tuner["early_stopping_type"]) == (1, 1, "Off")
    assert tuner["ranges"]["ContinuousParameterRanges"][0]["Name"] == "learning_rate"
    assert tuner["estimator_instance_type"] == "ml.m5.large"
    assert "_tuning_objective_metric" not in tuner["estimator_hyperparameters"]
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=seen["tuning_job"])
    assert tuner["best_training_job"] == tuning["BestTrainingJob"]["TrainingJobName"]
    analytics = seen["tuning_analytics"]
    assert analytics["rows"] == analytics["summaries"] == 1 and analytics["status"] == "Completed"
    assert {"learning_rate", "FinalObjectiveValue", "TrainingJobName", "TrainingJobStatus"} <= set(analytics["columns"])

    transform = seen["transformer_attach"]
    assert transform["instance_type"] == "ml.m5.large" and transform["output_path"].endswith("/sdk-readers/batch/")

    core = seen["core"]
    assert core["training_job"]["status"] == "Completed" and core["training_job"]["secondary"] == "Completed"
    assert core["training_job"]["model"] == attach["model_data"]
    assert core["training_job"]["channels"] == ["train", "validation"]
    assert core["training_job"]["transitions"][-1] == "Completed"
    assert {"train:accuracy", "validation:accuracy"} <= set(core["training_job"]["metrics"])
    assert core["tuning_job"] == {"status": "Completed", "best": tuner["best_training_job"], "completed": 1}
    assert core["model"].endswith(f"/{tuner['best_training_job']}/output/model.tar.gz")
    assert core["endpoint"] == {"status": "InService", "variants": [1]}
    assert core["transform_job"]["status"] == "Completed"
    assert all(count >= 1 for count in core["listed"].values()), core["listed"]
