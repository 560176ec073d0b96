"""Hyperparameter tuning jobs over a training service: create (checked up front), describe, list,
stop, their training jobs, and the loops that run them (emulator.tuning.loop).

A tuning job runs in the process that created it. A server that starts again finds the tuning
jobs it left InProgress or Stopping in the store and runs their loops again (`recover`).
"""
from __future__ import annotations

import copy
import logging
import os

from emulator import algorithms
from emulator.jobstate import now
from emulator.metrics import definitions_for
from emulator.spec import TrainingJobSpec
from emulator.store import DuplicateJob
from emulator.tuning import records
from emulator.tuning.loop import Trainer, resource_config, TuningLoop, training_request
from emulator.tuning.ranges import SearchSpace
from emulator.tuning.records import TuningState, tuning_job_arn
from emulator.tuning.strategy import finished_trial
from emulator.validation import RequestValidationError

log = logging.getLogger("smlocal.tuning")

# What an IdenticalDataAndAlgorithm parent must share with the new job's training definition.
IDENTICAL_MEMBERS = ("InputDataConfig",)


def not_found(name: str) -> RequestValidationError:
    return RequestValidationError(f"Amazon SageMaker can't find a tuning job with name {name}", "ResourceNotFound")


def name_taken(name: str) -> RequestValidationError:
    return RequestValidationError(f"Hyperparameter tuning job with name {name} already exists. Please choose a "
                                  f"different name.", "ResourceInUse")


def _algorithm_of(definition: dict) -> str | None:
    spec = definition.get("AlgorithmSpecification") or {}
    return spec.get("AlgorithmName") or spec.get("TrainingImage")


class TuningService:
    def __init__(self, trainer: Trainer, slots: int, region: str, account: str) -> None:
        self.trainer = trainer
        self.store = trainer.store
        self.slots = slots
        self.region = region
        self.account = account
        self.loops: dict[str, TuningLoop] = {}

    # ---- create -----------------------------------------------------------------------------

    def create(self, request: dict, tags: list[tuple[str, str]] = ()) -> str:
        """Validate, store and start the tuning job; its tags (which its training jobs get too, as on
        SageMaker) are stored before the first training job starts. Returns the ARN."""
        request = copy.deepcopy(request)
        name = request["HyperParameterTuningJobName"]
        if self.store.tuning_job(name) is not None:
            raise name_taken(name)
        self._check(request)
        state = TuningState(name, tuning_job_arn(name, self.region, self.account))
        request.pop("Tags", None)
        try:
            self.store.insert_tuning_job(name, state.arn, request, state.to_record())
        except DuplicateJob:
            raise name_taken(name) from None
        if tags:
            self.store.add_tags(state.arn, list(tags))
        self._start(name)
        return state.arn

    def _check(self, request: dict) -> None:
        """Everything the service refuses at CreateHyperParameterTuningJob; fills in the defaults
        Describe shows (the built-in's objective)."""
        if request.get("Autotune"):
            raise RequestValidationError("Autotune is not supported by smlocal; give the ranges and the strategy.")
        if request.get("TrainingJobDefinitions"):
            raise RequestValidationError("TrainingJobDefinitions (several algorithms in one tuning job) is not "
                                         "supported by smlocal; use TrainingJobDefinition.")
        definition = request.get("TrainingJobDefinition")
        if not definition:
            raise RequestValidationError("The request must have a TrainingJobDefinition.")
        if resource_config(definition) is None:
            raise RequestValidationError("The TrainingJobDefinition must have a ResourceConfig or a "
                                         "HyperParameterTuningResourceConfig.")
        config = request["HyperParameterTuningJobConfig"]
        space = SearchSpace.from_request(config.get("ParameterRanges") or definition.get("HyperParameterRanges"))
        config["ParameterRanges"] = config.get("ParameterRanges") or definition.get("HyperParameterRanges")
        static = definition.get("StaticHyperParameters") or {}
        both = sorted(set(static) & set(space.names))
        if both:
            raise RequestValidationError(f"The hyperparameters {both} are both static and tunable; a "
                                         f"hyperparameter can be only one of them.")
        strategy = config["Strategy"]
        limits = config["ResourceLimits"]
        if strategy == "Grid":
            size = space.grid_size()
            if limits.get("MaxNumberOfTrainingJobs", size) > size:
                raise RequestValidationError(f"MaxNumberOfTrainingJobs ({limits['MaxNumberOfTrainingJobs']}) is "
                                             f"more than the {size} combinations of the Grid strategy's ranges.")
        elif "MaxNumberOfTrainingJobs" not in limits:
            raise RequestValidationError(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} "
                                         f"strategy.")
        if limits["MaxParallelTrainingJobs"] > limits.get("MaxNumberOfTrainingJobs", space.grid_size()
                                                          if strategy == "Grid" else 1 << 30):
            raise RequestValidationError("MaxParallelTrainingJobs must not be greater than "
                                         "MaxNumberOfTrainingJobs.")
        if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise RequestValidationError("TrainingJobEarlyStoppingType must be Off for the Hyperband strategy, "
                                         "which stops training jobs early itself.")
        if strategy != "Hyperband" and (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"):
            raise RequestValidationError("HyperbandStrategyConfig applies to the Hyperband strategy only.")
        # The training definition as a training job would be checked (a probe name; nothing is created).
        probe = training_request(definition, "tuning-probe", space.hyperparameters(
            {d.name: d.distribution.low if hasattr(d.distribution, "low") else d.distribution.choices[0]
             for d in space.dimensions}))
        spec = TrainingJobSpec.from_request(probe)
        self._check_objective(config, definition, spec.algorithm)
        if spec.instance_count > self.slots:
            raise RequestValidationError(f"This server trains at most {self.slots} host(s) at once, and the "
                                         f"training definition asks for InstanceCount {spec.instance_count}.",
                                         "ResourceLimitExceeded")
        self._check_warm_start(request, definition)

    @staticmethod
    def _check_objective(config: dict, definition: dict, algorithm_name: str | None) -> None:
        algorithm = algorithms.get(algorithm_name)
        own = tuple((m["Name"], m["Regex"]) for m in
                    (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or [])
        names = [n for n, _ in definitions_for(algorithm.name if algorithm else None, own)]
        goal = config.get("HyperParameterTuningJobObjective") or (definition.get("TuningObjective"))
        if goal is None:
            if algorithm is None:
                raise RequestValidationError("The tuning job must have a HyperParameterTuningJobObjective: the "
                                             "algorithm has no default objective metric.")
            goal = {"Type": "Maximize", "MetricName": algorithm.objective}  # the built-ins' are all Maximize
        if goal["MetricName"] not in names:
            raise RequestValidationError(f"The objective metric {goal['MetricName']} is not defined for this "
                                         f"algorithm; its metric definitions: {', '.join(names) or 'none'}.")
        config["HyperParameterTuningJobObjective"] = goal
        # The service adds this static hyperparameter to every tuning job's training jobs (the
        # built-ins ignore it); the SDK's HyperparameterTuner.attach removes it again.
        definition["StaticHyperParameters"] = {**(definition.get("StaticHyperParameters") or {}),
                                               "_tuning_objective_metric": goal["MetricName"]}

    def _check_warm_start(self, request: dict, definition: dict) -> None:
        warm = request.get("WarmStartConfig")
        if not warm:
            return
        for parent in warm["ParentHyperParameterTuningJobs"]:
            name = parent["HyperParameterTuningJobName"]
            found = self.store.tuning_job(name)
            if found is None:
                raise not_found(name)
            parent_request, parent_state = found
            if parent_state["status"] in ("InProgress", "Stopping"):
                raise RequestValidationError(f"The parent tuning job {name} is {parent_state['status']}; a warm "
                                             f"start needs parents that have ended.")
            other = parent_request["TrainingJobDefinition"]
            if _algorithm_of(other) != _algorithm_of(definition):
                raise RequestValidationError(f"The parent tuning job {name} used another algorithm "
                                             f"({_algorithm_of(other)}); a warm start needs the same one.")
            if warm["WarmStartType"] == "IdenticalDataAndAlgorithm":
                for member in IDENTICAL_MEMBERS:
                    if other.get(member) != definition.get(member):
                        raise RequestValidationError(f"The parent tuning job {name} has another {member}; "
                                                     f"IdenticalDataAndAlgorithm needs the same data (use "
                                                     f"TransferLearning).")

    # ---- loops --------------------------------------------------------------------------------

    def _parents(self, name: str):
        request, _ = self.store.tuning_job(name)
        parents = [p["HyperParameterTuningJobName"] for p in
                   (request.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs", [])]

        def evaluated(space: SearchSpace) -> list:
            trials = []
            for parent in parents:
                parent_request, _ = self.store.tuning_job(parent)
                metric = records.objective(parent_request)["MetricName"]
                for stored in records.training_jobs(self.store, parent):
                    if stored.result.active:
                        continue
                    params = space.search_values(stored.request.get("HyperParameters", {}))
                    if params:
                        trials.append(finished_trial(params, space.distributions,
                                                     records.objective_value(stored, metric), []))
            return trials
        return evaluated

    def _start(self, name: str) -> None:
        request, record = self.store.tuning_job(name)
        if record["owner_pid"] != os.getpid():  # this process runs it from now on
            self.store.save_tuning_state(name, {**record, "owner_pid": os.getpid()})
        hosts = resource_config(request["TrainingJobDefinition"])["InstanceCount"]
        self.loops[name] = TuningLoop(self.trainer, name, max(1, self.slots // hosts), self._parents(name)).start()

    def recover(self) -> list[str]:
        """Run again the loops of the tuning jobs a previous server left InProgress or Stopping."""
        names = [name for name in self.store.tuning_job_names(status=("InProgress", "Stopping"))
                 if not TuningState.from_record(self.store.tuning_job(name)[1]).owner_alive()]
        for name in names:
            try:
                self._start(name)
            except Exception as exc:  # noqa: BLE001 - it must end with a reason, not stay InProgress
                log.exception("tuning job %s could not be continued", name)
                _, record = self.store.tuning_job(name)
                state = TuningState.from_record(record)
                state.end("Failed", f"InternalServerError: the tuning job could not be continued after a restart "
                                    f"of the server: {exc}")
                self.store.save_tuning_state(name, state.to_record())
        return names

    def shutdown(self) -> None:
        for loop in self.loops.values():
            loop.halt()

    # ---- queries and stop -----------------------------------------------------------------------

    def _get(self, name: str) -> tuple[dict, TuningState]:
        found = self.store.tuning_job(name)
        if found is None:
            raise not_found(name)
        return found[0], TuningState.from_record(found[1])

    def summaries(self, name: str) -> list[dict]:
        request, state = self._get(name)
        space = SearchSpace.from_request(request["HyperParameterTuningJobConfig"]["ParameterRanges"])
        return [records.training_summary(s, state.name, request, space)
                for s in records.training_jobs(self.store, state.name)]

    def describe(self, name: str) -> dict:
        request, state = self._get(name)
        summaries = self.summaries(name)
        status, goal = records.counters(summaries)
        direction = records.objective(request)["Type"]
        response = {"HyperParameterTuningJobName": state.name, "HyperParameterTuningJobArn": state.arn,
                    "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
                    "TrainingJobDefinition": request["TrainingJobDefinition"],
                    "HyperParameterTuningJobStatus": state.status, "CreationTime": state.creation_time,
                    "LastModifiedTime": state.last_modified_time,
                    "TrainingJobStatusCounters": status, "ObjectiveStatusCounters": goal,
                    "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": state.not_improving},
                    "ConsumedResources": {"RuntimeInSeconds": int(((state.end_time or now())
                                                                   - state.creation_time).total_seconds())}}
        if state.end_time:
            response["HyperParameterTuningEndTime"] = state.end_time
        if state.failure_reason:
            response["FailureReason"] = state.failure_reason
        best = records.best(summaries, direction)
        if best:
            response["BestTrainingJob"] = best
        warm = request.get("WarmStartConfig")
        if warm:
            response["WarmStartConfig"] = warm
            everyone = summaries + [s for p in warm["ParentHyperParameterTuningJobs"]
                                    for s in self.summaries(p["HyperParameterTuningJobName"])]
            overall = records.best(everyone, direction)
            if overall:
                response["OverallBestTrainingJob"] = overall
        return response

    def list(self, *, status: str | None, name_contains: str | None, sort_by: str, descending: bool) -> list[dict]:
        found = []
        for name in self.store.tuning_job_names(status=(status,) if status else (), name_contains=name_contains,
                                                sort_by=sort_by, descending=descending):
            request, state = self._get(name)
            status_counters, goal = records.counters(self.summaries(name))
            item = {"HyperParameterTuningJobName": state.name, "HyperParameterTuningJobArn": state.arn,
                    "HyperParameterTuningJobStatus": state.status,
                    "Strategy": request["HyperParameterTuningJobConfig"]["Strategy"],
                    "CreationTime": state.creation_time, "LastModifiedTime": state.last_modified_time,
                    "TrainingJobStatusCounters": status_counters, "ObjectiveStatusCounters": goal,
                    "ResourceLimits": request["HyperParameterTuningJobConfig"]["ResourceLimits"]}
            if state.end_time:
                item["HyperParameterTuningEndTime"] = state.end_time
            found.append(item)
        return found

    def stop(self, name: str) -> None:
        _, state = self._get(name)
        if state.status != "InProgress":
            raise RequestValidationError(f"The request was rejected because the hyperparameter tuning job is in "
                                         f"status {state.status}.")
        loop = self.loops.get(state.name)
        if loop is not None:
            loop.request_stop()
        elif state.owner_alive():  # `smlocal tune` runs it: its loop sees the Stopping and stops
            state.status = "Stopping"
            self.store.save_tuning_state(state.name, state.to_record())
        else:  # no loop runs it any more
            state.end("Stopped")
            self.store.save_tuning_state(state.name, state.to_record())
