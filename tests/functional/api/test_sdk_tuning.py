"""The SageMaker Python SDK v2 (own venv) runs the notebook's tuning cells against `smlocal api`:
HyperparameterTuner.fit, best_training_job, best_estimator, the analytics table and a
warm-started tuner, on the real image-classification algorithm with tiny data."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from emulator.sample_data import make_classification_set
from tests.functional.api.conftest import ApiServer, free_port
from tests.sdk_venv import ensure_sdk_venv, sdk_client_env

pytestmark = [pytest.mark.slow, pytest.mark.s3]

CLIENT = Path(__file__).with_name("sdk_clients") / "tuning.py"
NUM_CLASSES = 4
PER_CLASS = 8


def test_sdk_v2_tuner_and_warm_started_tuner(s3_server, s3_bucket, tmp_path):
    sdk_python = ensure_sdk_venv()
    s3 = s3_server.client()
    prefix = "ic-tuning"
    for channel, count, seed in (("train", PER_CLASS, 1), ("validation", PER_CLASS // 2, 2)):
        data = make_classification_set(tmp_path / channel, NUM_CLASSES, count, size=(32, 32), seed=seed)
        s3.upload_file(str(data["rec"]), s3_bucket, f"{prefix}/{channel}/{channel}.rec")
    server_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_PROCESS_COMMAND"))}
    server_env.update(s3_server.env())
    server = ApiServer(tmp_path / "home", free_port(), ["--stop-grace", "10", "--runner", "process"],
                       server_env).start()
    try:
        client_env = sdk_client_env(server.endpoint, s3_server.endpoint, tmp_path)
        run = subprocess.run([str(sdk_python), str(CLIENT), s3_bucket, prefix, str(NUM_CLASSES),
                              str(NUM_CLASSES * PER_CLASS)], env=client_env, capture_output=True, text=True,
                             timeout=900)
        output = run.stdout + run.stderr
        (tmp_path / "sdk-output.txt").write_text(output)
        assert run.returncode == 0, f"{output}\n--- server log ---\n{server.log()}"
        result = json.loads(run.stdout.strip().splitlines()[-1])

        sm = server.client("sagemaker")
        tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=result["tuning_job"])
        assert tuning["HyperParameterTuningJobStatus"] == "Completed"
        assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
        assert result["best"] == tuning["BestTrainingJob"]["TrainingJobName"]
        assert result["best_model"].endswith(f"/{result['best']}/output/model.tar.gz")
        # The analytics table: one row per training job, with the tuned values and the objective.
        assert len(result["table"]) == 2
        for row in result["table"]:
            assert 0.01 <= row["learning_rate"] <= 0.1 and 8 <= row["mini_batch_size"] <= 16
            assert 0 <= row["FinalObjectiveValue"] <= 1 and row["TrainingJobStatus"] == "Completed"
        best_job = sm.describe_training_job(TrainingJobName=result["best"])
        assert best_job["TuningJobArn"] == tuning["HyperParameterTuningJobArn"]
        # As the service adds it (and the SDK's HyperparameterTuner.attach removes it).
        assert best_job["HyperParameters"]["_tuning_objective_metric"] == "validation:accuracy"
        assert "HyperParameterTuningResourceConfig" in tuning["TrainingJobDefinition"]  # what the SDK sent

        assert result["warm_status"] == "Completed" and result["warm_best"].startswith(result["warm_job"])
        assert result["overall_best"] in {result["best"], result["warm_best"]}
        assert server.checker.checked and not server.checker.violations
    finally:
        server.stop()
