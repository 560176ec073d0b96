"""The Create training job form: its fields, the CreateTrainingJob request it builds, and where
the API's refusals belong on it.

The fields follow the incremental-training guide's console flow (Job name, IAM role, Algorithm,
Input mode, resource configuration, Hyperparameters, one panel per channel, output, Tags) and
carry its labels. `JobForm` is the form's state: read from a submitted form, or from a job's
description (Clone, and "Create incremental training job from this model", which adds a `model`
channel holding the job's artifact). `request()` is the CreateTrainingJob request a client would
send; nothing here checks it: the API's validation does (emulator.console.backend).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from container.contract import MODEL_CHANNEL
from emulator import algorithms
from emulator.spec import DEFAULT_MAX_RUNTIME_SECONDS, DEFAULT_ROLE_ARN, LOCAL_INSTANCE_TYPES, algorithm_of
from emulator.validation import operation_model

CUSTOM_IMAGE = "custom"           # the Algorithm choice "Your own algorithm container (image URI)"
DEFAULT_INSTANCE_TYPE = "ml.m4.xlarge"
DEFAULT_VOLUME_GB = 30            # what the SageMaker console proposes (and SDK v2's default)
BUILT_IN_REGISTRY = "811284229777.dkr.ecr.{region}.amazonaws.com"  # the built-ins' us-east-1 account
MAX_JOB_NAME = 63
INCREMENTAL_SUFFIX = "-incremental"


def _enum(shape_path: tuple[str, ...]) -> list[str]:
    """The values botocore's model allows for a CreateTrainingJob member, in the model's order."""
    shape = operation_model("sagemaker", "CreateTrainingJob").input_shape
    for name in shape_path:
        shape = shape.member if name == "[]" else shape.members[name]
    return list(shape.enum)


def instance_types() -> list[str]:
    return [*_enum(("ResourceConfig", "InstanceType")), *LOCAL_INSTANCE_TYPES]


CHANNEL_CHOICES = {
    "input_mode": ["", *_enum(("InputDataConfig", "[]", "InputMode"))],
    "distribution": _enum(("InputDataConfig", "[]", "DataSource", "S3DataSource", "S3DataDistributionType")),
    "compression": _enum(("InputDataConfig", "[]", "CompressionType")),
    "record_wrapper": _enum(("InputDataConfig", "[]", "RecordWrapperType")),
    "s3_data_type": _enum(("InputDataConfig", "[]", "DataSource", "S3DataSource", "S3DataType")),
}
TRAINING_INPUT_MODES = _enum(("AlgorithmSpecification", "TrainingInputMode"))
JOB_NAME_PATTERN = operation_model("sagemaker", "CreateTrainingJob").input_shape.members[
    "TrainingJobName"].metadata["pattern"]


@dataclass
class ChannelForm:
    name: str = "train"
    input_mode: str = ""          # "": the algorithm's Input mode (TrainingInputMode)
    distribution: str = "FullyReplicated"
    compression: str = "None"
    content_type: str = ""
    record_wrapper: str = "None"
    s3_data_type: str = "S3Prefix"
    s3_uri: str = ""

    def member(self) -> dict:
        source = {"S3DataType": self.s3_data_type, "S3Uri": self.s3_uri.strip(),
                  "S3DataDistributionType": self.distribution}
        member = {"ChannelName": self.name.strip(), "DataSource": {"S3DataSource": source},
                  "CompressionType": self.compression, "RecordWrapperType": self.record_wrapper}
        if self.input_mode:
            member["InputMode"] = self.input_mode
        if self.content_type.strip():
            member["ContentType"] = self.content_type.strip()
        return member

    @classmethod
    def from_member(cls, member: dict) -> "ChannelForm":
        source = member["DataSource"]["S3DataSource"]
        return cls(member["ChannelName"], member.get("InputMode", ""),
                   source.get("S3DataDistributionType", "FullyReplicated"), member.get("CompressionType", "None"),
                   member.get("ContentType", ""), member.get("RecordWrapperType", "None"), source["S3DataType"],
                   source["S3Uri"])


@dataclass
class JobForm:
    job_name: str = ""
    role_arn: str = DEFAULT_ROLE_ARN
    algorithm: str = "image-classification"   # a built-in's name, or CUSTOM_IMAGE
    image_uri: str = ""
    input_mode: str = "File"
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: str = "1"
    volume_size: str = str(DEFAULT_VOLUME_GB)
    max_runtime: str = str(DEFAULT_MAX_RUNTIME_SECONDS)
    hyperparameters: dict[str, str] = field(default_factory=dict)   # the algorithm's table
    extra_hyperparameters: list[tuple[str, str]] = field(default_factory=list)  # keys outside it
    channels: list[ChannelForm] = field(default_factory=lambda: [ChannelForm()])
    output_path: str = ""
    kms_key: str = ""
    tags: list[tuple[str, str]] = field(default_factory=list)

    @property
    def schema(self) -> algorithms.Algorithm | None:
        return algorithms.get(self.algorithm) if self.algorithm != CUSTOM_IMAGE else None

    # ---- from a submitted form -----------------------------------------------------------------

    @classmethod
    def from_form(cls, form) -> "JobForm":
        """`form`: the submitted fields (a werkzeug MultiDict)."""
        def text(key: str, default: str = "") -> str:
            return (form.get(key) or default).strip()
        algorithm = text("algorithm", "image-classification")
        schema = algorithms.get(algorithm)
        table = {}
        if schema is not None:
            for param in schema.hyperparameters:
                value = form.get(f"hp.{param['name']}", "")
                if value.strip():
                    table[param["name"]] = value.strip()
        # The name as typed (not stripped): the API's pattern check is the one to refuse spaces.
        return cls(job_name=form.get("job_name", ""), role_arn=text("role_arn"), algorithm=algorithm,
                   image_uri=text("image_uri"), input_mode=text("input_mode", "File"),
                   instance_type=text("instance_type"), instance_count=text("instance_count"),
                   volume_size=text("volume_size"), max_runtime=text("max_runtime"), hyperparameters=table,
                   extra_hyperparameters=_pairs(form, "hpx"),
                   channels=[ChannelForm(**{key: form.get(f"channel-{i}-{key}", "") for key in _CHANNEL_KEYS})
                             for i in _indices(form, "channel", "name")],
                   output_path=text("output_path"), kms_key=text("kms_key"), tags=_pairs(form, "tag"))

    # ---- from a job (Clone, incremental training) ---------------------------------------------

    @classmethod
    def from_job(cls, description: dict, tags: list[dict], *, incremental: bool = False) -> "JobForm":
        spec = description["AlgorithmSpecification"]
        image = spec.get("TrainingImage")
        algorithm = algorithm_of(None, spec.get("AlgorithmName"), image)
        schema = algorithms.get(algorithm)
        # The table shows the schema's visible parameters; any other key (a hidden one, a platform
        # key) is kept as a free pair, so a clone sends what the job was sent.
        known = {p["name"] for p in schema.hyperparameters if not p["hidden"]} if schema else set()
        hps = description.get("HyperParameters") or {}
        resources = description["ResourceConfig"]
        channels = [ChannelForm.from_member(m) for m in description.get("InputDataConfig") or []
                    if not (incremental and m["ChannelName"] == MODEL_CHANNEL)]
        if incremental:
            channels.append(ChannelForm(MODEL_CHANNEL, "File", "FullyReplicated", "None", "", "None", "S3Prefix",
                                        description["ModelArtifacts"]["S3ModelArtifacts"]))
        output = description["OutputDataConfig"]
        return cls(job_name=_derived_name(description["TrainingJobName"], incremental), role_arn=description["RoleArn"],
                   algorithm=algorithm or CUSTOM_IMAGE, image_uri="" if algorithm else (image or ""),
                   input_mode=spec.get("TrainingInputMode", "File"), instance_type=resources["InstanceType"],
                   instance_count=str(resources["InstanceCount"]), volume_size=str(resources["VolumeSizeInGB"]),
                   max_runtime=str(description["StoppingCondition"].get("MaxRuntimeInSeconds",
                                                                        DEFAULT_MAX_RUNTIME_SECONDS)),
                   hyperparameters={k: v for k, v in hps.items() if k in known},
                   extra_hyperparameters=[(k, v) for k, v in hps.items() if k not in known],
                   channels=channels, output_path=output["S3OutputPath"], kms_key=output.get("KmsKeyId", ""),
                   tags=[(t["Key"], t.get("Value", "")) for t in tags])

    # ---- the buttons that change the form itself ----------------------------------------------

    def changed(self, action: str) -> "JobForm":
        """The form after Add channel, Remove (channel N), Add tag, ... (no-JS round trips)."""
        kind, _, index = action.partition(":")
        if kind == "add_channel":
            return replace(self, channels=[*self.channels, ChannelForm(name="")])
        if kind == "remove_channel" and index.isdigit():
            return replace(self, channels=[c for i, c in enumerate(self.channels) if i != int(index)])
        if kind == "add_tag":
            return replace(self, tags=[*self.tags, ("", "")])
        if kind == "remove_tag" and index.isdigit():
            return replace(self, tags=[t for i, t in enumerate(self.tags) if i != int(index)])
        if kind == "add_hyperparameter":
            return replace(self, extra_hyperparameters=[*self.extra_hyperparameters, ("", "")])
        return self

    # ---- the request ---------------------------------------------------------------------------

    def training_image(self, region: str) -> str:
        if self.algorithm == CUSTOM_IMAGE:
            return self.image_uri
        return f"{BUILT_IN_REGISTRY.format(region=region)}/{self.algorithm}:1"

    def hyperparameter_values(self) -> dict[str, str]:
        return {**self.hyperparameters, **{k.strip(): v for k, v in self.extra_hyperparameters if k.strip()}}

    def request(self, region: str) -> dict:
        """The CreateTrainingJob request; numbers the user typed that are not numbers stay text,
        so the API's own check names them."""
        output = {"S3OutputPath": self.output_path}
        if self.kms_key:
            output["KmsKeyId"] = self.kms_key
        request = {
            "TrainingJobName": self.job_name,
            "RoleArn": self.role_arn,
            "AlgorithmSpecification": {"TrainingImage": self.training_image(region),
                                       "TrainingInputMode": self.input_mode},
            "HyperParameters": self.hyperparameter_values(),
            "InputDataConfig": [c.member() for c in self.channels],
            "OutputDataConfig": output,
            "ResourceConfig": _present({"InstanceType": self.instance_type,
                                        "InstanceCount": _number(self.instance_count),
                                        "VolumeSizeInGB": _number(self.volume_size)}),
            "StoppingCondition": _present({"MaxRuntimeInSeconds": _number(self.max_runtime)}),
        }
        if self.tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in self.tags]
        return request


_CHANNEL_KEYS = ("name", "input_mode", "distribution", "compression", "content_type", "record_wrapper",
                 "s3_data_type", "s3_uri")


def _indices(form, prefix: str, key: str) -> list[int]:
    found = {int(m[1]) for name in form.keys() if (m := re.fullmatch(rf"{prefix}-(\d+)-{key}", name))}
    return sorted(found)


def _pairs(form, prefix: str) -> list[tuple[str, str]]:
    return [(form.get(f"{prefix}-{i}-key", "").strip(), form.get(f"{prefix}-{i}-value", ""))
            for i in _indices(form, prefix, "key")]


def _number(text: str):
    """A number field's value: an int, None when empty (the member is left out, and the API says
    whether it is required), else the text as typed (the API says it is not a number)."""
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _present(members: dict) -> dict:
    return {k: v for k, v in members.items() if v is not None}


def _derived_name(name: str, incremental: bool) -> str:
    """A free-looking name for the new job (the user may change it): `<name>-incremental`, or
    `<name>-copy`, cut so that it fits the 63 characters."""
    suffix = INCREMENTAL_SUFFIX if incremental else "-copy"
    return name[:MAX_JOB_NAME - len(suffix)].rstrip("-") + suffix


# ---- where an error belongs ----------------------------------------------------------------------

# One violation of a model check ("... failed to satisfy constraint: ...") or of a member's type
# ("... cannot be read as an integer"), as emulator.validation words them.
_VIOLATION = re.compile(r"Value (?:null|'.*?') at '(?P<path>[^']+)' (?:failed to satisfy constraint: |cannot be read "
                        r"as ).*?(?=; Value |$)", re.S)
_MEMBER_FIELDS = {
    "trainingJobName": "job_name", "roleArn": "role_arn", "algorithmSpecification.trainingImage": "image_uri",
    "algorithmSpecification.trainingInputMode": "input_mode", "resourceConfig.instanceType": "instance_type",
    "resourceConfig.instanceCount": "instance_count", "resourceConfig.volumeSizeInGB": "volume_size",
    "stoppingCondition.maxRuntimeInSeconds": "max_runtime", "outputDataConfig.s3OutputPath": "output_path",
    "outputDataConfig.kmsKeyId": "kms_key", "hyperParameters": "hyperparameters",
}
_CHANNEL_MEMBERS = {"channelName": "name", "inputMode": "input_mode", "contentType": "content_type",
                    "compressionType": "compression", "recordWrapperType": "record_wrapper",
                    "dataSource.s3DataSource.s3DataType": "s3_data_type",
                    "dataSource.s3DataSource.s3Uri": "s3_uri",
                    "dataSource.s3DataSource.s3DataDistributionType": "distribution"}
# Which field of a channel the emulator's own checks of it concern (by what they name; else its location).
_CHANNEL_MESSAGE_FIELDS = ((re.compile(r"must be unique"), "name"), (re.compile(r"S3DataType|AttributeNames"), "s3_data_type"),
                           (re.compile(r"CompressionType"), "compression"),
                           (re.compile(r"RecordWrapperType"), "record_wrapper"),
                           (re.compile(r"input mode|InputMode|ShuffleConfig", re.I), "input_mode"))
# Messages of the emulator's own checks that concern one field (by what they say).
_MESSAGE_FIELDS = ((re.compile(r"training job with this name already exists|TrainingJobName", re.I), "job_name"),
                   (re.compile(r"InstanceCount|--max-concurrent-jobs", re.I), "instance_count"),
                   (re.compile(r"VolumeSizeInGB", re.I), "volume_size"),
                   (re.compile(r"InstanceType|instance type", re.I), "instance_type"),
                   (re.compile(r"S3OutputPath|output path", re.I), "output_path"),
                   (re.compile(r"TrainingImage|AlgorithmName|image", re.I), "image_uri"),
                   (re.compile(r"\b[Tt]ags?\b"), "tags"))


def _member_field(path: str) -> str | None:
    if path in _MEMBER_FIELDS:
        return _MEMBER_FIELDS[path]
    channel = re.fullmatch(r"inputDataConfig\.(\d+)\.member\.(.+)", path)
    if channel and channel[2] in _CHANNEL_MEMBERS:
        return f"channel-{int(channel[1]) - 1}-{_CHANNEL_MEMBERS[channel[2]]}"
    tag = re.fullmatch(r"tags\.(\d+)\.member\.(key|value)", path)
    if tag:
        return f"tag-{int(tag[1]) - 1}-{tag[2]}"
    return None


def field_errors(message: str, form: JobForm) -> dict[str, str]:
    """Field name -> the part of the API's `message` about it. A model violation names its member
    (`inputDataConfig.2.member.channelName`); the emulator's own checks name a channel
    (`channel 'train'`) or a member; what concerns no single field is under ''."""
    found: dict[str, str] = {}
    for match in _VIOLATION.finditer(message):
        name = _member_field(match["path"]) or ""
        if name == "image_uri" and form.algorithm != CUSTOM_IMAGE:
            name = "algorithm"
        found[name] = f"{found[name]}; {match[0]}" if name in found else match[0]
    if found:
        return found
    channel = re.search(r"channel '([^']*)'|Channel names must be unique: '([^']*)'", message)
    if channel:
        named = channel[1] if channel[1] is not None else channel[2]
        member = next((key for pattern, key in _CHANNEL_MESSAGE_FIELDS if pattern.search(message)), "s3_uri")
        for i, c in enumerate(form.channels):
            if c.name.strip() == named:
                return {f"channel-{i}-{member}": message}
    for pattern, name in _MESSAGE_FIELDS:
        if pattern.search(message):
            # A built-in's image is the Algorithm choice (the Image URI field is not shown for it).
            return {"algorithm" if name == "image_uri" and form.algorithm != CUSTOM_IMAGE else name: message}
    return {"": message}
