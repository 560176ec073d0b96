"""CloudWatch metrics of training jobs: GetMetricStatistics and ListMetrics.

Every value a metric definition captures from a job's log is a data point in namespace
`/aws/sagemaker/TrainingJobs` with the dimension `TrainingJobName`, as SageMaker publishes them
(what the SDK's TrainingJobAnalytics reads). Periods are aligned to multiples of `Period`
seconds since the epoch, as CloudWatch aligns them.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from emulator.api.errors import ApiError
from emulator.store import JobStore

NAMESPACE = "/aws/sagemaker/TrainingJobs"
DIMENSION = "TrainingJobName"
MAX_DATAPOINTS = 1440
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")


def _combination(message: str) -> ApiError:
    return ApiError("InvalidParameterCombination", message)


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


def statistics(values: list[float], wanted: list[str], extended: list[str]) -> dict:
    point = {}
    for name in wanted:
        point[name] = {"SampleCount": float(len(values)), "Sum": sum(values), "Minimum": min(values),
                       "Maximum": max(values), "Average": sum(values) / len(values)}[name]
    if extended:
        ordered = sorted(values)
        point["ExtendedStatistics"] = {p: _percentile(ordered, float(p[1:])) for p in extended}
    return point


class MetricsOperations:
    service = "cloudwatch"
    rules = ()

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.operations = {"GetMetricStatistics": self.get_metric_statistics, "ListMetrics": self.list_metrics}

    def get_metric_statistics(self, params: dict) -> dict:
        wanted, extended = params.get("Statistics") or [], params.get("ExtendedStatistics") or []
        if not wanted and not extended:
            raise _combination("At least one of the parameters Statistics and ExtendedStatistics must be specified.")
        for p in extended:
            if not _PERCENTILE.match(p):
                raise ApiError("InvalidParameterValue", f"The value {p} for parameter ExtendedStatistics is not "
                                                        f"supported: use percentiles p0 to p100, e.g. p90 or p99.9.")
        start, end, period = params["StartTime"], params["EndTime"], params["Period"]
        if end <= start:
            raise ApiError("InvalidParameterValue", "The parameter StartTime must be less than the parameter "
                                                    "EndTime.")
        requested = math.ceil((end - start).total_seconds() / period)
        if requested > MAX_DATAPOINTS:
            raise _combination(f"You have requested up to {requested} datapoints, which exceeds the limit of "
                               f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
                               f"or decreasing the time range.")
        response = {"Label": params["MetricName"], "Datapoints": []}
        dimensions = {d["Name"]: d["Value"] for d in params.get("Dimensions") or []}
        if params["Namespace"] != NAMESPACE or set(dimensions) != {DIMENSION} or params.get("Unit", "None") != "None":
            # CloudWatch has no such metric (training metrics carry no unit): no data, not an error.
            return response
        buckets: dict[int, list[float]] = {}
        for point in self.store.metric_values(dimensions[DIMENSION], params["MetricName"],
                                              start.timestamp(), end.timestamp()):
            buckets.setdefault(int(point.timestamp // period) * period, []).append(point.value)
        for bucket, values in sorted(buckets.items()):
            response["Datapoints"].append({"Timestamp": datetime.fromtimestamp(bucket, timezone.utc),
                                           **statistics(values, wanted, extended), "Unit": "None"})
        return response

    def list_metrics(self, params: dict) -> dict:
        namespace = params.get("Namespace")
        if namespace not in (None, NAMESPACE):
            return {"Metrics": []}
        filters = params.get("Dimensions") or []
        if any(f["Name"] != DIMENSION for f in filters):
            return {"Metrics": []}
        job = next((f.get("Value") for f in filters if f.get("Value")), None)
        metrics = []
        for job_name, metric in self.store.metric_names(job):
            if params.get("MetricName") not in (None, metric):
                continue
            metrics.append({"Namespace": NAMESPACE, "MetricName": metric,
                            "Dimensions": [{"Name": DIMENSION, "Value": job_name}]})
        return {"Metrics": metrics}
