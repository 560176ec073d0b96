"""SDK v3's resource class for a training job, run by .venv-sdk3 against `smlocal api`.

`sagemaker.core.resources.TrainingJob.get(name)`, `refresh()`, `wait(logs=True)` on a finished
job (which prints its CloudWatch streams), and `get` of a job that does not exist.

    python v3_training_job.py JOB_NAME
Prints one JSON line at the end.
"""
import json
import logging
import sys

from sagemaker.core.resources import TrainingJob

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")

name = sys.argv[1]
job = TrainingJob.get(name)
job.refresh()
job.wait(poll=1, timeout=60, logs=True)
try:
    TrainingJob.get(f"{name}-missing")
    missing = ""
except Exception as exc:  # noqa: BLE001 - the test checks which one
    missing = f"{type(exc).__name__}: {exc}"
print()  # the SDK's transient progress panel (rich) leaves its last line open
print(json.dumps({
    "name": job.training_job_name, "arn": job.training_job_arn, "status": job.training_job_status,
    "secondary": job.secondary_status, "role": job.role_arn, "image": job.algorithm_specification.training_image,
    "channels": [c.channel_name for c in job.input_data_config], "model": job.model_artifacts.s3_model_artifacts,
    "metrics": {m.metric_name: m.value for m in job.final_metric_data_list},
    "transitions": [t.status for t in job.secondary_status_transitions],
    "hyperparameters": job.hyper_parameters, "missing": missing,
}))
