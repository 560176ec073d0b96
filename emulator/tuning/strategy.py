"""SageMaker's tuning strategies as Optuna samplers and pruners, and the study behind a tuning job.

    Bayesian  TPE (Optuna's TPESampler)            Random  RandomSampler
    Grid      every combination of the categorical ranges once, in a fixed order: each launch takes
              the first combination no earlier training job of the tuning job has (`next_grid_point`,
              read from the store, so a restarted server neither repeats nor skips one), given to
              the study as an enqueued trial
    Hyperband RandomSampler + HyperbandPruner, resource = epochs (HyperbandStrategyConfig's
              MinResource / MaxResource), fed the objective's per-epoch values from the job's log
    TrainingJobEarlyStoppingType=Auto (Bayesian, Random): MedianPruner, SageMaker's documented
              rule (stop a job whose objective is worse than the median of earlier jobs' at the
              same epoch)

The study lives in memory only: the store holds every training job's search values and its
metric values, so `build_study` rebuilds it from there, whenever a server starts one, and the
same way from parent tuning jobs for a warm start; `finished_trial` is what a finished training
job tells the search, whether it just ended or the study is rebuilt.
"""
from __future__ import annotations

import itertools
import logging

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from emulator.tuning.ranges import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)
log = logging.getLogger("smlocal.tuning")

# Jobs finished before the median rule may stop one (too few to know a median by).
MEDIAN_STARTUP_JOBS = 3
# Hyperband's defaults where HyperbandStrategyConfig leaves them out: SageMaker's own.
HYPERBAND_MIN_RESOURCE = 1


def sampler(strategy: str, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    if strategy == "Bayesian":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)
    return optuna.samplers.RandomSampler(seed=seed)  # Random, Hyperband; Grid's trials are all enqueued


def next_grid_point(space: SearchSpace, launched: list[dict]) -> dict | None:
    """The first combination of the grid that no launched training job has; None once all have run.
    (Optuna's GridSampler keeps which points it gave out in its own trial attributes, which a
    study rebuilt from the store after a restart would not have.)"""
    grid = space.grid()
    taken = {tuple(params.get(name) for name in grid) for params in launched}
    for point in itertools.product(*grid.values()):
        if point not in taken:
            return dict(zip(grid, point))
    return None


def pruner(config: dict, max_epochs: int | None) -> optuna.pruners.BasePruner:
    if config["Strategy"] == "Hyperband":
        hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
        return optuna.pruners.HyperbandPruner(min_resource=hyperband.get("MinResource", HYPERBAND_MIN_RESOURCE),
                                              max_resource=hyperband.get("MaxResource", max_epochs or "auto"))
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_JOBS, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def finished_trial(params: dict, distributions: dict[str, BaseDistribution], value: float | None,
                   curve: list[float]) -> FrozenTrial:
    """A finished training job as the search sees it: complete with its objective, else failed."""
    used = {name: distributions[name] for name in params if name in distributions}
    values = {name: params[name] for name in used}
    return create_trial(params=values, distributions=used,
                        value=value, state=TrialState.COMPLETE if value is not None else TrialState.FAIL,
                        intermediate_values=dict(enumerate(curve, start=1)))


def build_study(strategy: str, direction: str, space: SearchSpace, config: dict, seed: int | None,
                max_epochs: int | None, evaluated: list[FrozenTrial]) -> optuna.Study:
    study = optuna.create_study(direction="maximize" if direction == "Maximize" else "minimize",
                                sampler=sampler(strategy, space, seed), pruner=pruner(config, max_epochs))
    for trial in evaluated:
        study.add_trial(trial)
    return study
