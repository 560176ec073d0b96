"""Parameter ranges as the search sees them, and studies rebuilt from finished training jobs."""
import math

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from emulator.tuning.ranges import SearchSpace
from emulator.tuning.strategy import build_study, finished_trial
from emulator.validation import RequestValidationError


def space(**ranges):
    return SearchSpace.from_request(ranges)


def test_scaling_types_map_onto_optuna_distributions():
    found = space(IntegerParameterRanges=[{"Name": "batch", "MinValue": "8", "MaxValue": "64",
                                           "ScalingType": "Logarithmic"}],
                  ContinuousParameterRanges=[
                      {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.5", "ScalingType": "Auto"},
                      {"Name": "wd", "MinValue": "0.1", "MaxValue": "0.5", "ScalingType": "Auto"},
                      {"Name": "momentum", "MinValue": "0.5", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}],
                  CategoricalParameterRanges=[{"Name": "optimizer", "Values": ["sgd", "adam", "sgd"]}])
    d = found.distributions
    assert d["batch"] == IntDistribution(8, 64, log=True)
    assert d["lr"] == FloatDistribution(0.0001, 0.5, log=True)    # Auto over 3+ orders of magnitude: log
    assert d["wd"] == FloatDistribution(0.1, 0.5, log=False)      # Auto over less: linear
    # ReverseLogarithmic: 1 - value is searched log-uniformly, so values near 1 are searched finely.
    assert d["momentum"].log and d["momentum"].low == pytest.approx(0.001) and d["momentum"].high == 0.5
    assert d["optimizer"] == CategoricalDistribution(["sgd", "adam"])
    hp = found.hyperparameters({"batch": 16, "lr": 0.01, "wd": 0.2, "momentum": 0.01, "optimizer": "adam"})
    assert hp == {"batch": "16", "lr": "0.01", "wd": "0.2", "momentum": "0.99", "optimizer": "adam"}
    # And back, as a warm start reads a parent's jobs; values outside the range are left out.
    assert found.search_values({"momentum": "0.99", "batch": "128", "optimizer": "adam"}) == {
        "momentum": pytest.approx(0.01), "optimizer": "adam"}


@pytest.mark.parametrize("ranges, words", [
    ({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]},
     "greater than 0"),
    ({"IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "9",
                                  "ScalingType": "ReverseLogarithmic"}]}, "continuous ranges only"),
    ({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0.5", "MaxValue": "1",
                                     "ScalingType": "ReverseLogarithmic"}]}, "0 <= value < 1"),
    ({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "2", "MaxValue": "1"}]}, "greater than its MaxValue"),
    ({"IntegerParameterRanges": [{"Name": "x", "MinValue": "a", "MaxValue": "1"}]}, "not a valid integer"),
    ({"IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "2"}],
      "CategoricalParameterRanges": [{"Name": "x", "Values": ["1"]}]}, "more than one parameter range"),
    ({}, "at least one hyperparameter range"),
])
def test_ranges_the_service_refuses(ranges, words):
    with pytest.raises(RequestValidationError, match=words):
        SearchSpace.from_request(ranges)


def test_grid_is_categorical_ranges_only():
    grid = space(CategoricalParameterRanges=[{"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x"] * 2}])
    assert grid.grid() == {"a": ["1", "2"], "b": ["x"]} and grid.grid_size() == 2
    with pytest.raises(RequestValidationError, match="categorical parameter ranges only"):
        space(IntegerParameterRanges=[{"Name": "a", "MinValue": "1", "MaxValue": "3"}]).grid()


def test_a_rebuilt_study_holds_the_finished_jobs_and_samples_near_the_best():
    found = space(ContinuousParameterRanges=[{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}])
    evaluated = [finished_trial({"x": x}, found.distributions, 1 - (x - 0.3) ** 2, [0.1, 0.2])
                 for x in (0.05, 0.25, 0.32, 0.6, 0.95, 0.8, 0.5, 0.1)]
    evaluated.append(finished_trial({"x": 0.7}, found.distributions, None, []))  # a failed job
    study = build_study("Bayesian", "Maximize", found, {"Strategy": "Bayesian"}, 3, None, evaluated)
    assert len(study.trials) == 9 and study.best_params == {"x": 0.32}
    assert study.trials[0].intermediate_values == {1: 0.1, 2: 0.2}
    # TPE, seeded by those points, proposes near the good region more often than uniform would.
    proposals = []
    for _ in range(20):
        trial = study.ask(found.distributions)
        proposals.append(trial.params["x"])
        study.tell(trial, 1 - (trial.params["x"] - 0.3) ** 2)
    assert sum(abs(x - 0.3) < 0.2 for x in proposals) > 0.6 * len(proposals)  # uniform: 0.4
    assert not math.isnan(study.best_value)
