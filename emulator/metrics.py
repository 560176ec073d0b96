"""Final metrics from the log, through metric-definition regexes (SageMaker's FinalMetricDataList).

Built-in algorithms come with their own definitions; a request's MetricDefinitions replace
them. The last value a regex captured is the final value, as SageMaker reports it.
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

BUILTIN_METRIC_DEFINITIONS: dict[str, tuple[tuple[str, str], ...]] = {
    # Log lines like "Epoch[3] Train-accuracy=0.5" (MXNet Module fit logging).
    "image-classification": (
        ("train:accuracy", r"Epoch\[\d+\] Train-accuracy=" + _NUMBER),
        ("validation:accuracy", r"Epoch\[\d+\] Validation-accuracy=" + _NUMBER),
        ("validation:top_k_accuracy", r"Epoch\[\d+\] Validation-top_k_accuracy_\d+=" + _NUMBER),
    ),
    # The definitions the SageMaker console shows for an object detection job.
    "object-detection": (
        ("train:progress", r"#progress_metric: host=\S+, completed (\S+) %"),
        ("train:smooth_l1", r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train smooth_l1 <loss>=(\S+)"),
        ("train:cross_entropy", r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train cross_entropy <loss>=(\S+)"),
        ("train:throughput", r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"),
        ("validation:mAP", r"#quality_metric: host=\S+, epoch=\S+, validation mAP <score>=\((\S+)\)"),
    ),
    # Same line family as object detection; values may or may not be in parentheses.
    "semantic-segmentation": (
        ("validation:mIOU", r"#quality_metric: host=\S+, epoch=\S+, validation mIOU <score>=\(?" + _NUMBER),
        ("validation:pixel_accuracy",
         r"#quality_metric: host=\S+, epoch=\S+, validation pixel_accuracy <score>=\(?" + _NUMBER),
        ("train:loss", r"#quality_metric: host=\S+, epoch=\S+, train loss <loss>=\(?" + _NUMBER),
        ("train:throughput", r"#throughput_metric: host=\S+, train throughput=\(?" + _NUMBER + r"\)? records/second"),
    ),
}


def definitions_for(algorithm: str | None, requested: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if requested:
        return requested
    return BUILTIN_METRIC_DEFINITIONS.get(algorithm or "", ())


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float
    timestamp: datetime

    def to_api(self) -> dict:
        return {"MetricName": self.name, "Value": self.value, "Timestamp": self.timestamp}


class MetricCollector:
    """Fed every log line (from any host's thread); keeps the last value per metric.

    `on_value` (optional) sees every captured value, e.g. to keep the whole time series.
    """

    def __init__(self, definitions: tuple[tuple[str, str], ...],
                 on_value: Callable[[MetricValue], None] | None = None) -> None:
        self._patterns = [(name, re.compile(regex)) for name, regex in definitions]
        self._last: dict[str, MetricValue] = {}
        self._lock = threading.Lock()
        self._on_value = on_value

    def feed(self, line: str, when: datetime) -> None:
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (TypeError, ValueError, IndexError):
                continue
            if math.isfinite(value):
                captured = MetricValue(name, value, when)
                with self._lock:
                    self._last[name] = captured
                if self._on_value:
                    self._on_value(captured)

    def final(self) -> list[MetricValue]:
        with self._lock:
            return [self._last[name] for name, _ in self._patterns if name in self._last]
