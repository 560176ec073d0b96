import json

from container.config import TrainingEnv, decode_hyperparameter
from container.paths import MLPaths


def test_sdk_v2_json_encoded_values_are_unwrapped():
    assert decode_hyperparameter('"sgd"') == "sgd"
    assert decode_hyperparameter('"3,28,28"') == "3,28,28"
    assert decode_hyperparameter("18") == "18"
    assert decode_hyperparameter("1e-8") == "1e-8"   # stays as written, not a float repr
    assert decode_hyperparameter("crop_color") == "crop_color"
    assert decode_hyperparameter('""') == ""


def test_training_env_reads_every_config_file(tmp_path):
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"epochs": '"3"', "num_layers": "18"}))
    (config / "inputdataconfig.json").write_text(json.dumps({
        "train": {"ContentType": "application/x-recordio; label-format=class-id", "TrainingInputMode": "Pipe",
                  "S3DistributionType": "ShardedByS3Key", "RecordWrapperType": "RecordIO"}}))
    (config / "resourceconfig.json").write_text(json.dumps({
        "current_host": "algo-2", "hosts": ["algo-2", "algo-1"], "network_interface_name": "eth0"}))
    (config / "checkpointconfig.json").write_text(json.dumps({"LocalPath": "/ckpt", "S3Uri": "s3://b/c"}))
    env = TrainingEnv.read(MLPaths(tmp_path))
    assert env.hyperparameters == {"epochs": "3", "num_layers": "18"}
    train = env.channels["train"]
    assert train.is_pipe and train.base_content_type == "application/x-recordio"
    assert train.content_type_param("label-format") == "class-id"
    assert train.distribution == "ShardedByS3Key" and train.record_wrapper == "RecordIO"
    assert env.resources.hosts == ("algo-1", "algo-2") and env.resources.host_rank == 1
    assert str(env.checkpoint_dir) == "/ckpt"


def test_missing_config_files_mean_defaults(tmp_path):
    env = TrainingEnv.read(MLPaths(tmp_path))
    assert env.hyperparameters == {} and env.channels == {} and env.checkpoint_dir is None
    assert env.resources.current_host == "algo-1"


def test_base_dir_comes_from_the_environment():
    assert str(MLPaths.from_env({"SAGEMAKER_BASE_DIR": "/x"}).failure) == "/x/output/failure"
    assert str(MLPaths.from_env({}).model) == "/opt/ml/model"
