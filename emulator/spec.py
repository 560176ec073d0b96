"""The CreateTrainingJob request: its shape, defaults and validation.

One module for the CLI and the HTTP API alike: both build the same request dict and call
`TrainingJobSpec.from_request(request)`, which either returns a frozen spec or raises
`RequestValidationError` with SageMaker's wording ("1 validation error detected: Value 'x'
at 'trainingJobName' failed to satisfy constraint: ..."). Validation here is pure (no disk,
no network); checks that need to look at the data (empty prefixes, volume size) live in
`emulator.channels` and also run before anything is created.

Names become file and folder names (jobs/<job>, input/data/<channel>, ...) only through
`path_segment`, the one rule for that: everywhere a name is joined into a path, it goes through it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from emulator.storage import StorageError, check_location

ALGORITHMS = ("image-classification", "object-detection", "semantic-segmentation")
# The built-in semantic segmentation algorithm is "single machine only".
SINGLE_HOST_ALGORITHMS = ("semantic-segmentation",)

JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
CHANNEL_NAME_PATTERN = r"[A-Za-z0-9\.\-_]+"
ENV_KEY_PATTERN = r"[a-zA-Z_][a-zA-Z0-9_]*"
ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
# Real SageMaker only takes ml.* types; `local`/`local_gpu` are the emulator's (as in SDK local mode).
INSTANCE_TYPE_PATTERN = r"^(local|local_gpu|ml\.[a-z0-9]+(\.[a-z0-9\-]+)+)$"

INPUT_MODES = ("Pipe", "File", "FastFile")
S3_DATA_TYPES = ("ManifestFile", "S3Prefix", "AugmentedManifestFile")
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
COMPRESSIONS = ("None", "Gzip")
RECORD_WRAPPERS = ("None", "RecordIO")
OUTPUT_COMPRESSIONS = ("GZIP", "NONE")

# What a name may be once it is a file or folder name: every SageMaker name pattern (jobs,
# channels, models, endpoints) fits in these characters, and 255 bytes is the usual NAME_MAX.
PATH_SEGMENT_PATTERN = r"[A-Za-z0-9._-]+"
PATH_SEGMENT_MAX = 255
# How much of a refused value an error message repeats (a request may hold megabytes).
SHOWN_VALUE_MAX = 200

MODEL_CHANNEL = "model"
MODEL_CONTENT_TYPE = "application/x-sagemaker-model"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"
DEFAULT_CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints/"
DEFAULT_VOLUME_SIZE_GB = 30          # SDK v2 default
DEFAULT_MAX_RUNTIME_SECONDS = 86400  # SDK v2 default (1 day)
MAX_RUNTIME_LIMIT_SECONDS = 2419200  # 28 days
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# Members of CreateTrainingJob that are accepted and echoed back but have no effect here.
ACCEPTED_WITHOUT_EFFECT = (
    "Tags", "VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining", "DebugHookConfig", "DebugRuleConfigurations",
    "TensorBoardOutputConfig", "ExperimentConfig", "ProfilerConfig", "ProfilerRuleConfigurations",
    "RetryStrategy", "RemoteDebugConfig", "InfraCheckConfig", "SessionChainingConfig",
)
KNOWN_MEMBERS = (
    "TrainingJobName", "RoleArn", "AlgorithmSpecification", "HyperParameters", "InputDataConfig",
    "OutputDataConfig", "ResourceConfig", "StoppingCondition", "CheckpointConfig", "Environment",
) + ACCEPTED_WITHOUT_EFFECT


class RequestValidationError(ValueError):
    """A request SageMaker would refuse; `code` is the API error code, `message` its text."""

    def __init__(self, message: str, code: str = "ValidationException") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def default_job_name(base: str, now: datetime | None = None) -> str:
    """`<base>-YYYY-MM-DD-HH-MM-SS-mmm`, as the SageMaker Python SDK names jobs."""
    now = now or datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"
    base = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-")[: 63 - len(stamp) - 1] or "training-job"
    return f"{base}-{stamp}"


def training_job_arn(name: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT_ID) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:training-job/{name.lower()}"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > SHOWN_VALUE_MAX:
        return f"{text[:SHOWN_VALUE_MAX]}... ({len(text)} characters)"
    return text


def path_segment(name: Any, what: str) -> str:
    """`name` as one file or folder name; RequestValidationError naming `what` for anything else.

    SageMaker's channel pattern lets '.' and '..' through, and a name from a command line or a
    request may hold '/', '\\', NUL or other characters: none of it may ever reach a path, or
    `input/data/..` would be `input/` and `jobs/../../x` anything at all.
    """
    if (isinstance(name, str) and name not in (".", "..") and len(name) <= PATH_SEGMENT_MAX
            and re.fullmatch(PATH_SEGMENT_PATTERN, name)):
        return name
    shown = repr(_show(name)) if isinstance(name, str) else _show(name)
    raise RequestValidationError(
        f"{what} {shown} cannot be used as a file or folder name: it must be 1 to {PATH_SEGMENT_MAX} of "
        f"the characters A-Z a-z 0-9 . _ - and neither '.' nor '..'.")


def validate_job_name(name: Any) -> str:
    """A TrainingJobName as DescribeTrainingJob, StopTrainingJob (and `smlocal delete`) check it."""
    errors = _Errors()
    errors.check_str(name, "trainingJobName", min_len=1, max_len=63, pattern=JOB_NAME_PATTERN, required=True)
    errors.raise_if_any()
    return path_segment(name, "Training job name")


class _Errors:
    """Collects constraint violations and raises them in SageMaker's combined wording."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def constraint(self, value: Any, where: str, constraint: str) -> None:
        self.items.append(f"Value '{_show(value)}' at '{where}' failed to satisfy constraint: {constraint}")

    def missing(self, where: str) -> None:
        self.items.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")

    def check_str(self, value: Any, where: str, *, min_len: int = 0, max_len: int | None = None,
                  pattern: str | None = None, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.missing(where)
            return None
        if not isinstance(value, str):
            self.constraint(value, where, "Member must be a string")
            return None
        if len(value) < min_len:
            self.constraint(value, where, f"Member must have length greater than or equal to {min_len}")
            return None
        if max_len is not None and len(value) > max_len:
            self.constraint(value, where, f"Member must have length less than or equal to {max_len}")
            return None
        if pattern is not None and not re.fullmatch(pattern.lstrip("^").rstrip("$"), value):
            self.constraint(value, where, f"Member must satisfy regular expression pattern: {pattern}")
            return None
        return value

    def check_enum(self, value: Any, where: str, allowed: tuple[str, ...], *, default: str | None = None,
                   required: bool = False) -> str | None:
        if value is None:
            if required:
                self.missing(where)
            return default
        if value not in allowed:
            self.constraint(value, where, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
            return default
        return value

    def check_int(self, value: Any, where: str, *, minimum: int | None = None, maximum: int | None = None,
                  default: int | None = None, required: bool = False) -> int | None:
        if value is None:
            if required:
                self.missing(where)
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.constraint(value, where, "Member must be an integer")
            return default
        if minimum is not None and value < minimum:
            self.constraint(value, where, f"Member must have value greater than or equal to {minimum}")
            return default
        if maximum is not None and value > maximum:
            self.constraint(value, where, f"Member must have value less than or equal to {maximum}")
            return default
        return value

    def check_location(self, value: str | None, where: str) -> str | None:
        """s3://, file:// or a local path: the locations the emulator's storage can reach."""
        if value is None:
            return None
        try:
            check_location(value)
        except StorageError:
            self.constraint(value, where, "Member must be an s3:// URI (s3://bucket/key), a file:// URI or a "
                                          "local path; other schemes (ftp://, https://, ...) are not supported")
            return None
        return value

    def check_dict(self, value: Any, where: str, *, required: bool = False) -> dict:
        if value is None:
            if required:
                self.missing(where)
            return {}
        if not isinstance(value, dict):
            self.constraint(value, where, "Member must be a structure")
            return {}
        return value

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise RequestValidationError(
                f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(self.items))


@dataclass(frozen=True)
class Channel:
    name: str
    s3_data_type: str
    s3_uri: str
    distribution: str = "FullyReplicated"
    attribute_names: tuple[str, ...] = ()
    content_type: str | None = None
    compression: str = "None"
    record_wrapper: str = "None"
    input_mode: str = "File"           # effective mode: the channel's InputMode or TrainingInputMode
    shuffle_seed: int | None = None

    @property
    def is_pipe(self) -> bool:
        return self.input_mode == "Pipe"

    def input_data_config_entry(self) -> dict[str, str]:
        """This channel's entry in /opt/ml/input/config/inputdataconfig.json."""
        entry: dict[str, str] = {}
        if self.content_type is not None:
            entry["ContentType"] = self.content_type
        entry["TrainingInputMode"] = self.input_mode
        entry["S3DistributionType"] = self.distribution
        entry["RecordWrapperType"] = self.record_wrapper
        entry["CompressionType"] = self.compression
        return entry


@dataclass(frozen=True)
class TrainingJobSpec:
    name: str
    role_arn: str
    training_input_mode: str
    training_image: str | None
    algorithm_name: str | None
    metric_definitions: tuple[tuple[str, str], ...]
    hyperparameters: dict[str, str]
    channels: tuple[Channel, ...]
    output_path: str
    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_seconds: int
    checkpoint_uri: str | None
    checkpoint_local_path: str | None
    environment: dict[str, str]
    request: dict = field(repr=False)   # the request with defaults filled in, for Describe

    @property
    def algorithm(self) -> str | None:
        """Which built-in this job runs: Environment SAGEMAKER_ALGORITHM, AlgorithmName, or the image name."""
        return algorithm_of(self.environment.get("SAGEMAKER_ALGORITHM"), self.algorithm_name, self.training_image)

    @property
    def hosts(self) -> list[str]:
        return [f"algo-{i}" for i in range(1, self.instance_count + 1)]

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)

    @classmethod
    def from_request(cls, request: Any) -> "TrainingJobSpec":
        if not isinstance(request, dict):
            raise RequestValidationError("The request body must be a JSON object (a CreateTrainingJob request).")
        errors = _Errors()
        name = errors.check_str(request.get("TrainingJobName"), "trainingJobName", min_len=1, max_len=63,
                                pattern=JOB_NAME_PATTERN, required=True)
        role = errors.check_str(request.get("RoleArn"), "roleArn", min_len=20, max_len=2048,
                                pattern=ROLE_ARN_PATTERN, required=True)

        algo = errors.check_dict(request.get("AlgorithmSpecification"), "algorithmSpecification", required=True)
        input_mode = errors.check_enum(algo.get("TrainingInputMode"), "algorithmSpecification.trainingInputMode",
                                       INPUT_MODES, required=bool(algo), default="File")
        image = errors.check_str(algo.get("TrainingImage"), "algorithmSpecification.trainingImage", max_len=255)
        algorithm_name = errors.check_str(algo.get("AlgorithmName"), "algorithmSpecification.algorithmName",
                                          min_len=1, max_len=170)
        metrics = _metric_definitions(errors, algo.get("MetricDefinitions"))

        hyperparameters = _string_map(errors, request.get("HyperParameters"), "hyperParameters",
                                      max_entries=100, key_max=256, value_max=2500)
        environment = _string_map(errors, request.get("Environment"), "environment",
                                  max_entries=100, key_max=512, value_max=512, key_pattern=ENV_KEY_PATTERN)

        channels = _channels(errors, request.get("InputDataConfig"), input_mode or "File")

        out = errors.check_dict(request.get("OutputDataConfig"), "outputDataConfig", required=True)
        output_path = errors.check_location(
            errors.check_str(out.get("S3OutputPath"), "outputDataConfig.s3OutputPath", max_len=1024,
                             required=bool(out) or "OutputDataConfig" in request), "outputDataConfig.s3OutputPath")
        output_compression = errors.check_enum(out.get("CompressionType"), "outputDataConfig.compressionType",
                                               OUTPUT_COMPRESSIONS, default="GZIP")

        res = errors.check_dict(request.get("ResourceConfig"), "resourceConfig")
        instance_type = errors.check_str(res.get("InstanceType", "local"), "resourceConfig.instanceType",
                                         pattern=INSTANCE_TYPE_PATTERN)
        instance_count = errors.check_int(res.get("InstanceCount"), "resourceConfig.instanceCount",
                                          minimum=1, default=1)
        volume = errors.check_int(res.get("VolumeSizeInGB"), "resourceConfig.volumeSizeInGB",
                                  minimum=1, default=DEFAULT_VOLUME_SIZE_GB)

        stop = errors.check_dict(request.get("StoppingCondition"), "stoppingCondition")
        max_runtime = errors.check_int(stop.get("MaxRuntimeInSeconds"), "stoppingCondition.maxRuntimeInSeconds",
                                       minimum=1, maximum=MAX_RUNTIME_LIMIT_SECONDS,
                                       default=DEFAULT_MAX_RUNTIME_SECONDS)
        errors.check_int(stop.get("MaxWaitTimeInSeconds"), "stoppingCondition.maxWaitTimeInSeconds", minimum=1)

        ckpt = errors.check_dict(request.get("CheckpointConfig"), "checkpointConfig")
        ckpt_uri = errors.check_location(
            errors.check_str(ckpt.get("S3Uri"), "checkpointConfig.s3Uri", max_len=1024,
                             required="CheckpointConfig" in request), "checkpointConfig.s3Uri")
        ckpt_local = errors.check_str(ckpt.get("LocalPath"), "checkpointConfig.localPath", max_len=4096)
        errors.raise_if_any()

        # Rules that are not plain member constraints: one clear sentence each.
        if bool(image) == bool(algorithm_name):
            raise RequestValidationError(
                "AlgorithmSpecification must specify either TrainingImage or AlgorithmName, but not both.")
        if output_compression == "NONE":
            raise RequestValidationError(
                "OutputDataConfig.CompressionType 'NONE' is not supported by this emulator; use 'GZIP' (the default).")
        if "InstanceGroups" in res:
            raise RequestValidationError(
                "ResourceConfig.InstanceGroups (heterogeneous clusters) is not supported by this emulator; "
                "use InstanceType and InstanceCount.")
        if ckpt_local is not None and not ckpt_local.startswith("/"):
            raise RequestValidationError(
                f"CheckpointConfig.LocalPath must be an absolute path inside the container, got '{ckpt_local}'.")
        for ch in channels:
            if ch.name == MODEL_CHANNEL and ch.input_mode != "File":
                raise RequestValidationError(
                    f"The '{MODEL_CHANNEL}' channel (incremental training) must use File input mode, got '{ch.input_mode}'.")
        spec_algorithm = algorithm_of(environment.get("SAGEMAKER_ALGORITHM"), algorithm_name, image)
        if spec_algorithm in SINGLE_HOST_ALGORITHMS and instance_count > 1:
            raise RequestValidationError(
                f"The {spec_algorithm} algorithm supports single machine training only; "
                f"ResourceConfig.InstanceCount must be 1, got {instance_count}.")

        normalized = dict(request)
        normalized["AlgorithmSpecification"] = {**algo, "TrainingInputMode": input_mode}
        normalized["HyperParameters"] = dict(hyperparameters)
        normalized["InputDataConfig"] = [_channel_request(c, request_channel)
                                         for c, request_channel in zip(channels, request.get("InputDataConfig") or [])]
        normalized["OutputDataConfig"] = {**out, "CompressionType": output_compression}
        normalized["ResourceConfig"] = {**res, "InstanceType": instance_type, "InstanceCount": instance_count,
                                        "VolumeSizeInGB": volume}
        normalized["StoppingCondition"] = {**stop, "MaxRuntimeInSeconds": max_runtime}
        if ckpt_uri is not None:
            normalized["CheckpointConfig"] = {"S3Uri": ckpt_uri,
                                              "LocalPath": ckpt_local or DEFAULT_CHECKPOINT_LOCAL_PATH}
        if environment:
            normalized["Environment"] = dict(environment)

        return cls(
            name=name, role_arn=role, training_input_mode=input_mode, training_image=image,
            algorithm_name=algorithm_name, metric_definitions=metrics, hyperparameters=hyperparameters,
            channels=tuple(channels), output_path=output_path, instance_type=instance_type,
            instance_count=instance_count, volume_size_gb=volume, max_runtime_seconds=max_runtime,
            checkpoint_uri=ckpt_uri,
            checkpoint_local_path=(ckpt_local or DEFAULT_CHECKPOINT_LOCAL_PATH) if ckpt_uri else None,
            environment=environment, request=normalized,
        )


def algorithm_of(env_value: str | None, algorithm_name: str | None, image: str | None) -> str | None:
    if env_value in ALGORITHMS:
        return env_value
    if algorithm_name in ALGORITHMS:
        return algorithm_name
    if image:
        # <registry>/<repo>/image-classification:1 -> image-classification
        repository = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
        for candidate in ALGORITHMS:
            if repository == candidate or repository.startswith(candidate + "-") or repository.endswith("-" + candidate):
                return candidate
    return None


def _metric_definitions(errors: _Errors, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 40:
        errors.constraint(value, "algorithmSpecification.metricDefinitions",
                          "Member must be a list of at most 40 metric definitions")
        return ()
    result = []
    for i, item in enumerate(value, 1):
        where = f"algorithmSpecification.metricDefinitions.{i}.member"
        item = errors.check_dict(item, where, required=True)
        name = errors.check_str(item.get("Name"), f"{where}.name", min_len=1, max_len=255, required=True)
        regex = errors.check_str(item.get("Regex"), f"{where}.regex", min_len=1, max_len=500, required=True)
        if regex is not None:
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                errors.constraint(regex, f"{where}.regex", f"Member must be a valid regular expression ({exc})")
                continue
            if compiled.groups < 1:
                errors.constraint(regex, f"{where}.regex",
                                  "Member must contain a capture group for the metric value")
                continue
        if name and regex:
            result.append((name, regex))
    return tuple(result)


def _string_map(errors: _Errors, value: Any, where: str, *, max_entries: int, key_max: int, value_max: int,
                key_pattern: str | None = None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.constraint(value, where, "Member must be a map of string keys to string values")
        return {}
    if len(value) > max_entries:
        errors.constraint(f"<{len(value)} entries>", where,
                          f"Member must have length less than or equal to {max_entries}")
        return {}
    result = {}
    for key, val in value.items():
        if len(key) > key_max:
            errors.constraint(key, where, f"Map keys must satisfy constraint: "
                                          f"[Member must have length less than or equal to {key_max}]")
        elif key_pattern and not re.fullmatch(key_pattern, key):
            errors.constraint(key, where, f"Map keys must satisfy constraint: "
                                          f"[Member must satisfy regular expression pattern: {key_pattern}]")
        elif not isinstance(val, str):
            errors.constraint(val, f"{where}.{key}", "Map value must be a string (SageMaker sends every value as a string)")
        elif len(val) > value_max:
            errors.constraint(f"{val[:40]}...", f"{where}.{key}", f"Map value must satisfy constraint: "
                                                                   f"[Member must have length less than or equal to {value_max}]")
        else:
            result[key] = val
    return result


def _channels(errors: _Errors, value: Any, training_input_mode: str) -> list[Channel]:
    if value is None:
        return []
    if not isinstance(value, list) or not 1 <= len(value) <= 20:
        errors.constraint(value if not isinstance(value, list) else f"<{len(value)} channels>", "inputDataConfig",
                          "Member must have length between 1 and 20")
        return []
    channels: list[Channel] = []
    seen: set[str] = set()
    for i, raw in enumerate(value, 1):
        where = f"inputDataConfig.{i}.member"
        raw = errors.check_dict(raw, where, required=True)
        name = errors.check_str(raw.get("ChannelName"), f"{where}.channelName", min_len=1, max_len=64,
                                pattern=CHANNEL_NAME_PATTERN, required=True)
        source = errors.check_dict(raw.get("DataSource"), f"{where}.dataSource", required=True)
        if source and "S3DataSource" not in source:
            other = ", ".join(sorted(source)) or "nothing"
            errors.constraint(other, f"{where}.dataSource",
                              "Member must hold an S3DataSource (FileSystemDataSource and DatasetSource are "
                              "not supported by this emulator)")
            continue
        s3 = errors.check_dict(source.get("S3DataSource"), f"{where}.dataSource.s3DataSource", required=bool(source))
        data_type = errors.check_enum(s3.get("S3DataType"), f"{where}.dataSource.s3DataSource.s3DataType",
                                      S3_DATA_TYPES, required=bool(s3))
        uri = errors.check_location(
            errors.check_str(s3.get("S3Uri"), f"{where}.dataSource.s3DataSource.s3Uri", min_len=1, max_len=1024,
                             required=bool(s3)), f"{where}.dataSource.s3DataSource.s3Uri")
        distribution = errors.check_enum(s3.get("S3DataDistributionType"),
                                         f"{where}.dataSource.s3DataSource.s3DataDistributionType",
                                         DISTRIBUTIONS, default="FullyReplicated")
        attributes = s3.get("AttributeNames")
        if attributes is not None and (not isinstance(attributes, list) or len(attributes) > 16
                                       or not all(isinstance(a, str) and 1 <= len(a) <= 256 for a in attributes)):
            errors.constraint(attributes, f"{where}.dataSource.s3DataSource.attributeNames",
                              "Member must be a list of at most 16 names of 1 to 256 characters")
            attributes = None
        content_type = errors.check_str(raw.get("ContentType"), f"{where}.contentType", max_len=256)
        compression = errors.check_enum(raw.get("CompressionType"), f"{where}.compressionType", COMPRESSIONS,
                                        default="None")
        wrapper = errors.check_enum(raw.get("RecordWrapperType"), f"{where}.recordWrapperType", RECORD_WRAPPERS,
                                    default="None")
        mode = errors.check_enum(raw.get("InputMode"), f"{where}.inputMode", INPUT_MODES,
                                 default=training_input_mode)
        shuffle = errors.check_dict(raw.get("ShuffleConfig"), f"{where}.shuffleConfig")
        seed = errors.check_int(shuffle.get("Seed"), f"{where}.shuffleConfig.seed", required=bool(shuffle)
                                or "ShuffleConfig" in raw)
        if name is None or data_type is None or uri is None:
            continue
        path_segment(name, f"Channel name (InputDataConfig.{i}.ChannelName)")
        if name in seen:
            raise RequestValidationError(f"Channel names must be unique: '{name}' appears more than once "
                                         f"in InputDataConfig.")
        seen.add(name)
        channel = Channel(name=name, s3_data_type=data_type, s3_uri=uri, distribution=distribution,
                          attribute_names=tuple(attributes or ()), content_type=content_type,
                          compression=compression, record_wrapper=wrapper, input_mode=mode, shuffle_seed=seed)
        _check_channel_combination(channel)
        channels.append(channel)
    return channels


def _check_channel_combination(ch: Channel) -> None:
    """Combinations SageMaker documents as unsupported fail at submission, naming the channel."""
    where = f"channel '{ch.name}'"
    if ch.attribute_names and ch.s3_data_type != "AugmentedManifestFile":
        raise RequestValidationError(
            f"AttributeNames can only be used with S3DataType 'AugmentedManifestFile' ({where} uses '{ch.s3_data_type}').")
    if ch.s3_data_type == "AugmentedManifestFile":
        if not ch.attribute_names:
            raise RequestValidationError(
                f"AttributeNames must be set when S3DataType is 'AugmentedManifestFile' ({where}).")
        if ch.input_mode != "Pipe":
            raise RequestValidationError(
                f"S3DataType 'AugmentedManifestFile' is supported only with Pipe input mode ({where} uses "
                f"'{ch.input_mode}').")
    if ch.input_mode == "FastFile" and ch.s3_data_type != "S3Prefix":
        raise RequestValidationError(
            f"FastFile input mode supports only S3DataType 'S3Prefix' ({where} uses '{ch.s3_data_type}').")
    if ch.compression == "Gzip" and ch.input_mode != "Pipe":
        raise RequestValidationError(
            f"CompressionType 'Gzip' is supported only with Pipe input mode ({where} uses '{ch.input_mode}'); "
            f"in File mode leave it unset or 'None'.")
    if ch.record_wrapper == "RecordIO" and ch.input_mode != "Pipe":
        raise RequestValidationError(
            f"RecordWrapperType 'RecordIO' is supported only with Pipe input mode ({where} uses "
            f"'{ch.input_mode}'); in File mode leave it unset or 'None'.")
    if ch.shuffle_seed is not None and ch.input_mode == "FastFile":
        raise RequestValidationError(f"ShuffleConfig is not supported with FastFile input mode ({where}).")


def _channel_request(channel: Channel, original: dict) -> dict:
    """The channel as Describe returns it: the request's members plus the defaults that applied."""
    s3 = dict(original["DataSource"]["S3DataSource"])
    s3["S3DataDistributionType"] = channel.distribution
    result = {**original, "DataSource": {"S3DataSource": s3}}
    result.setdefault("CompressionType", channel.compression)
    result.setdefault("RecordWrapperType", channel.record_wrapper)
    return result
