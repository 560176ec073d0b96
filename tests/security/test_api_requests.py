"""Hostile requests against a real `smlocal api` (gunicorn): web pages, DNS rebinding, bad
signatures, oversized and deeply nested bodies, huge fields; and job slots that count hosts.

Two servers for the whole module: one without credentials (any signature passes), one that
checks SigV4 with the keys in its environment.
"""
import json
import sqlite3
from datetime import timedelta

import boto3
import cbor2
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.api.errors import MAX_MESSAGE_CHARS
from emulator.api.request_validator import MAX_BODY_BYTES
from tests.functional.api.conftest import (ACCESS_KEY, IC_IMAGE, ROLE, SECRET_KEY, ApiServer, free_port, server_env,
                                           wait_for)

SAGEMAKER_JSON = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.CreateTrainingJob"}


def _start(tmp_path_factory, name, *args, **env):
    base = tmp_path_factory.mktemp(name)
    return ApiServer(base / "home", free_port(), ["--runner", "process", "--stop-grace", "5", *args],
                     server_env(**env)).start()


@pytest.fixture(scope="module")
def open_api(tmp_path_factory):
    # Room for 4 hosts on any machine, so that the server's own slots are what limits the jobs.
    server = _start(tmp_path_factory, "open-api", "--max-concurrent-jobs", "2", SMLOCAL_MAX_HOSTS="4")
    yield server
    server.stop()
    assert not server.checker.violations, server.checker.violations


@pytest.fixture(scope="module")
def signed_api(tmp_path_factory):
    server = _start(tmp_path_factory, "signed-api", AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    yield server
    server.stop()
    assert not server.checker.violations, server.checker.violations


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    (data / "a.txt").write_text("alpha")
    output = tmp_path_factory.mktemp("output")

    def build(name, hosts=1, **hyperparameters):
        return {"TrainingJobName": name, "RoleArn": ROLE,
                "AlgorithmSpecification": {"TrainingImage": IC_IMAGE, "TrainingInputMode": "File"},
                "HyperParameters": {k: json.dumps(v) if not isinstance(v, str) else v
                                    for k, v in hyperparameters.items()},
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": data.as_uri()}}}],
                "OutputDataConfig": {"S3OutputPath": output.as_uri()},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": hosts, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
    return build


def store_snapshot(server: ApiServer) -> tuple:
    """Every job, tag and log row of the server's job store, and its job folders."""
    with sqlite3.connect(f"file:{server.home / 'smlocal.db'}?mode=ro", uri=True) as db:
        rows = tuple(tuple(db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall())
                     for table in ("jobs", "tags", "log_events"))
    jobs = server.home / "jobs"
    return rows, sorted(p.name for p in jobs.iterdir()) if jobs.exists() else []


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def client_with(server, service, key, secret):
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
    client = session.client(service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))
    server.clients.append(client)
    return client


def aws_error(response) -> tuple[int, str]:
    decoded = cbor2.loads(response.content) if response.headers["Content-Type"] == "application/cbor" \
        else response.json()
    return response.status_code, decoded["__type"]


# ---- web pages and DNS rebinding ------------------------------------------------------------


def test_a_cross_site_text_plain_cbor_post_starts_no_job(open_api, job):
    before = store_snapshot(open_api)
    body = cbor2.dumps(job("drive-by"))
    # What a page can send without a CORS preflight: text/plain (and form types), no custom headers.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        for origin in ({"Origin": "http://attacker.example"}, {}):
            answer = requests.post(f"{open_api.endpoint}/service/SageMaker/operation/CreateTrainingJob", data=body,
                                   headers={"Content-Type": content_type, **origin}, timeout=10)
            assert answer.status_code in (400, 403, 415), answer.text
    assert store_snapshot(open_api) == before
    sm = open_api.client("sagemaker")
    assert sm.list_training_jobs(NameContains="drive-by")["TrainingJobSummaries"] == []
    # The same request from an SDK client does start the job: the body was a valid request.
    sm.create_training_job(**job("drive-by"))
    assert wait_for(sm, "drive-by")["TrainingJobStatus"] == "Completed"


def test_foreign_origins_and_rebinding_hosts_are_refused(open_api, job):
    before = store_snapshot(open_api)
    body = json.dumps(job("rebound"))
    page = requests.post(open_api.endpoint, data=body, timeout=10,
                         headers={**SAGEMAKER_JSON, "Origin": "http://attacker.example"})
    assert aws_error(page) == (403, "AccessDeniedException")
    # DNS rebinding: the browser connects to 127.0.0.1 but names the attacker's host.
    rebound = requests.post(open_api.endpoint, data=body, timeout=10,
                            headers={**SAGEMAKER_JSON, "Host": f"attacker.example:{open_api.port}"})
    assert aws_error(rebound) == (403, "AccessDeniedException")
    assert "DNS rebinding" in rebound.json()["message"]
    assert requests.get(open_api.endpoint, headers={"Host": "attacker.example"}, timeout=10).status_code == 403
    assert store_snapshot(open_api) == before


def test_a_wrong_content_type_is_refused(open_api, job):
    before = store_snapshot(open_api)
    for content_type in ("text/plain", "application/json", "application/x-amz-json-1.0"):
        answer = requests.post(open_api.endpoint, data=json.dumps(job("wrong-type")), timeout=10,
                               headers={**SAGEMAKER_JSON, "Content-Type": content_type})
        assert aws_error(answer) == (415, "UnsupportedMediaTypeException")
        assert "application/x-amz-json-1.1" in answer.json()["message"]
    assert store_snapshot(open_api) == before


# ---- signatures -----------------------------------------------------------------------------


def test_with_credentials_only_the_right_keys_get_in(signed_api, job):
    assert "requests must be signed with access key test" in signed_api.log()
    before = store_snapshot(signed_api)
    wrong_secret = client_with(signed_api, "sagemaker", ACCESS_KEY, "not-the-secret")
    assert error_of(wrong_secret.create_training_job, **job("bad-signature"))[:2] == (400, "InvalidSignatureException")
    unknown_key = client_with(signed_api, "sagemaker", "AKIDUNKNOWN", SECRET_KEY)
    assert error_of(unknown_key.create_training_job, **job("unknown-key")) == (
        400, "UnrecognizedClientException", "The security token included in the request is invalid.")
    logs = client_with(signed_api, "logs", "AKIDUNKNOWN", SECRET_KEY)
    assert error_of(logs.describe_log_groups)[:2] == (400, "UnrecognizedClientException")
    cloudwatch = client_with(signed_api, "cloudwatch", "AKIDUNKNOWN", SECRET_KEY)
    assert error_of(cloudwatch.list_metrics)[:2] == (403, "InvalidClientTokenId")
    unsigned = requests.post(signed_api.endpoint, data=json.dumps(job("unsigned")), headers=SAGEMAKER_JSON,
                             timeout=10)
    assert aws_error(unsigned) == (400, "MissingAuthenticationTokenException")
    assert store_snapshot(signed_api) == before

    sm = signed_api.client("sagemaker")      # the right keys
    sm.create_training_job(**job("signed-ok"))
    assert wait_for(sm, "signed-ok")["TrainingJobStatus"] == "Completed"
    assert signed_api.client("logs").describe_log_groups()["logGroups"]
    assert "Metrics" in signed_api.client("cloudwatch").list_metrics(Namespace="/aws/sagemaker/TrainingJobs")


# ---- size, nesting, echo --------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_and_the_server_carries_on(open_api):
    big = b'{"TrainingJobName": "' + b"x" * MAX_BODY_BYTES + b'"}'
    answer = requests.post(open_api.endpoint, data=big, headers=SAGEMAKER_JSON, timeout=30)
    assert aws_error(answer) == (413, "PayloadTooLargeException")
    assert f"limit of {MAX_BODY_BYTES} bytes" in answer.json()["message"]
    # Chunked (no Content-Length): the server stops reading at the limit.
    chunks = (b"x" * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 2))
    chunked = requests.post(open_api.endpoint, data=chunks, headers=SAGEMAKER_JSON, timeout=30)
    assert aws_error(chunked) == (413, "PayloadTooLargeException")
    assert open_api.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] is not None


def test_deep_nesting_is_a_serialization_exception(open_api):
    for body in ("[" * 50_000 + "]" * 50_000, '{"Tags": ' + "[" * 100 + "]" * 100 + "}"):
        answer = requests.post(open_api.endpoint, data=body, headers=SAGEMAKER_JSON, timeout=10)
        assert aws_error(answer) == (400, "SerializationException")
    assert "Traceback" not in open_api.log()


def test_a_huge_field_is_not_echoed_unbounded(open_api, job):
    log_size = len(open_api.log())
    huge = "n" * 1_000_000
    answer = requests.post(open_api.endpoint, data=json.dumps(job(huge)), headers=SAGEMAKER_JSON, timeout=30)
    assert aws_error(answer) == (400, "ValidationException")
    message = answer.json()["message"]
    assert "trainingJobName" in message and len(message) <= MAX_MESSAGE_CHARS
    assert len(answer.content) < 4 * MAX_MESSAGE_CHARS
    assert len(open_api.log()) - log_size < 4 * MAX_MESSAGE_CHARS


# ---- job slots count hosts ------------------------------------------------------------------


def test_a_two_host_job_takes_two_slots(open_api, job):
    sm = open_api.client("sagemaker")          # --max-concurrent-jobs 2
    sm.create_training_job(**job("wide", hosts=2, lines=["ready"], sleep=2))
    wait_for(sm, "wide", statuses=("Training",))
    sm.create_training_job(**job("narrow"))
    waiting = sm.describe_training_job(TrainingJobName="narrow")
    assert (waiting["TrainingJobStatus"], waiting["SecondaryStatus"]) == ("InProgress", "Starting")
    assert waiting["SecondaryStatusTransitions"][-1]["StatusMessage"] == (
        "Waiting for a free training slot: 1 job(s) ahead; this server trains 2 host(s) at once")
    wide, narrow = wait_for(sm, "wide"), wait_for(sm, "narrow")
    assert narrow["TrainingJobStatus"] == "Completed"
    assert narrow["TrainingStartTime"] >= wide["TrainingEndTime"] - timedelta(seconds=0.5)

    before = store_snapshot(open_api)
    code, message = error_of(sm.create_training_job, **job("too-wide", hosts=3))[1:]
    assert code == "ResourceLimitExceeded" and "--max-concurrent-jobs 3" in message
    assert store_snapshot(open_api) == before
