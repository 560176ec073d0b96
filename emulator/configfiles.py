"""The files SageMaker writes into /opt/ml/input/config on every host before the algorithm starts."""
from __future__ import annotations

import json
from pathlib import Path

from emulator.spec import TrainingJobSpec

NETWORK_INTERFACE = "eth0"            # what current real jobs report
GROUP_NAME = "homogeneousCluster"     # the group name of every non-heterogeneous job


def resource_config(spec: TrainingJobSpec, host: str) -> dict:
    hosts = sorted(spec.hosts)
    return {
        "current_host": host,
        "current_instance_type": spec.instance_type,
        "current_group_name": GROUP_NAME,
        "hosts": hosts,
        "instance_groups": [{"instance_group_name": GROUP_NAME, "instance_type": spec.instance_type,
                             "hosts": hosts}],
        "network_interface_name": NETWORK_INTERFACE,
    }


def input_data_config(spec: TrainingJobSpec) -> dict:
    return {channel.name: channel.input_data_config_entry() for channel in spec.channels}


def write_config_files(spec: TrainingJobSpec, host: str, host_base: Path,
                       checkpoint_local_path: str | None) -> Path:
    """Write hyperparameters.json, inputdataconfig.json, resourceconfig.json (and checkpointconfig.json)."""
    config_dir = host_base / "input" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "hyperparameters.json": spec.hyperparameters,
        "inputdataconfig.json": input_data_config(spec),
        "resourceconfig.json": resource_config(spec, host),
    }
    if spec.checkpoint_uri is not None:
        files["checkpointconfig.json"] = {"LocalPath": checkpoint_local_path, "S3Uri": spec.checkpoint_uri}
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content, indent=2) + "\n")
    return config_dir
