"""SageMaker training-job operations through boto3 against a running `smlocal api`."""
import json
import tarfile
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from tests.functional.api.conftest import IC_IMAGE, LOG_GROUP, smlocal_cli, stream_messages, wait_for


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_a_job_runs_to_completed_with_what_describe_and_the_sdk_read(api, job_request):
    sm = api.client("sagemaker")
    lines = ["Epoch[0] Train-accuracy=0.25", "Epoch[0] Validation-accuracy=0.5", "Epoch[1] Train-accuracy=0.75"]
    request = job_request("api-complete", {"lines": lines, "sleep": 0.5},
                          Tags=[{"Key": "team", "Value": "vision"}],
                          DebugHookConfig={"S3OutputPath": "s3://bucket/debug", "CollectionConfigurations": []},
                          ProfilerConfig={"S3OutputPath": "s3://bucket/profiler", "DisableProfiler": False})
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/api-complete"

    done = wait_for(sm, "api-complete")
    assert (done["TrainingJobStatus"], done["SecondaryStatus"]) == ("Completed", "Completed")
    assert [t["Status"] for t in done["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t["StatusMessage"] for t in done["SecondaryStatusTransitions"])
    assert done["ResourceConfig"]["InstanceCount"] == 1
    assert done["LastModifiedTime"] >= done["CreationTime"]
    assert done["TrainingTimeInSeconds"] >= 1 and done["BillableTimeInSeconds"] == done["TrainingTimeInSeconds"]
    assert done["HyperParameters"] == request["HyperParameters"]
    assert done["DebugHookConfig"] == request["DebugHookConfig"] and done["ProfilerConfig"]["DisableProfiler"] is False
    assert done["AlgorithmSpecification"]["TrainingImage"] == IC_IMAGE
    # Built-in image without MetricDefinitions: the built-in definitions applied and are listed.
    assert [m["Name"] for m in done["AlgorithmSpecification"]["MetricDefinitions"]] == [
        "train:accuracy", "validation:accuracy", "validation:top_k_accuracy"]
    assert {m["MetricName"]: m["Value"] for m in done["FinalMetricDataList"]} == {
        "train:accuracy": 0.75, "validation:accuracy": 0.5}
    model = urlparse(done["ModelArtifacts"]["S3ModelArtifacts"]).path
    assert model.endswith("/api-complete/output/model.tar.gz")
    with tarfile.open(model) as tar:
        assert "model-algo-1.txt" in tar.getnames()
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "vision"}]


def test_validation_errors_use_the_services_codes_and_wording(api, job_request):
    sm = api.client("sagemaker")
    code, message = error_of(sm.create_training_job, **job_request("bad_name"))
    assert code == "ValidationException"
    assert message == ("1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    bad = job_request("bad-enum", ResourceConfig={"InstanceType": "ml.nope.large", "InstanceCount": 1,
                                                  "VolumeSizeInGB": 1})
    code, message = error_of(sm.create_training_job, **bad)
    assert code == "ValidationException" and message.startswith("1 validation error detected: Value 'ml.nope.large' "
                                                                "at 'resourceConfig.instanceType' failed to satisfy "
                                                                "constraint: Member must satisfy enum value set: [")
    long_value = job_request("long-hp", {"x": "v" * 2501})
    assert "Map value must satisfy constraint: [Member must have length less than or equal to 2500]" in \
        error_of(sm.create_training_job, **long_value)[1]
    assert error_of(sm.describe_training_job, TrainingJobName="no-such-job") == (
        "ValidationException", "Requested resource not found.")
    assert error_of(sm.stop_training_job, TrainingJobName="no-such-job")[1] == "Requested resource not found."
    relative_path = job_request("relative-output", OutputDataConfig={"S3OutputPath": "tmp/out"})
    assert "at 'outputDataConfig.s3OutputPath' failed to satisfy constraint: Member must satisfy regular " \
           "expression pattern: ^(https|s3)://([^/]+)/?(.*)" in error_of(sm.create_training_job, **relative_path)[1]
    # Nothing was created for refused requests.
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    assert not (api.home / "jobs").exists() or not any((api.home / "jobs").iterdir())


def test_duplicate_names_are_resource_in_use_regardless_of_case(api, job_request):
    sm = api.client("sagemaker")
    sm.create_training_job(**job_request("Dup-Job"))
    for name in ("Dup-Job", "dup-job"):
        code, message = error_of(sm.create_training_job, **job_request(name))
        assert code == "ResourceInUse"
        assert message.endswith("a training job with this name already exists "
                                "(arn:aws:sagemaker:us-east-1:123456789012:training-job/dup-job)")
    wait_for(sm, "Dup-Job")
    assert [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]] == ["Dup-Job"]


def test_stop_ends_a_running_job_stopped_with_artifacts_and_a_finished_job_cannot_stop(api, job_request):
    sm = api.client("sagemaker")
    sm.create_training_job(**job_request("api-stop", {"lines": ["ready"], "sleep": 60}))
    wait_for(sm, "api-stop", statuses=("Training",))
    logs = api.client("logs")
    deadline = time.monotonic() + 20
    while "ready" not in stream_messages(logs, "api-stop"):  # its SIGTERM handler is installed by then
        assert time.monotonic() < deadline, "the algorithm never said ready"
        time.sleep(0.05)
    sm.stop_training_job(TrainingJobName="api-stop")
    assert sm.describe_training_job(TrainingJobName="api-stop")["TrainingJobStatus"] in ("Stopping", "Stopped")
    done = wait_for(sm, "api-stop", timeout=30)
    assert (done["TrainingJobStatus"], done["SecondaryStatus"]) == ("Stopped", "Stopped")
    with tarfile.open(urlparse(done["ModelArtifacts"]["S3ModelArtifacts"]).path) as tar:
        assert "stopped.txt" in tar.getnames()
    assert error_of(sm.stop_training_job, TrainingJobName="api-stop") == (
        "ValidationException", "The request was rejected because the training job is in status Stopped.")


def test_failed_job_reports_the_failure_file(api, job_request):
    sm = api.client("sagemaker")
    sm.create_training_job(**job_request("api-fail", {"failure": "ClientError: num_classes is missing",
                                                      "exit_code": 2}))
    done = wait_for(sm, "api-fail")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"] == "ClientError: num_classes is missing"
    assert error_of(sm.stop_training_job, TrainingJobName="api-fail")[1] == (
        "The request was rejected because the training job is in status Failed.")


def test_jobs_beyond_the_limit_wait_in_starting_and_run_in_order(make_server, job_request):
    api = make_server("--runner", "process", "--max-concurrent-jobs", "1")
    sm = api.client("sagemaker")
    sm.create_training_job(**job_request("slot-first", {"lines": ["ready"], "sleep": 3}))
    wait_for(sm, "slot-first", statuses=("Training",))
    sm.create_training_job(**job_request("slot-second"))
    sm.create_training_job(**job_request("slot-third"))
    waiting = sm.describe_training_job(TrainingJobName="slot-third")
    assert (waiting["TrainingJobStatus"], waiting["SecondaryStatus"]) == ("InProgress", "Starting")
    assert waiting["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith(
        "Waiting for a free training slot: 2 job(s) ahead")
    assert sm.describe_training_job(TrainingJobName="slot-second")["SecondaryStatus"] == "Starting"

    # A waiting job can be stopped without waiting for the running one.
    sm.stop_training_job(TrainingJobName="slot-third")
    assert wait_for(sm, "slot-third", timeout=10)["TrainingJobStatus"] == "Stopped"
    assert sm.describe_training_job(TrainingJobName="slot-first")["TrainingJobStatus"] == "InProgress"

    first, second = wait_for(sm, "slot-first"), wait_for(sm, "slot-second")
    assert second["TrainingStartTime"] >= first["TrainingEndTime"] - timedelta(seconds=0.5)
    assert second["SecondaryStatusTransitions"][0]["StatusMessage"] == "Preparing the instances for training"


def test_list_training_jobs_filters_sorts_and_pages(api, job_request):
    sm = api.client("sagemaker")
    names = ["list-a", "list-b", "other-c", "list-d"]
    for name in names:
        sm.create_training_job(**job_request(name, {"exit_code": 1} if name == "list-b" else None))
        time.sleep(0.02)
    for name in names:
        wait_for(sm, name)
    every = sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in every] == names  # default: CreationTime, Ascending
    assert set(every[0]) >= {"TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingJobStatus",
                             "LastModifiedTime", "SecondaryStatus", "TrainingEndTime"}
    newest_first = sm.list_training_jobs(SortOrder="Descending")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in newest_first] == names[::-1]
    by_name = sm.list_training_jobs(SortBy="Name", NameContains="LIST")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in by_name] == ["list-a", "list-b", "list-d"]
    assert [j["TrainingJobName"] for j in sm.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"]] \
        == ["list-b"]
    created_b = every[1]["CreationTime"]
    after = sm.list_training_jobs(CreationTimeAfter=created_b)["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in after] == ["other-c", "list-d"]

    pages, token = [], None
    while True:
        page = sm.list_training_jobs(MaxResults=3, **({"NextToken": token} if token else {}))
        pages.append([j["TrainingJobName"] for j in page["TrainingJobSummaries"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [names[:3], names[3:]]
    paginated = [j["TrainingJobName"] for p in sm.get_paginator("list_training_jobs").paginate(
        PaginationConfig={"PageSize": 1}) for j in p["TrainingJobSummaries"]]
    assert paginated == names
    assert error_of(sm.list_training_jobs, NextToken="garbage")[0] == "ValidationException"


def test_tags_add_list_delete(api, job_request):
    sm = api.client("sagemaker")
    arn = sm.create_training_job(**job_request("tagged", Tags=[{"Key": "a", "Value": "1"}]))["TrainingJobArn"]
    added = sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    assert added["Tags"] == [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert error_of(sm.add_tags, ResourceArn=arn, Tags=[{"Key": "aws:x", "Value": "1"}])[0] == "ValidationException"
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert "at most 50 tags" in error_of(sm.add_tags, ResourceArn=arn, Tags=too_many)[1]
    unknown = arn.replace("tagged", "missing")
    assert error_of(sm.list_tags, ResourceArn=unknown) == ("ValidationException", "Requested resource not found.")
    wait_for(sm, "tagged")


def test_log_streams_and_events_as_the_sdk_reads_them(make_server, job_request):
    api = make_server("--runner", "process", "--max-concurrent-jobs", "2")  # the 2-host job takes both slots
    sm, logs = api.client("sagemaker"), api.client("logs")
    assert logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="logs-job/")["logStreams"] == []
    lines = [f"line {i}" for i in range(5)]
    sm.create_training_job(**job_request("logs-job", {"lines": lines, "sleep": 0.2},
                                         ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2,
                                                         "VolumeSizeInGB": 1}))
    wait_for(sm, "logs-job")
    # What the SDK sends: prefix "<job>/", ordered by name, limit = instance count; no nextToken back.
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="logs-job/",
                                        orderBy="LogStreamName", limit=2)
    assert "nextToken" not in streams
    names = [s["logStreamName"] for s in streams["logStreams"]]
    assert [n.rsplit("-", 1)[0] for n in names] == ["logs-job/algo-1", "logs-job/algo-2"]
    assert all(n.rsplit("-", 1)[1].isdigit() for n in names)
    for name in names:
        first = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, startTime=0, startFromHead=True)
        messages = [e["message"] for e in first["events"]]
        assert [m for m in messages if m.startswith("line ")] == lines
        assert all(set(e) == {"timestamp", "message", "ingestionTime"} for e in first["events"])
        timestamps = [e["timestamp"] for e in first["events"]]
        assert timestamps == sorted(timestamps)
        # The last page is empty and hands back the same forward token.
        last = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, startFromHead=True,
                                   nextToken=first["nextForwardToken"])
        assert last["events"] == [] and last["nextForwardToken"] == first["nextForwardToken"]
        # startTime is inclusive: the SDK re-reads from the last timestamp it saw.
        since = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, startTime=timestamps[-1],
                                    startFromHead=True)["events"]
        assert since and all(e["timestamp"] == timestamps[-1] for e in since)
        assert since[-1]["message"] == messages[-1]
        # Paging forward with small pages gives the same events; backward paging from the tail too.
        paged, token = [], None
        while True:
            page = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, startFromHead=True, limit=2,
                                       **({"nextToken": token} if token else {}))
            if not page["events"]:
                break
            paged += [e["message"] for e in page["events"]]
            token = page["nextForwardToken"]
        assert paged == messages
        tail = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, limit=2)
        assert [e["message"] for e in tail["events"]] == messages[-2:]
        before = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, limit=2,
                                     nextToken=tail["nextBackwardToken"])
        assert [e["message"] for e in before["events"]] == messages[-4:-2]
    # The emulator's notes (runner, staging, packing) are in the first host's stream, marked.
    assert any(m.startswith("[smlocal] Runner: process") for m in stream_messages(logs, "logs-job"))
    code, _ = error_of(logs.get_log_events, logGroupName=LOG_GROUP, logStreamName="logs-job/algo-9-1")
    assert code == "ResourceNotFoundException"
    assert error_of(logs.describe_log_streams, logGroupName="/aws/other")[0] == "ResourceNotFoundException"


def test_metrics_from_metric_definitions_reach_cloudwatch(api, job_request):
    sm, cloudwatch = api.client("sagemaker"), api.client("cloudwatch")
    definitions = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    request = job_request("metrics-job", {"lines": ["loss=4", "loss=2", "noise", "loss=3"]})
    request["AlgorithmSpecification"]["MetricDefinitions"] = definitions
    sm.create_training_job(**request)
    done = wait_for(sm, "metrics-job")
    assert done["AlgorithmSpecification"]["MetricDefinitions"] == definitions  # the request's, not the built-in's
    assert [(m["MetricName"], m["Value"]) for m in done["FinalMetricDataList"]] == [("loss", 3.0)]
    start = done["CreationTime"] - timedelta(minutes=5)
    stats = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs", MetricName="loss", StartTime=start,
        EndTime=datetime.now(timezone.utc) + timedelta(minutes=5), Period=3600,
        Dimensions=[{"Name": "TrainingJobName", "Value": "metrics-job"}],
        Statistics=["Average", "Minimum", "Maximum", "SampleCount", "Sum"], ExtendedStatistics=["p50"])
    (point,) = stats["Datapoints"]
    assert (point["Average"], point["Minimum"], point["Maximum"], point["SampleCount"], point["Sum"]) == (
        3.0, 2.0, 4.0, 3.0, 9.0)
    assert point["ExtendedStatistics"] == {"p50": 3.0}
    listed = cloudwatch.list_metrics(Namespace="/aws/sagemaker/TrainingJobs",
                                     Dimensions=[{"Name": "TrainingJobName", "Value": "metrics-job"}])["Metrics"]
    assert [m["MetricName"] for m in listed] == ["loss"]
    code, _ = error_of(cloudwatch.get_metric_statistics, Namespace="/aws/sagemaker/TrainingJobs", MetricName="loss",
                       StartTime=start, EndTime=start + timedelta(days=2), Period=60, Statistics=["Average"])
    assert code == "InvalidParameterCombination"


def test_gpu_instance_type_trains_on_cpu_with_a_warning_or_fails_when_strict(make_server, job_request, tmp_path):
    gpu = {"InstanceType": "ml.p2.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 1}
    relaxed = make_server("--runner", "process")
    sm, logs = relaxed.client("sagemaker"), relaxed.client("logs")
    sm.create_training_job(**job_request("gpu-warn", ResourceConfig=gpu))
    assert wait_for(sm, "gpu-warn")["TrainingJobStatus"] == "Completed"
    assert "WARNING: instance type ml.p2.xlarge has GPUs, but this machine has none; training on CPU." in \
        stream_messages(logs, "gpu-warn")
    relaxed.stop()

    strict = make_server("--runner", "process", "--strict-gpu", home=tmp_path / "strict-home")
    sm = strict.client("sagemaker")
    sm.create_training_job(**job_request("gpu-strict", ResourceConfig=gpu))
    done = wait_for(sm, "gpu-strict")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("ClientError: The training image could not be started: Instance type "
                                            "ml.p2.xlarge needs GPUs, but this machine has none")


def test_forced_process_runner_refuses_a_bring_your_own_image(api, job_request):
    sm = api.client("sagemaker")
    request = job_request("byo", AlgorithmSpecification={"TrainingImage": "my/own:1", "TrainingInputMode": "File"})
    code, message = error_of(sm.create_training_job, **request)
    assert code == "ValidationException" and "--runner process" in message


def test_restart_keeps_jobs_logs_and_metrics_and_fails_jobs_that_were_running(make_server, job_request, tmp_path):
    home = tmp_path / "persistent-home"
    first = make_server("--runner", "process", home=home)
    sm = first.client("sagemaker")
    sm.create_training_job(**job_request("kept", {"lines": ["Epoch[0] Train-accuracy=0.5"]}))
    wait_for(sm, "kept")
    sm.create_training_job(**job_request("interrupted", {"lines": ["ready"], "sleep": 120}))
    wait_for(sm, "interrupted", statuses=("Training",))
    pid = _job_pid(first, "interrupted")
    # Crash only once the algorithm's line is stored: what the store had must survive.
    _wait_for_line(first.client("logs"), "interrupted", "ready")
    first.kill_server_only()

    second = make_server("--runner", "process", home=home)
    sm, logs, cloudwatch = second.client("sagemaker"), second.client("logs"), second.client("cloudwatch")
    kept = sm.describe_training_job(TrainingJobName="kept")
    assert kept["TrainingJobStatus"] == "Completed"
    assert kept["FinalMetricDataList"][0]["Value"] == 0.5
    assert "Epoch[0] Train-accuracy=0.5" in stream_messages(logs, "kept")
    stats = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:accuracy", Period=3600,
        Dimensions=[{"Name": "TrainingJobName", "Value": "kept"}], Statistics=["Maximum"],
        StartTime=kept["CreationTime"] - timedelta(minutes=1), EndTime=kept["LastModifiedTime"] + timedelta(minutes=1))
    assert [p["Maximum"] for p in stats["Datapoints"]] == [0.5]

    failed = sm.describe_training_job(TrainingJobName="interrupted")
    assert (failed["TrainingJobStatus"], failed["SecondaryStatus"]) == ("Failed", "Failed")
    assert failed["FailureReason"].startswith("InternalServerError: The process that ran this job (pid ")
    assert "ended while the job was InProgress (Training) without finishing it" in failed["FailureReason"]
    assert failed["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    assert "ready" in stream_messages(logs, "interrupted")
    assert f"[smlocal] {failed['FailureReason']}" in stream_messages(logs, "interrupted")
    assert json.loads(smlocal_cli(home, "describe", "interrupted"))["TrainingJobStatus"] == "Failed"
    assert not _alive(pid), "the algorithm of the interrupted job is still running"
    assert [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]] == ["kept", "interrupted"]


def _job_pid(server, name: str) -> int:
    """The pid of the job's algo-1 process, once the server has recorded it (just after it started)."""
    import sqlite3

    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(server.home / "smlocal.db") as db:
            state = json.loads(db.execute("SELECT state FROM jobs WHERE name = ?", (name,)).fetchone()[0])
        if state["processes"] or time.monotonic() > deadline:
            return int(state["processes"]["pids"]["algo-1"])
        time.sleep(0.05)


def _wait_for_line(logs, job: str, line: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while line not in stream_messages(logs, job):
        assert time.monotonic() < deadline, f"{job} did not log {line!r} within {timeout} s"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def test_stopping_the_server_stops_running_and_waiting_jobs(make_server, job_request):
    # One host slot, so the second job really waits (with two it could run, and finish, at once).
    api = make_server("--runner", "process", "--max-concurrent-jobs", "1")
    sm = api.client("sagemaker")
    sm.create_training_job(**job_request("shutdown-running", {"lines": ["ready"], "sleep": 120}))
    sm.create_training_job(**job_request("shutdown-waiting"))
    wait_for(sm, "shutdown-running", statuses=("Training",))
    pid = _job_pid(api, "shutdown-running")
    started = time.monotonic()
    assert api.stop() == 0
    assert time.monotonic() - started < 20
    assert not _alive(pid)

    again = make_server("--runner", "process", home=api.home)
    sm = again.client("sagemaker")
    for name in ("shutdown-running", "shutdown-waiting"):
        assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
    messages = stream_messages(again.client("logs"), "shutdown-running")
    assert "[smlocal] The API server is shutting down: stopping this job." in messages
