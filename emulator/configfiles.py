"""The files SageMaker writes into /opt/ml/input/config on every host before the algorithm starts
(names and shapes: container.contract, which the image reads them with)."""
from __future__ import annotations

import json
from pathlib import Path

from container.contract import CheckpointConfig, MLPaths, ResourceConfig, training_job_config
from emulator.spec import TrainingJobSpec


def write_config_files(spec: TrainingJobSpec, host: str, host_base: Path, checkpoint_local_path: str | None,
                       arn: str | None = None) -> Path:
    """hyperparameters.json, inputdataconfig.json, resourceconfig.json, trainingjobconfig.json, and
    checkpointconfig.json when the job has a CheckpointConfig."""
    paths = MLPaths(host_base)
    files = {
        paths.hyperparameters: spec.hyperparameters,
        paths.input_data_config: {channel.name: channel.config().to_json() for channel in spec.channels},
        paths.resource_config: ResourceConfig(host, tuple(spec.hosts),
                                              current_instance_type=spec.instance_type).to_json(),
        paths.training_job_config: training_job_config({**spec.request, "TrainingJobArn": arn} if arn
                                                       else spec.request),
    }
    if spec.checkpoint_uri is not None:
        files[paths.checkpoint_config] = CheckpointConfig(checkpoint_local_path, spec.checkpoint_uri).to_json()
    paths.input_config.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        path.write_text(json.dumps(content, indent=2) + "\n")
    return paths.input_config
