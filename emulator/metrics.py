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

from emulator import algorithms


def definitions_for(algorithm: str | None, requested: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The request's own definitions, else the built-in's (emulator/algorithms.json)."""
    if requested:
        return requested
    known = algorithms.get(algorithm)
    return known.metric_definitions if known else ()


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
