"""The SageMaker hyperparameter tuning operations (requests already checked against botocore's model)."""
from __future__ import annotations

import copy

from emulator.api.paging import DEFAULT_LIST_RESULTS, decode_token, encode_token
from emulator.api.tags_ops import parse_tags
from emulator.metrics import definitions_for
from emulator.spec import algorithm_of
from emulator.tuning.loop import resource_config
from emulator.tuning.service import TuningService

_RANGE_KINDS = ("CategoricalParameterRanges", "ContinuousParameterRanges", "IntegerParameterRanges")

# ListTrainingJobsForHyperParameterTuningJob's sort keys -> how a summary sorts.
_SUMMARY_KEYS = {"Name": lambda s: s["TrainingJobName"], "CreationTime": lambda s: s["CreationTime"],
                 "Status": lambda s: s["TrainingJobStatus"]}


def _page(items: list[dict], params: dict, key: str) -> dict:
    limit = params.get("MaxResults", DEFAULT_LIST_RESULTS)
    offset = decode_token(params.get("NextToken"))
    response = {key: items[offset:offset + limit]}
    if len(items) > offset + limit:
        response["NextToken"] = encode_token(offset + limit)
    return response


def _with_defaults(description: dict) -> dict:
    """The description with what the service fills in when the request left it out, which SDK v2's
    HyperparameterTuner.attach reads by key: the definition's ResourceConfig (when the request gives
    HyperParameterTuningResourceConfig instead, as the SDK does, both are shown: ResourceConfig is what
    each training job gets), a built-in's MetricDefinitions (as DescribeTrainingJob lists them),
    TrainingJobEarlyStoppingType "Off" and all three kinds of ParameterRanges (empty lists)."""
    description = copy.deepcopy(description)
    definition = description.get("TrainingJobDefinition")
    if definition is not None:
        if "ResourceConfig" not in definition and resource_config(definition):
            definition["ResourceConfig"] = resource_config(definition)
        algorithm = definition["AlgorithmSpecification"]
        if not algorithm.get("MetricDefinitions"):
            name = algorithm_of((definition.get("Environment") or {}).get("SAGEMAKER_ALGORITHM"),
                                algorithm.get("AlgorithmName"), algorithm.get("TrainingImage"))
            builtin = [{"Name": n, "Regex": r} for n, r in definitions_for(name, ())]
            if builtin:
                algorithm["MetricDefinitions"] = builtin
    config = description["HyperParameterTuningJobConfig"]
    config.setdefault("TrainingJobEarlyStoppingType", "Off")
    ranges = config.setdefault("ParameterRanges", {})
    for kind in _RANGE_KINDS:
        ranges.setdefault(kind, [])
    return description


class TuningOperations:
    service = "sagemaker"
    rules = ()

    def __init__(self, tuning: TuningService) -> None:
        self.tuning = tuning
        self.operations = {
            "CreateHyperParameterTuningJob": self.create,
            "DescribeHyperParameterTuningJob": self.describe,
            "ListHyperParameterTuningJobs": self.list,
            "StopHyperParameterTuningJob": self.stop,
            "ListTrainingJobsForHyperParameterTuningJob": self.training_jobs,
        }

    def create(self, params: dict) -> dict:
        tags = parse_tags(params.get("Tags"), "tuning job")
        arn = self.tuning.create(params, tags)
        return {"HyperParameterTuningJobArn": arn}

    def describe(self, params: dict) -> dict:
        return _with_defaults(self.tuning.describe(params["HyperParameterTuningJobName"]))

    def list(self, params: dict) -> dict:
        found = self.tuning.list(status=params.get("StatusEquals"), name_contains=params.get("NameContains"),
                                 sort_by=params.get("SortBy", "CreationTime"),
                                 descending=params.get("SortOrder", "Descending") == "Descending")
        for key, keep in (("CreationTimeAfter", lambda s, t: s["CreationTime"] > t),
                          ("CreationTimeBefore", lambda s, t: s["CreationTime"] < t),
                          ("LastModifiedTimeAfter", lambda s, t: s["LastModifiedTime"] > t),
                          ("LastModifiedTimeBefore", lambda s, t: s["LastModifiedTime"] < t)):
            if key in params:
                found = [s for s in found if keep(s, params[key])]
        return _page(found, params, "HyperParameterTuningJobSummaries")

    def stop(self, params: dict) -> dict:
        self.tuning.stop(params["HyperParameterTuningJobName"])
        return {}

    def training_jobs(self, params: dict) -> dict:
        summaries = self.tuning.summaries(params["HyperParameterTuningJobName"])
        if params.get("StatusEquals"):
            summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
        descending = params.get("SortOrder", "Descending") == "Descending"
        sort_by = params.get("SortBy", "CreationTime")
        if sort_by == "FinalObjectiveMetricValue":
            # As the service does: jobs without an objective value are left out of this order.
            summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
            summaries.sort(key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                           reverse=descending)
        else:
            summaries.sort(key=_SUMMARY_KEYS[sort_by], reverse=descending)
        return _page(summaries, params, "TrainingJobSummaries")
