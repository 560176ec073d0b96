"""The wire protocols on one endpoint: JSON 1.1/1.0 by X-Amz-Target, Smithy RPC v2 CBOR by path."""
import json
from datetime import datetime, timezone

import cbor2
import pytest
from botocore.parsers import create_parser

from emulator.api.app import create_app
from emulator.api.logs_ops import LogsOperations
from emulator.api.metrics_ops import MetricsOperations
from emulator.validation import operation_model
from emulator.jobhome import JobHome
from emulator.store import JobStore


@pytest.fixture
def store(tmp_path):
    store = JobStore.open(JobHome(tmp_path))
    store.add_metric("job-1", "loss", datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc).timestamp(), 2.0)
    store.add_metric("job-1", "loss", datetime(2026, 1, 1, 0, 1, 30, tzinfo=timezone.utc).timestamp(), 4.0)
    yield store
    store.close()


@pytest.fixture
def client(store):
    return create_app([LogsOperations(store), MetricsOperations(store)]).test_client()


STATS = {"Namespace": "/aws/sagemaker/TrainingJobs", "MetricName": "loss", "Period": 60, "Statistics": ["Average"],
         "Dimensions": [{"Name": "TrainingJobName", "Value": "job-1"}]}
START, END = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc)


def parsed(protocol, response, operation="GetMetricStatistics", service="cloudwatch"):
    shape = operation_model(service, operation).output_shape
    return create_parser(protocol).parse({"status_code": response.status_code, "headers": dict(response.headers),
                                          "body": response.data}, shape)


def test_cbor_requests_by_path_get_cbor_answers_botocore_parses(client):
    body = cbor2.dumps({**STATS, "StartTime": START, "EndTime": END}, datetime_as_timestamp=True)
    response = client.post("/service/GraniteServiceVersion20100801/operation/GetMetricStatistics", data=body,
                           headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
    assert response.status_code == 200 and response.headers["smithy-protocol"] == "rpc-v2-cbor"
    result = parsed("smithy-rpc-v2-cbor", response)
    assert [(p["Timestamp"], p["Average"]) for p in result["Datapoints"]] == [
        (datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc), 2.0), (datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc), 4.0)]


def test_json_1_0_for_cloudwatch_with_epoch_timestamps(client):
    response = client.post("/", data=json.dumps({**STATS, "Period": 120, "StartTime": START.timestamp(),
                                                 "EndTime": END.timestamp()}),
                           headers={"Content-Type": "application/x-amz-json-1.0",
                                    "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics"})
    assert response.content_type == "application/x-amz-json-1.0"
    assert [p["Average"] for p in parsed("json", response)["Datapoints"]] == [3.0]


def test_errors_are_aws_shaped_in_both_encodings(client):
    response = client.post("/service/GraniteServiceVersion20100801/operation/GetMetricStatistics",
                           data=cbor2.dumps({**STATS, "StartTime": END, "EndTime": START}, datetime_as_timestamp=True),
                           headers={"Content-Type": "application/cbor"})
    assert response.status_code == 400
    assert cbor2.loads(response.data) == {"__type": "InvalidParameterValue",
                                          "message": "The parameter StartTime must be less than the parameter EndTime."}
    json_headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.GetLogEvents"}
    missing = client.post("/", data="{}", headers=json_headers)
    assert missing.status_code == 400 and missing.headers["x-amzn-RequestId"]
    assert json.loads(missing.data)["__type"] == "ValidationException"
    assert "logStreamName" in json.loads(missing.data)["message"]
    garbage = client.post("/", data="{not json", headers=json_headers)
    assert json.loads(garbage.data)["__type"] == "SerializationException"


def test_unknown_and_unsupported_operations_name_what_is_served(client):
    unsupported = client.post("/", data="{}", headers={"Content-Type": "application/x-amz-json-1.1",
                                                       "X-Amz-Target": "Logs_20140328.PutLogEvents"})
    assert json.loads(unsupported.data)["__type"] == "UnknownOperationException"
    assert "DescribeLogStreams" in json.loads(unsupported.data)["message"]
    other = client.post("/", data="{}", headers={"Content-Type": "application/x-amz-json-1.1",
                                                 "X-Amz-Target": "DynamoDB_20120810.ListTables"})
    assert json.loads(other.data)["__type"] == "UnknownOperationException"
    query = client.post("/", data="Action=GetMetricStatistics&Version=2010-08-01",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    # CloudWatch's old query protocol: answered in that protocol (XML), naming what is served.
    assert query.status_code == 400 and query.mimetype == "text/xml"
    assert b"<Code>NoSuchVersion</Code>" in query.data and b"CloudWatch" in query.data
    assert set(json.loads(client.get("/").data)["operations"]) == {"Logs_20140328", "GraniteServiceVersion20100801"}
