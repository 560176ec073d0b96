"""The request validator: origin, protocol, content type, size, signature and body checks.

Clients are real boto3 clients whose HTTP is answered in-process by the Flask app (botocore's
`before-send` hook), so botocore's own serializers, signer and error parsers are on both ends.
"""
import io
import json
import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import boto3
import botocore.auth
import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, PartialCredentialsError

from emulator.api.app import create_app
from emulator.api.errors import MAX_MESSAGE_CHARS
from emulator.api.request_validator import RequestPolicy
from emulator.api.sigv4 import configured_credentials

KEY, SECRET = "AKIDSMLOCALTEST", "s3cr3t/smlocal"
SAGEMAKER_JSON = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListTrainingJobs"}
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/ListMetrics"


class Recorder:
    """A served service whose operations only record that they ran."""

    def __init__(self, service, answers):
        self.service, self.rules, self.calls = service, (), []
        self.operations = {name: (lambda params, name=name, result=result: self.calls.append((name, params)) or result)
                           for name, result in answers.items()}


@pytest.fixture
def services():
    return [Recorder("sagemaker", {"ListTrainingJobs": {"TrainingJobSummaries": []},
                                   "CreateTrainingJob": {"TrainingJobArn": "arn:x"},
                                   "DescribeTrainingJob": {}}),
            Recorder("logs", {"DescribeLogGroups": {"logGroups": []}}),
            Recorder("cloudwatch", {"ListMetrics": {"Metrics": []}})]


def app_for(services, **policy):
    return create_app(services, RequestPolicy(**policy)).test_client()


def calls(services):
    return [c for s in services for c in s.calls]


class _Raw:
    def __init__(self, data):
        self.data = data

    def stream(self, **_):
        yield self.data


def boto_client(client, service, key=KEY, secret=SECRET, host="localhost", token=None):
    """A boto3 client whose requests the Flask test client answers."""
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                                    region_name="us-east-1")
    boto = session.client(service, endpoint_url=f"http://{host}", config=Config(retries={"max_attempts": 1}))

    def send(request, **_):
        body = request.body if isinstance(request.body, bytes) else (request.body or b"")
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        answer = client.post(urlsplit(request.url).path, data=body, headers=headers)
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), _Raw(answer.data))

    boto.meta.events.register("before-send", send)
    return boto


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def signed(body: bytes, headers: dict, path="/", service="sagemaker", key=KEY, secret=SECRET, host="localhost"):
    request = AWSRequest(method="POST", url=f"http://{host}{path}", data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}


def answer(response):
    return response.status_code, json.loads(response.data)["__type"]


# ---- where requests come from --------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8777", "127.0.0.1:8777", "127.0.0.2", "[::1]:8777"])
def test_loopback_hosts_are_served(services, host):
    response = app_for(services).post("/", data="{}", headers={**SAGEMAKER_JSON, "Host": host})
    assert response.status_code == 200 and calls(services) == [("ListTrainingJobs", {})]


@pytest.mark.parametrize("host", ["attacker.example:8777", "localhost.attacker.example", "10.0.0.5:8777",
                                  "attacker.example@127.0.0.1", "127.0.0.1/x", ""])
def test_other_hosts_are_refused_before_anything_runs(services, host):
    response = app_for(services).post("/", data="{}", headers={**SAGEMAKER_JSON, "Host": host})
    assert answer(response) == (403, "AccessDeniedException")
    assert "DNS rebinding" in json.loads(response.data)["message"]
    assert calls(services) == []


def test_bound_to_every_interface_any_ip_address_is_ours_but_no_dns_name(services):
    client = app_for(services, bind_host="0.0.0.0", allowed_hosts=("smlocal",))
    assert client.post("/", data="{}", headers={**SAGEMAKER_JSON, "Host": "10.0.0.5:8777"}).status_code == 200
    assert client.post("/", data="{}", headers={**SAGEMAKER_JSON, "Host": "smlocal:8777"}).status_code == 200
    assert answer(client.post("/", data="{}", headers={**SAGEMAKER_JSON, "Host": "attacker.example"})) == (
        403, "AccessDeniedException")


@pytest.mark.parametrize("headers", [{"Origin": "http://attacker.example"}, {"Origin": "null"},
                                     {"Origin": "http://localhost:3000"}, {"Sec-Fetch-Site": "cross-site"}])
def test_requests_from_web_pages_are_refused(services, headers):
    response = app_for(services).post("/", data="{}", headers={**SAGEMAKER_JSON, **headers})
    assert answer(response) == (403, "AccessDeniedException") and calls(services) == []


def test_the_servers_own_origin_is_served(services):
    response = app_for(services).post("/", data="{}", headers={**SAGEMAKER_JSON, "Origin": "http://localhost",
                                                               "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200


def test_the_readiness_page_is_also_refused_to_other_hosts(services):
    client = app_for(services)
    assert client.get("/").status_code == 200
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 403


# ---- protocol and content type -------------------------------------------------------------


def test_a_cross_site_text_plain_cbor_post_runs_nothing(services):
    body = cbor2.dumps({"TrainingJobName": "drive-by"})
    for path in ("/service/SageMaker/operation/CreateTrainingJob", CBOR_PATH):
        response = app_for(services).post(path, data=body, headers={"Content-Type": "text/plain"})
        assert response.status_code in (400, 415)
        assert cbor2.loads(response.data)["__type"] in ("UnknownOperationException", "UnsupportedMediaTypeException")
    assert calls(services) == []


@pytest.mark.parametrize("path, headers", [
    ("/", {"Content-Type": "text/plain", "X-Amz-Target": "SageMaker.ListTrainingJobs"}),
    ("/", {"Content-Type": "application/json", "X-Amz-Target": "SageMaker.ListTrainingJobs"}),
    ("/", {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "SageMaker.ListTrainingJobs"}),
    ("/", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"}),
    ("/", {"X-Amz-Target": "SageMaker.ListTrainingJobs"}),
    (CBOR_PATH, {"Content-Type": "application/x-www-form-urlencoded"}),
    (CBOR_PATH, {"Content-Type": "multipart/form-data; boundary=x"}),
])
def test_only_the_content_type_botocore_sends_is_accepted(services, path, headers):
    body = b"\xa0" if path == CBOR_PATH else b"{}"
    response = app_for(services).post(path, data=body, headers=headers)
    assert response.status_code == 415 and calls(services) == []
    decoded = cbor2.loads(response.data) if path == CBOR_PATH else json.loads(response.data)
    assert decoded["__type"] == "UnsupportedMediaTypeException" and "expected 'application/" in decoded["message"]


def test_services_are_served_only_over_the_protocols_botocore_lists(services):
    sagemaker_over_cbor = app_for(services).post("/service/SageMaker/operation/ListTrainingJobs", data=b"\xa0",
                                                 headers={"Content-Type": "application/cbor"})
    assert sagemaker_over_cbor.status_code == 400
    assert "botocore uses json" in cbor2.loads(sagemaker_over_cbor.data)["message"]
    cloudwatch_json = app_for(services).post("/", data="{}", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"})
    assert cloudwatch_json.status_code == 200 and calls(services) == [("ListMetrics", {})]


# ---- size and shape of the body --------------------------------------------------------------


def test_bodies_over_the_limit_are_413_declared_or_chunked(services):
    client = app_for(services, max_body_bytes=1000)
    big = json.dumps({"NameContains": "x" * 2000})
    declared = client.post("/", data=big, headers=SAGEMAKER_JSON)
    assert answer(declared) == (413, "PayloadTooLargeException")
    assert "limit of 1000 bytes" in json.loads(declared.data)["message"]
    chunked = client.post("/", input_stream=io.BytesIO(big.encode()),
                          headers={**SAGEMAKER_JSON, "Transfer-Encoding": "chunked"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert answer(chunked) == (413, "PayloadTooLargeException") and calls(services) == []
    assert client.post("/", data=json.dumps({"NameContains": "x"}), headers=SAGEMAKER_JSON).status_code == 200


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000,
                                  '{"NameContains": ' + "[" * 40 + "]" * 40 + "}",
                                  '{"Unmodelled": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}"])
def test_deep_nesting_is_a_serialization_exception_not_a_500(services, body):
    response = app_for(services).post("/", data=body, headers=SAGEMAKER_JSON)
    assert answer(response) == (400, "SerializationException") and calls(services) == []
    assert "levels deep" in json.loads(response.data)["message"]


def test_cbor_cycles_and_deep_nesting_are_serialization_exceptions(services):
    cycle = bytes([0xA1, 0x64]) + b"Unit" + bytes([0xD8, 0x1C, 0x81, 0xD8, 0x1D, 0x00])  # {"Unit": x} with x = [x]
    deep = b"\x81" * 5000 + b"\x00"
    for body in (cycle, deep):
        response = app_for(services).post(CBOR_PATH, data=body, headers={"Content-Type": "application/cbor"})
        assert (response.status_code, cbor2.loads(response.data)["__type"]) == (400, "SerializationException")


@pytest.mark.parametrize("body", ['{"MaxResults": Infinity}', '{"MaxResults": NaN}', '{"MaxResults": 1e400}',
                                  '{"MaxResults": ' + "9" * 5000 + "}"])
def test_numbers_no_client_sends_are_refused_cleanly(services, body):
    assert app_for(services).post("/", data=body, headers=SAGEMAKER_JSON).status_code == 400


def test_huge_values_are_not_echoed_in_answers_or_logs(services, caplog):
    caplog.set_level(logging.INFO, logger="smlocal.api")
    huge = "A" * 1_000_000
    client = app_for(services)
    response = client.post("/", data=json.dumps({"TrainingJobName": huge}),
                           headers={**SAGEMAKER_JSON, "X-Amz-Target": "SageMaker.DescribeTrainingJob"})
    code, message = answer(response), json.loads(response.data)["message"]
    assert code == (400, "ValidationException") and "trainingJobName" in message
    assert len(message) <= MAX_MESSAGE_CHARS and "1000000 characters" in message
    header = client.post("/", data="{}", headers={**SAGEMAKER_JSON, "X-Amz-Target": "SageMaker." + "B" * 6000})
    assert len(json.loads(header.data)["message"]) < 1000
    assert max(len(r.getMessage()) for r in caplog.records) < MAX_MESSAGE_CHARS + 500


# ---- signatures ------------------------------------------------------------------------------


def test_without_credentials_any_signature_is_accepted(services):
    assert boto_client(app_for(services), "sagemaker", "whatever", "wrong").list_training_jobs()[
        "TrainingJobSummaries"] == []


def test_botocore_signed_requests_pass_for_every_protocol(services):
    client = app_for(services, credentials=Credentials(KEY, SECRET).get_frozen_credentials())
    assert boto_client(client, "sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    assert boto_client(client, "logs").describe_log_groups()["logGroups"] == []
    assert boto_client(client, "cloudwatch").list_metrics()["Metrics"] == []   # RPC v2 CBOR, signing name monitoring
    assert [name for name, _ in calls(services)] == ["ListTrainingJobs", "DescribeLogGroups", "ListMetrics"]


def test_wrong_keys_get_awss_codes_and_nothing_runs(services):
    client = app_for(services, credentials=Credentials(KEY, SECRET).get_frozen_credentials())
    bad_secret = boto_client(client, "sagemaker", secret="not-the-secret")
    assert error_of(bad_secret.list_training_jobs) == (
        400, "InvalidSignatureException", "The request signature we calculated does not match the signature you "
        "provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
    unknown = boto_client(client, "logs", key="AKIDUNKNOWN")
    assert error_of(unknown.describe_log_groups) == (400, "UnrecognizedClientException",
                                                     "The security token included in the request is invalid.")
    # CloudWatch is query-compatible: botocore reports the codes its query protocol had.
    assert error_of(boto_client(client, "cloudwatch", key="AKIDUNKNOWN").list_metrics)[:2] == (
        403, "InvalidClientTokenId")
    assert error_of(boto_client(client, "cloudwatch", secret="x").list_metrics)[:2] == (403, "SignatureDoesNotMatch")
    assert calls(services) == []


def test_unsigned_stale_tampered_and_misscoped_requests_are_refused(services, monkeypatch):
    client = app_for(services, credentials=Credentials(KEY, SECRET).get_frozen_credentials())
    assert answer(client.post("/", data="{}", headers=SAGEMAKER_JSON)) == (400, "MissingAuthenticationTokenException")

    headers = signed(b"{}", SAGEMAKER_JSON)
    assert client.post("/", data=b"{}", headers=headers).status_code == 200
    tampered = client.post("/", data=b'{"MaxResults": 1}', headers=headers)
    assert answer(tampered) == (400, "InvalidSignatureException")
    lying_hash = signed(b"{}", {**SAGEMAKER_JSON, "X-Amz-Content-SHA256": "0" * 64})
    assert answer(client.post("/", data=b"{}", headers=lying_hash)) == (400, "InvalidSignatureException")
    for_logs = signed(b"{}", SAGEMAKER_JSON, service="logs")
    refused = client.post("/", data=b"{}", headers=for_logs)
    assert answer(refused) == (400, "InvalidSignatureException")
    assert "scoped to correct service: 'sagemaker'" in json.loads(refused.data)["message"]

    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20))
    stale = client.post("/", data=b"{}", headers=signed(b"{}", SAGEMAKER_JSON))
    assert answer(stale) == (400, "InvalidSignatureException")
    assert json.loads(stale.data)["message"].startswith("Signature expired: ")
    assert [name for name, _ in calls(services)] == ["ListTrainingJobs"]


def test_malformed_authorization_is_an_incomplete_signature(services):
    client = app_for(services, credentials=Credentials(KEY, SECRET).get_frozen_credentials())
    for value in ("AWS4-HMAC-SHA256 Credential=x", "AWS AKID:signature", "AWS4-HMAC-SHA256 Credential=a/b, "
                  "SignedHeaders=host, Signature=00"):
        response = client.post("/", data=b"{}", headers={**SAGEMAKER_JSON, "Authorization": value,
                                                         "X-Amz-Date": "20260101T000000Z"})
        assert answer(response) == (400, "IncompleteSignatureException")


def test_session_tokens_must_match(services):
    credentials = Credentials(KEY, SECRET, "session-token").get_frozen_credentials()
    client = app_for(services, credentials=credentials)
    assert boto_client(client, "sagemaker", token="session-token").list_training_jobs()["TrainingJobSummaries"] == []
    assert error_of(boto_client(client, "sagemaker").list_training_jobs)[1] == "UnrecognizedClientException"
    assert error_of(boto_client(client, "sagemaker", token="other").list_training_jobs)[1] == (
        "UnrecognizedClientException")


def test_credentials_come_from_the_options_else_the_standard_variables():
    env = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
    assert configured_credentials(environ=env)[:2] == ("AKIDENV", "env-secret")
    assert configured_credentials("AKIDFLAG", "flag-secret", environ=env)[:2] == ("AKIDFLAG", "flag-secret")
    assert configured_credentials(environ={}) is None
    with pytest.raises(PartialCredentialsError):
        configured_credentials(environ={"AWS_ACCESS_KEY_ID": "AKIDENV"})
    with pytest.raises(ValueError, match="go together"):
        configured_credentials("AKIDFLAG", None, environ={})


def test_a_bug_is_a_bounded_internal_failure(services, caplog):
    caplog.set_level(logging.INFO, logger="smlocal.api")

    def broken(params):
        raise KeyError("k" * 1_000_000)

    services[0].operations["ListTrainingJobs"] = broken
    response = app_for(services).post("/", data="{}", headers=SAGEMAKER_JSON)
    assert answer(response) == (500, "InternalFailure")
    assert len(json.loads(response.data)["message"]) <= MAX_MESSAGE_CHARS
    assert "in broken" in caplog.text and len(caplog.text) < 4 * MAX_MESSAGE_CHARS
