"""The CreateTrainingJob request: its defaults, the rules beyond botocore's model, the job spec.

The CLI and the HTTP API both build a CreateTrainingJob request and call
`TrainingJobSpec.from_request(request)`, which either returns a frozen spec or raises
`RequestValidationError` with SageMaker's wording. Every member is checked against botocore's
model (emulator.validation, with `TRAINING_RULES` where the emulator departs from it); what
follows are only the rules the model cannot express (members that depend on each other, what
this emulator does not support). Validation here is pure (no disk, no network); checks that
need to look at the data (empty prefixes, volume size) live in `emulator.channels` and also run
before anything is created.

Names become file and folder names (jobs/<job>, input/data/<channel>, ...) only through
`path_segment`, the one rule for that: everywhere a name is joined into a path, it goes through it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from container.contract import DEFAULT_CHECKPOINT_DIR, MODEL_CHANNEL, ChannelConfig
from emulator import algorithms
from emulator.storage import StorageError, check_location
from emulator.validation import RequestValidationError, ShapeRule, operation_model, parse_input, show

DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"
DEFAULT_CHECKPOINT_LOCAL_PATH = DEFAULT_CHECKPOINT_DIR + "/"
DEFAULT_VOLUME_SIZE_GB = 30          # SDK v2 default
DEFAULT_MAX_RUNTIME_SECONDS = 86400  # SDK v2 default (1 day)
MAX_RUNTIME_LIMIT_SECONDS = 2419200  # 28 days
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# SageMaker only takes ml.* types; `local`/`local_gpu` are the emulator's (as in SDK local mode).
LOCAL_INSTANCE_TYPES = ("local", "local_gpu")
SUPPORTED_S3_DATA_TYPES = ("S3Prefix", "ManifestFile", "AugmentedManifestFile")

# What a name may be once it is a file or folder name: every SageMaker name pattern (jobs,
# channels, models, endpoints) fits in these characters, and 255 bytes is the usual NAME_MAX.
PATH_SEGMENT_PATTERN = r"[A-Za-z0-9._-]+"
PATH_SEGMENT_MAX = 255

__all__ = ["RequestValidationError", "TRAINING_RULES", "Channel", "TrainingJobSpec", "algorithm_of",
           "default_job_name", "path_segment", "training_job_arn", "validate_job_name"]


def _reachable(uri: str) -> bool:
    try:
        check_location(uri)
        return True
    except StorageError:
        return False


def _no_capture_group(regex: str) -> bool:
    try:
        return re.compile(regex).groups < 1
    except re.error:
        return True


# Where the emulator's checks of SageMaker requests depart from botocore's model (docs/api.md).
TRAINING_RULES = (
    ShapeRule("TrainingInstanceType", accepts=lambda v: v in LOCAL_INSTANCE_TYPES),
    # Locations: file:// URIs and absolute paths too (no S3 server needed), but only what
    # emulator.storage reaches (not https://).
    ShapeRule("S3Uri", accepts=lambda v: v.startswith(("file:///", "/")), refuses=lambda v: not _reachable(v),
              constraint="Member must be an s3:// URI (s3://bucket/key), a file:// URI or a local path; other "
                         "schemes (ftp://, https://, ...) are not supported"),
    # Bounds the service enforces where the model leaves them open.
    ShapeRule("TrainingInstanceCount", refuses=lambda v: v < 1,
              constraint="Member must have value greater than or equal to 1"),
    ShapeRule("OptionalVolumeSizeInGB", refuses=lambda v: v < 1,
              constraint="Member must have value greater than or equal to 1"),
    ShapeRule("MaxRuntimeInSeconds", refuses=lambda v: v > MAX_RUNTIME_LIMIT_SECONDS,
              constraint=f"Member must have value less than or equal to {MAX_RUNTIME_LIMIT_SECONDS}"),
    ShapeRule("MetricRegex", refuses=_no_capture_group,
              constraint="Member must be a valid regular expression with a capture group for the metric value"),
)


def default_job_name(base: str, now: datetime | None = None) -> str:
    """`<base>-YYYY-MM-DD-HH-MM-SS-mmm`, as the SageMaker Python SDK names jobs."""
    now = now or datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"
    base = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-")[: 63 - len(stamp) - 1] or "training-job"
    return f"{base}-{stamp}"


def training_job_arn(name: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT_ID) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:training-job/{name.lower()}"


def path_segment(name: Any, what: str) -> str:
    """`name` as one file or folder name; RequestValidationError naming `what` for anything else.

    SageMaker's channel pattern lets '.' and '..' through, and a name from a command line or a
    request may hold '/', '\\', NUL or other characters: none of it may ever reach a path, or
    `input/data/..` would be `input/` and `jobs/../../x` anything at all.
    """
    if (isinstance(name, str) and name not in (".", "..") and len(name) <= PATH_SEGMENT_MAX
            and re.fullmatch(PATH_SEGMENT_PATTERN, name)):
        return name
    shown = repr(show(name)) if isinstance(name, str) else show(name)
    raise RequestValidationError(
        f"{what} {shown} cannot be used as a file or folder name: it must be 1 to {PATH_SEGMENT_MAX} of "
        f"the characters A-Z a-z 0-9 . _ - and neither '.' nor '..'.")


def validate_job_name(name: Any) -> str:
    """A TrainingJobName as DescribeTrainingJob, StopTrainingJob (and `smlocal delete`) check it."""
    parse_input({"TrainingJobName": name}, operation_model("sagemaker", "DescribeTrainingJob").input_shape)
    return path_segment(name, "Training job name")


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

    @classmethod
    def from_request(cls, member: dict, training_input_mode: str) -> "Channel":
        s3 = member["DataSource"]["S3DataSource"]
        return cls(name=member["ChannelName"], s3_data_type=s3["S3DataType"], s3_uri=s3["S3Uri"],
                   distribution=s3.get("S3DataDistributionType", "FullyReplicated"),
                   attribute_names=tuple(s3.get("AttributeNames", ())), content_type=member.get("ContentType"),
                   compression=member.get("CompressionType", "None"),
                   record_wrapper=member.get("RecordWrapperType", "None"),
                   input_mode=member.get("InputMode", training_input_mode),
                   shuffle_seed=(member.get("ShuffleConfig") or {}).get("Seed"))

    @property
    def is_pipe(self) -> bool:
        return self.input_mode == "Pipe"

    def config(self) -> ChannelConfig:
        """This channel as the container reads it from inputdataconfig.json."""
        return ChannelConfig(self.name, self.content_type, self.input_mode, self.distribution, self.record_wrapper,
                             self.compression)

    def check(self) -> None:
        """Combinations SageMaker documents as unsupported fail at submission, naming the channel."""
        where = f"channel '{self.name}'"
        refuse = RequestValidationError
        if self.s3_data_type not in SUPPORTED_S3_DATA_TYPES:
            raise refuse(f"S3DataType '{self.s3_data_type}' is not supported by this emulator ({where}); use "
                         f"{', '.join(SUPPORTED_S3_DATA_TYPES)}.")
        if self.name == MODEL_CHANNEL and self.input_mode != "File":
            raise refuse(f"The '{MODEL_CHANNEL}' channel (incremental training) must use File input mode, "
                         f"got '{self.input_mode}'.")
        if self.attribute_names and self.s3_data_type != "AugmentedManifestFile":
            raise refuse(f"AttributeNames can only be used with S3DataType 'AugmentedManifestFile' ({where} uses "
                         f"'{self.s3_data_type}').")
        if self.s3_data_type == "AugmentedManifestFile":
            if not self.attribute_names:
                raise refuse(f"AttributeNames must be set when S3DataType is 'AugmentedManifestFile' ({where}).")
            if not self.is_pipe:
                raise refuse(f"S3DataType 'AugmentedManifestFile' is supported only with Pipe input mode ({where} "
                             f"uses '{self.input_mode}').")
        if self.input_mode == "FastFile" and self.s3_data_type != "S3Prefix":
            raise refuse(f"FastFile input mode supports only S3DataType 'S3Prefix' ({where} uses "
                         f"'{self.s3_data_type}').")
        for member, value in (("CompressionType", self.compression), ("RecordWrapperType", self.record_wrapper)):
            if value != "None" and not self.is_pipe:
                raise refuse(f"{member} '{value}' is supported only with Pipe input mode ({where} uses "
                             f"'{self.input_mode}'); in File mode leave it unset or 'None'.")
        if self.shuffle_seed is not None and self.input_mode == "FastFile":
            raise refuse(f"ShuffleConfig is not supported with FastFile input mode ({where}).")

    def described(self, member: dict) -> dict:
        """The channel as Describe returns it: the request's members plus the defaults that applied."""
        s3 = {**member["DataSource"]["S3DataSource"], "S3DataDistributionType": self.distribution}
        return {"CompressionType": self.compression, "RecordWrapperType": self.record_wrapper, **member,
                "DataSource": {"S3DataSource": s3}}


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
        params = parse_input(request, operation_model("sagemaker", "CreateTrainingJob").input_shape, TRAINING_RULES)
        _check_supported(params)
        spec = cls._with_defaults(params)
        spec._check()
        return spec

    @classmethod
    def _with_defaults(cls, params: dict) -> "TrainingJobSpec":
        algo = params.get("AlgorithmSpecification", {})
        mode = algo.get("TrainingInputMode", "File")
        resources = {"InstanceType": LOCAL_INSTANCE_TYPES[0], "InstanceCount": 1,
                     "VolumeSizeInGB": DEFAULT_VOLUME_SIZE_GB, **params.get("ResourceConfig", {})}
        stopping = {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_SECONDS, **params.get("StoppingCondition", {})}
        members = params.get("InputDataConfig", [])
        channels = tuple(Channel.from_request(member, mode) for member in members)
        checkpoint = params.get("CheckpointConfig")
        if checkpoint is not None:
            checkpoint = {"LocalPath": DEFAULT_CHECKPOINT_LOCAL_PATH, **checkpoint}
        environment = params.get("Environment", {})
        request = {**params, "AlgorithmSpecification": {**algo, "TrainingInputMode": mode},
                   "HyperParameters": params.get("HyperParameters", {}),
                   "InputDataConfig": [c.described(m) for c, m in zip(channels, members)],
                   # KmsKeyId "" as the real service describes a job without a key (SDK v2's
                   # Estimator.attach reads it).
                   "OutputDataConfig": {"KmsKeyId": "", "CompressionType": "GZIP", **params["OutputDataConfig"]},
                   "ResourceConfig": resources, "StoppingCondition": stopping}
        request.update({k: v for k, v in (("CheckpointConfig", checkpoint), ("Environment", environment)) if v})
        return cls(
            name=params["TrainingJobName"], role_arn=params["RoleArn"], training_input_mode=mode,
            training_image=algo.get("TrainingImage") or None, algorithm_name=algo.get("AlgorithmName"),
            metric_definitions=tuple((m["Name"], m["Regex"]) for m in algo.get("MetricDefinitions", ())),
            hyperparameters=request["HyperParameters"], channels=channels,
            output_path=params["OutputDataConfig"]["S3OutputPath"], instance_type=resources["InstanceType"],
            instance_count=resources["InstanceCount"], volume_size_gb=resources["VolumeSizeInGB"],
            max_runtime_seconds=stopping["MaxRuntimeInSeconds"],
            checkpoint_uri=checkpoint and checkpoint["S3Uri"], checkpoint_local_path=checkpoint and checkpoint["LocalPath"],
            environment=environment, request=request)

    def _check(self) -> None:
        """The rules between members, one clear sentence each."""
        if bool(self.training_image) == bool(self.algorithm_name):
            raise RequestValidationError(
                "AlgorithmSpecification must specify either TrainingImage or AlgorithmName, but not both.")
        if self.checkpoint_local_path is not None and not self.checkpoint_local_path.startswith("/"):
            raise RequestValidationError("CheckpointConfig.LocalPath must be an absolute path inside the container, "
                                         f"got '{self.checkpoint_local_path}'.")
        seen = set()
        for i, channel in enumerate(self.channels, 1):
            path_segment(channel.name, f"Channel name (InputDataConfig.{i}.ChannelName)")
            if channel.name in seen:
                raise RequestValidationError(f"Channel names must be unique: '{channel.name}' appears more than "
                                             f"once in InputDataConfig.")
            seen.add(channel.name)
            channel.check()
        known = algorithms.get(self.algorithm)
        if known is not None and not known.multi_host and self.instance_count > 1:
            raise RequestValidationError(
                f"The {self.algorithm} algorithm supports single machine training only; "
                f"ResourceConfig.InstanceCount must be 1, got {self.instance_count}.")


def _check_supported(params: dict) -> None:
    """Members the model allows that this emulator does not run."""
    if params["OutputDataConfig"].get("CompressionType") == "NONE":
        raise RequestValidationError(
            "OutputDataConfig.CompressionType 'NONE' is not supported by this emulator; use 'GZIP' (the default).")
    if "InstanceGroups" in params.get("ResourceConfig", {}):
        raise RequestValidationError(
            "ResourceConfig.InstanceGroups (heterogeneous clusters) is not supported by this emulator; "
            "use InstanceType and InstanceCount.")
    for i, member in enumerate(params.get("InputDataConfig", ()), 1):
        if "S3DataSource" not in member["DataSource"]:
            other = ", ".join(sorted(member["DataSource"])) or "nothing"
            raise RequestValidationError(
                f"InputDataConfig.{i}.DataSource holds {other}: it must hold an S3DataSource (FileSystemDataSource "
                f"and DatasetSource are not supported by this emulator).")


def algorithm_of(env_value: str | None, algorithm_name: str | None, image: str | None) -> str | None:
    known = algorithms.names()
    if env_value in known:
        return env_value
    if algorithm_name in known:
        return algorithm_name
    if image:
        # <registry>/<repo>/image-classification:1 -> image-classification
        repository = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
        for candidate in known:
            if repository == candidate or repository.startswith(candidate + "-") or repository.endswith("-" + candidate):
                return candidate
    return None
