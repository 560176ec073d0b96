"""Hyperparameter tuning jobs through a real `smlocal api` and boto3, on a stand-in algorithm whose
validation accuracy is a known function of the tuned `x` (best at 0.3)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.functional.api.conftest import ACCESS_KEY, IC_IMAGE, LOG_GROUP, REPO, ROLE, SECRET_KEY, server_env

ALGORITHM = Path(__file__).with_name("tuning_algorithm.py")


@pytest.fixture
def tuning_api(make_server):
    env = server_env(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                     SMLOCAL_PROCESS_COMMAND=f"{sys.executable} {ALGORITHM}")
    return lambda home=None: make_server("--runner", "process", "--max-concurrent-jobs", "2", env=env, home=home)


@pytest.fixture
def tuning_request(tmp_path, data_dir):
    def build(name: str, max_jobs: int = 4, parallel: int = 2, strategy: str = "Random", static: dict | None = None,
              ranges: dict | None = None, **config) -> dict:
        return {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": {
                "Strategy": strategy,
                "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
                "ParameterRanges": ranges or {"ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}]},
                "RandomSeed": 7, **config},
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": IC_IMAGE, "TrainingInputMode": "File"},
                "RoleArn": ROLE,
                "StaticHyperParameters": {"epochs": "3", "seconds_per_epoch": "0.2", **(static or {})},
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": data_dir.as_uri()}}}],
                "OutputDataConfig": {"S3OutputPath": (tmp_path / "output").as_uri()},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600}},
        }
    return build


def wait_tuning(sm, name: str, timeout: float = 120, statuses=("Completed", "Failed", "Stopped")) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] in statuses:
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.3)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def accuracy(summary: dict) -> float:
    return summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def test_a_tuning_job_runs_ordinary_training_jobs_and_reports_the_best(tuning_api, tuning_request):
    api = tuning_api()
    sm, logs = api.client("sagemaker"), api.client("logs")
    arn = sm.create_hyper_parameter_tuning_job(**tuning_request("tune-one"))["HyperParameterTuningJobArn"]
    assert arn.endswith(":hyper-parameter-tuning-job/tune-one")
    done = wait_tuning(sm, "tune-one")
    assert done["HyperParameterTuningJobStatus"] == "Completed", done.get("FailureReason")
    assert done["TrainingJobStatusCounters"] == {"Completed": 4, "InProgress": 0, "RetryableError": 0,
                                                 "NonRetryableError": 0, "Stopped": 0}
    assert done["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    # No objective in the request: the built-in's, as Describe shows it.
    assert done["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize", "MetricName": "validation:accuracy"}
    assert done["ConsumedResources"]["RuntimeInSeconds"] >= 1

    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-one", SortBy="FinalObjectiveMetricValue")["TrainingJobSummaries"]
    assert len(jobs) == 4 and [accuracy(j) for j in jobs] == sorted((accuracy(j) for j in jobs), reverse=True)
    assert done["BestTrainingJob"]["TrainingJobName"] == jobs[0]["TrainingJobName"]
    for job in jobs:
        x = float(job["TunedHyperParameters"]["x"])
        assert 0 <= x <= 1 and accuracy(job) == pytest.approx(1 - (x - 0.3) ** 2, abs=1e-5)
        assert job["TrainingJobName"].startswith("tune-one-") and job["ObjectiveStatus"] == "Succeeded"
    assert len({j["TunedHyperParameters"]["x"] for j in jobs}) == 4

    # The training jobs are ordinary ones: Describe names the tuning job, the logs API has their log.
    child = sm.describe_training_job(TrainingJobName=jobs[0]["TrainingJobName"])
    assert child["TuningJobArn"] == arn and child["HyperParameters"]["epochs"] == "3"
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP,
                                        logStreamNamePrefix=f"{jobs[0]['TrainingJobName']}/")["logStreams"]
    assert len(streams) == 1
    listed = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [(t["HyperParameterTuningJobName"], t["Strategy"], t["HyperParameterTuningJobStatus"])
            for t in listed] == [("tune-one", "Random", "Completed")]
    assert sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-one", StatusEquals="Failed")["TrainingJobSummaries"] == []


def test_refusals_use_the_services_codes(tuning_api, tuning_request):
    sm = tuning_api().client("sagemaker")
    code, message = error_of(sm.create_hyper_parameter_tuning_job, **tuning_request("bad_name"))
    assert code == "ValidationException" and message.startswith(
        "1 validation error detected: Value 'bad_name' at 'hyperParameterTuningJobName' failed to satisfy constraint")
    unknown = tuning_request("bad-metric", HyperParameterTuningJobObjective={"Type": "Maximize",
                                                                             "MetricName": "validation:nope"})
    assert "validation:nope is not defined" in error_of(sm.create_hyper_parameter_tuning_job, **unknown)[1]
    grid = tuning_request("bad-grid", strategy="Grid")
    assert "categorical parameter ranges only" in error_of(sm.create_hyper_parameter_tuning_job, **grid)[1]
    log_range = tuning_request("bad-log", ranges={"ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]})
    assert "greater than 0" in error_of(sm.create_hyper_parameter_tuning_job, **log_range)[1]
    assert error_of(sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName="nope") == (
        "ResourceNotFound", "Amazon SageMaker can't find a tuning job with name nope")


def test_grid_runs_every_combination_once_and_stop_ends_stopped(tuning_api, tuning_request):
    sm = tuning_api().client("sagemaker")
    grid = tuning_request("tune-grid", max_jobs=3, strategy="Grid", ranges={"CategoricalParameterRanges": [
        {"Name": "x", "Values": ["0.1", "0.3", "0.9"]}]})
    del grid["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    grid["Tags"] = [{"Key": "project", "Value": "grid"}]
    arn = sm.create_hyper_parameter_tuning_job(**grid)["HyperParameterTuningJobArn"]
    done = wait_tuning(sm, "tune-grid")
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-grid")
    assert sm.list_tags(ResourceArn=arn)["Tags"] == grid["Tags"]
    for job in jobs["TrainingJobSummaries"]:  # the tuning job's tags go to every training job it launches
        assert sm.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"] == grid["Tags"]
    assert sorted(j["TunedHyperParameters"]["x"] for j in jobs["TrainingJobSummaries"]) == ["0.1", "0.3", "0.9"]
    assert done["BestTrainingJob"]["TunedHyperParameters"] == {"x": "0.3"}

    slow = tuning_request("tune-stop", max_jobs=6, static={"seconds_per_epoch": "5"})
    sm.create_hyper_parameter_tuning_job(**slow)
    time.sleep(2)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop")
    stopped = wait_tuning(sm, "tune-stop", timeout=60)
    assert stopped["HyperParameterTuningJobStatus"] == "Stopped"
    counters = stopped["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["Stopped"] == 2 and sum(counters.values()) == 2
    assert error_of(sm.stop_hyper_parameter_tuning_job, HyperParameterTuningJobName="tune-stop")[0] == \
        "ValidationException"


def test_completion_criteria_and_failed_jobs(tuning_api, tuning_request):
    sm = tuning_api().client("sagemaker")
    # Every x pays at least 0.51 (1 - 0.7^2), so the first job ends the search.
    target = tuning_request("tune-target", max_jobs=6, parallel=1,
                            TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.5})
    sm.create_hyper_parameter_tuning_job(**target)
    done = wait_tuning(sm, "tune-target")
    assert done["HyperParameterTuningJobStatus"] == "Completed"
    assert done["TrainingJobStatusCounters"]["Completed"] == 1

    failing = tuning_request("tune-fails", max_jobs=2, static={"fail_above": "-1"})
    sm.create_hyper_parameter_tuning_job(**failing)
    failed = wait_tuning(sm, "tune-fails")
    assert failed["HyperParameterTuningJobStatus"] == "Failed"
    assert "x=" in failed["FailureReason"] and "is too large" in failed["FailureReason"]
    assert failed["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert failed["ObjectiveStatusCounters"]["Failed"] == 2 and "BestTrainingJob" not in failed


def test_warm_start_seeds_the_search_and_reports_the_overall_best(tuning_api, tuning_request, tmp_path):
    sm = tuning_api().client("sagemaker")
    sm.create_hyper_parameter_tuning_job(**tuning_request("tune-parent", max_jobs=3))
    parent = wait_tuning(sm, "tune-parent")
    child = tuning_request("tune-child", max_jobs=2, strategy="Bayesian", WarmStartConfig={
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "tune-parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm"})
    child["WarmStartConfig"] = child["HyperParameterTuningJobConfig"].pop("WarmStartConfig")
    sm.create_hyper_parameter_tuning_job(**child)
    done = wait_tuning(sm, "tune-child")
    assert done["HyperParameterTuningJobStatus"] == "Completed"
    # The parents' jobs are not this job's: counted in neither counter, but in the overall best.
    assert done["TrainingJobStatusCounters"]["Completed"] == 2
    best = max([parent["BestTrainingJob"], done["BestTrainingJob"]], key=accuracy)
    assert done["OverallBestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert done["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    other_data = dict(child, HyperParameterTuningJobName="tune-other")
    channels = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": (tmp_path / "data").as_uri()}}}]
    other_data["TrainingJobDefinition"] = dict(child["TrainingJobDefinition"], InputDataConfig=channels)
    assert "IdenticalDataAndAlgorithm needs the same data" in error_of(sm.create_hyper_parameter_tuning_job,
                                                                       **other_data)[1]


@pytest.mark.parametrize("strategy", ["Random", "Grid"])
def test_a_killed_server_continues_its_tuning_job_without_losing_or_repeating_a_job(tuning_api, tuning_request,
                                                                                     tmp_path, strategy):
    home = tmp_path / "restart-home"
    api = tuning_api(home)
    sm = api.client("sagemaker")
    body = tuning_request("tune-restart", max_jobs=4, strategy=strategy, static={"seconds_per_epoch": "1"})
    if strategy == "Grid":  # no seed: nothing but the store can tell the restarted server what ran
        del body["HyperParameterTuningJobConfig"]["RandomSeed"]
        del body["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
        body["HyperParameterTuningJobConfig"]["ParameterRanges"] = {"CategoricalParameterRanges": [
            {"Name": "x", "Values": ["0.1", "0.3", "0.5", "0.9"]}]}
    sm.create_hyper_parameter_tuning_job(**body)
    time.sleep(2.5)  # the first two jobs run
    api.kill_server_only()
    sm = tuning_api(home).client("sagemaker")
    done = wait_tuning(sm, "tune-restart", timeout=120)
    assert done["HyperParameterTuningJobStatus"] == "Completed", done.get("FailureReason")
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-restart", MaxResults=100)["TrainingJobSummaries"]
    names = [j["TrainingJobName"] for j in jobs]
    # Four jobs in all, each once: those the kill interrupted ended Failed and count once, as such.
    assert len(names) == len(set(names)) == 4
    assert sum(done["TrainingJobStatusCounters"].values()) == 4
    assert done["TrainingJobStatusCounters"]["NonRetryableError"] >= 1
    assert done["TrainingJobStatusCounters"]["Completed"] >= 1
    if strategy == "Grid":  # every combination once, across the restart
        assert sorted(j["TunedHyperParameters"]["x"] for j in jobs) == ["0.1", "0.3", "0.5", "0.9"]


@pytest.mark.parametrize("strategy, config", [
    ("Random", {"TrainingJobEarlyStoppingType": "Auto"}),
    ("Hyperband", {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 4}}}),
])
def test_early_stopping_stops_poor_jobs_from_their_per_epoch_objective(tuning_api, tuning_request, strategy, config):
    sm = tuning_api().client("sagemaker")
    name = f"tune-{strategy.lower()}"
    sm.create_hyper_parameter_tuning_job(**tuning_request(name, max_jobs=8, parallel=1, strategy=strategy,
                                                          static={"epochs": "4", "seconds_per_epoch": "1.2"},
                                                          **config))
    done = wait_tuning(sm, name, timeout=120)
    assert done["HyperParameterTuningJobStatus"] == "Completed"
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name,
                                                                MaxResults=100)["TrainingJobSummaries"]
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    # Only the pruner stops a job here (without early stopping none is: the first test); a job
    # stopped early still reports the objective of the epochs it ran.
    assert stopped and done["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    assert all(job["ObjectiveStatus"] == "Succeeded" for job in stopped)
    assert done["BestTrainingJob"]["TrainingJobStatus"] == "Completed"


def test_smlocal_tune_runs_a_spec_file_and_the_api_on_its_home_sees_it(tuning_api, tuning_request, tmp_path):
    home = tmp_path / "cli-home"
    spec = tmp_path / "tuning.json"
    spec.write_text(json.dumps({**tuning_request("tune-cli", max_jobs=2), "Tags": [{"Key": "via", "Value": "cli"}]}))
    env = server_env(SMLOCAL_PROCESS_COMMAND=f"{sys.executable} {ALGORITHM}")
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(home), "tune", "--spec", str(spec)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Tuning job tune-cli: arn:aws:sagemaker:us-east-1:" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("Completed: 2 Completed; best tune-cli-00")
    sm = tuning_api(home).client("sagemaker")
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-cli")
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    assert sm.list_tags(ResourceArn=described["HyperParameterTuningJobArn"])["Tags"] == [{"Key": "via", "Value": "cli"}]
    again = subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(home), "tune", "--spec", str(spec)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "Error: ResourceInUse: Hyperparameter tuning job with name tune-cli" in \
        again.stderr


def test_training_definitions_may_carry_a_model_channel(tuning_api, tuning_request, tmp_path):
    """Several variants of one base model: every training job of the tuning job gets the model channel."""
    base = tmp_path / "base-model"
    base.mkdir()
    (base / "model.tar.gz").write_bytes(b"not read by the stand-in algorithm")
    sm = tuning_api().client("sagemaker")
    request = tuning_request("tune-variants", max_jobs=2)
    request["TrainingJobDefinition"]["InputDataConfig"].append(
        {"ChannelName": "model", "ContentType": "application/x-sagemaker-model", "InputMode": "File",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (base / "model.tar.gz").as_uri()}}})
    sm.create_hyper_parameter_tuning_job(**request)
    assert wait_tuning(sm, "tune-variants")["HyperParameterTuningJobStatus"] == "Completed"
    for job in sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tune-variants")["TrainingJobSummaries"]:
        described = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
        assert [c["ChannelName"] for c in described["InputDataConfig"]] == ["train", "model"]
