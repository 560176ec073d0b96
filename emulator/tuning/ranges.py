"""A tuning job's ParameterRanges as Optuna distributions, and the search's values as hyperparameters.

    space = SearchSpace.from_request(config["ParameterRanges"])
    space.distributions              # name -> optuna distribution (what the sampler draws from)
    space.hyperparameters(params)    # the search's values -> the training job's strings

Scaling types map onto what Optuna draws from: Linear a uniform distribution, Logarithmic a
log-uniform one. Optuna has no reverse-logarithmic scale, so a ReverseLogarithmic range
[a, b) is searched as `1 - x` log-uniform over [1 - b, 1 - a] (the search's value is `1 - x`;
the hyperparameter is `x`), which is what SageMaker's definition of that scale means: values
close to 1 are searched finely. Auto: logarithmic when the range is positive and spans two
orders of magnitude or more, otherwise linear (SageMaker does not say how it decides).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

from emulator.validation import RequestValidationError

AUTO_LOG_SPAN = 100.0  # max/min at which Auto scaling turns logarithmic


def _number(text: str, kind: type, name: str, what: str) -> float | int:
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise RequestValidationError(f"The {what} '{text}' of hyperparameter '{name}' is not a valid "
                                     f"{'integer' if kind is int else 'number'}.") from None


@dataclass(frozen=True)
class Dimension:
    name: str
    kind: str                  # Integer | Continuous | Categorical
    distribution: BaseDistribution
    reverse: bool = False      # ReverseLogarithmic: the search's value is 1 - hyperparameter

    def hyperparameter(self, value) -> str:
        if self.kind == "Categorical":
            return str(value)
        if self.kind == "Integer":
            return str(int(value))
        return repr(float(1.0 - value if self.reverse else value))

    def search_value(self, hyperparameter: str):
        """A training job's hyperparameter string as this dimension's search value (None if outside it)."""
        try:
            if self.kind == "Categorical":
                value = hyperparameter
            elif self.kind == "Integer":
                value = int(float(hyperparameter))
            else:
                value = float(hyperparameter)
                value = 1.0 - value if self.reverse else value
        except ValueError:
            return None
        distribution = self.distribution
        if isinstance(distribution, CategoricalDistribution):
            return value if value in distribution.choices else None
        return value if distribution.low <= value <= distribution.high else None


def _scaled(name: str, kind: str, low: float, high: float, scaling: str) -> Dimension:
    if low > high:
        raise RequestValidationError(f"The MinValue '{low}' of hyperparameter '{name}' is greater than its MaxValue "
                                     f"'{high}'.")
    if scaling == "Auto":
        scaling = "Logarithmic" if low > 0 and high / low >= AUTO_LOG_SPAN else "Linear"
    if scaling == "Logarithmic" and low <= 0:
        raise RequestValidationError(f"The hyperparameter '{name}' uses Logarithmic scaling, which needs a range of "
                                     f"values greater than 0; MinValue is '{low}'.")
    if scaling == "ReverseLogarithmic":
        if kind == "Integer":
            raise RequestValidationError(f"The hyperparameter '{name}' is an integer range; ReverseLogarithmic "
                                         f"scaling applies to continuous ranges only.")
        if not 0 <= low or not high < 1:
            raise RequestValidationError(f"The hyperparameter '{name}' uses ReverseLogarithmic scaling, which needs "
                                         f"a range within 0 <= value < 1; got [{low}, {high}].")
        return Dimension(name, kind, FloatDistribution(1.0 - high, 1.0 - low, log=True), reverse=True)
    log = scaling == "Logarithmic"
    if kind == "Integer":
        return Dimension(name, kind, IntDistribution(int(low), int(high), log=log))
    return Dimension(name, kind, FloatDistribution(float(low), float(high), log=log))


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    @classmethod
    def from_request(cls, ranges: dict | None) -> "SearchSpace":
        ranges = ranges or {}
        dimensions: list[Dimension] = []
        for item in ranges.get("IntegerParameterRanges", []):
            low = _number(item["MinValue"], int, item["Name"], "MinValue")
            high = _number(item["MaxValue"], int, item["Name"], "MaxValue")
            dimensions.append(_scaled(item["Name"], "Integer", low, high, item.get("ScalingType", "Auto")))
        for item in ranges.get("ContinuousParameterRanges", []):
            low = _number(item["MinValue"], float, item["Name"], "MinValue")
            high = _number(item["MaxValue"], float, item["Name"], "MaxValue")
            if not (math.isfinite(low) and math.isfinite(high)):
                raise RequestValidationError(f"The range of hyperparameter '{item['Name']}' must be finite.")
            dimensions.append(_scaled(item["Name"], "Continuous", low, high, item.get("ScalingType", "Auto")))
        for item in ranges.get("CategoricalParameterRanges", []):
            values = list(dict.fromkeys(item["Values"]))  # a repeated value is one choice
            dimensions.append(Dimension(item["Name"], "Categorical", CategoricalDistribution(values)))
        names = [d.name for d in dimensions]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise RequestValidationError(f"The hyperparameters {repeated} appear in more than one parameter range.")
        if not dimensions:
            raise RequestValidationError("The tuning job must have at least one hyperparameter range in "
                                         "ParameterRanges.")
        return cls(tuple(dimensions))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {d.name: d.distribution for d in self.dimensions}

    def hyperparameters(self, params: dict) -> dict[str, str]:
        return {d.name: d.hyperparameter(params[d.name]) for d in self.dimensions if d.name in params}

    def search_values(self, hyperparameters: dict[str, str]) -> dict:
        """Of a training job's hyperparameters, those inside this space, as search values (warm start)."""
        found = {}
        for dimension in self.dimensions:
            if dimension.name in hyperparameters:
                value = dimension.search_value(hyperparameters[dimension.name])
                if value is not None:
                    found[dimension.name] = value
        return found

    def grid(self) -> dict[str, list]:
        """Every value of every range (Grid strategy): categorical ranges only, as SageMaker has it."""
        others = [d.name for d in self.dimensions if d.kind != "Categorical"]
        if others:
            raise RequestValidationError(f"The Grid strategy supports categorical parameter ranges only; "
                                         f"{others} are integer or continuous ranges.")
        return {d.name: list(d.distribution.choices) for d in self.dimensions}

    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.grid().values())
