"""IAM and STS over the AWS Query protocol: real boto3 clients answered in-process (botocore's query
serializer, signer and XML parser on the client side), every answer checked against botocore's
output shapes."""
import xml.etree.ElementTree as ElementTree

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from emulator.api.app import create_app
from emulator.api.identity_ops import IamOperations, StsOperations
from emulator.api.query_protocol import form_params, read_form
from emulator.api.request_validator import RequestPolicy
from emulator.validation import operation_model
from tests.api_model import ResponseChecker
from tests.unit.api.test_request_validator import KEY, SECRET, boto_client

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture
def app():
    credentials = Credentials(KEY, SECRET).get_frozen_credentials()
    return create_app([IamOperations(), StsOperations()], RequestPolicy(credentials=credentials)).test_client()


@pytest.fixture
def checker():
    checker = ResponseChecker()
    yield checker
    # botocore's own IAM handler turns the URL-encoded policy document (a string in the model)
    # into a dict before the checker sees the answer.
    violations = [v for v in checker.violations if "AssumeRolePolicyDocument" not in v and "Statement" not in v]
    assert not violations, violations


def client(app, checker, service, **kwargs):
    boto = boto_client(app, service, **kwargs)
    checker.attach(boto)
    return boto


def error_of(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    answer = raised.value.response
    return answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"], answer["Error"]["Message"]


def test_get_caller_identity_is_a_session_of_the_local_accounts_role(app, checker):
    identity = client(app, checker, "sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/SageMakerRole/smlocal"
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(":smlocal")


def test_get_role_answers_any_well_formed_name_with_a_role_sagemaker_may_assume(app, checker):
    iam = client(app, checker, "iam")
    role = iam.get_role(RoleName="SageMakerRole")["Role"]
    assert role["Arn"] == ROLE_ARN and role["Path"] == "/" and role["RoleId"].startswith("AROA")
    # botocore decodes the URL-encoded document, as it does IAM's.
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"} and statement["Action"] == "sts:AssumeRole"
    assert iam.get_role(RoleName="SageMakerRole")["Role"]["RoleId"] == role["RoleId"]  # stable
    console = iam.get_role(RoleName="AmazonSageMaker-ExecutionRole-20240101T000000")["Role"]
    assert console["Arn"] == "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000"


def test_a_role_arn_where_a_name_belongs_is_iams_validation_error_in_xml(app, checker):
    iam = client(app, checker, "iam")
    status, code, message = error_of(lambda: iam.get_role(RoleName=ROLE_ARN))
    assert (status, code) == (400, "ValidationError")
    assert message.startswith(f"1 validation error detected: Value '{ROLE_ARN}' at 'roleName' failed to satisfy "
                              f"constraint: Member must satisfy regular expression pattern")
    raw = app.post("/", data=f"Action=GetRole&Version=2010-05-08&RoleName={ROLE_ARN}", headers=FORM)
    root = ElementTree.fromstring(raw.data)  # unsigned, so the signature check answers first
    assert raw.mimetype == "text/xml" and root.tag == "{https://iam.amazonaws.com/doc/2010-05-08/}ErrorResponse"


def test_simulate_principal_policy_allows_every_action_on_every_resource(app, checker):
    iam = client(app, checker, "iam")
    results = iam.simulate_principal_policy(PolicySourceArn=ROLE_ARN, ActionNames=["s3:PutObject", "ecr:GetAuth"],
                                            ResourceArns=["arn:aws:s3:::b/*", "arn:aws:s3:::c/*"])
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results["EvaluationResults"]] == [
        ("s3:PutObject", "arn:aws:s3:::b/*", "allowed"), ("s3:PutObject", "arn:aws:s3:::c/*", "allowed"),
        ("ecr:GetAuth", "arn:aws:s3:::b/*", "allowed"), ("ecr:GetAuth", "arn:aws:s3:::c/*", "allowed")]
    assert results["IsTruncated"] is False
    # The SDK's paginator (what SDK v3's role check uses) reads it as one page.
    pages = list(iam.get_paginator("simulate_principal_policy").paginate(PolicySourceArn=ROLE_ARN,
                                                                         ActionNames=["sagemaker:CreateTrainingJob"]))
    assert [r["EvalResourceName"] for p in pages for r in p["EvaluationResults"]] == ["*"]


def test_signature_refusals_carry_the_query_protocols_codes(app, checker):
    assert error_of(client(app, checker, "sts", secret="wrong").get_caller_identity)[:2] == (
        403, "SignatureDoesNotMatch")
    assert error_of(lambda: client(app, checker, "iam", key="AKIDOTHER").get_role(RoleName="r"))[:2] == (
        403, "InvalidClientTokenId")
    unsigned = app.post("/", data="Action=GetCallerIdentity&Version=2011-06-15", headers=FORM)
    assert unsigned.status_code == 403 and b"<Code>MissingAuthenticationToken</Code>" in unsigned.data


def test_unknown_actions_versions_pages_and_oversized_forms_are_refused_in_xml(app, checker):
    status, code, message = error_of(lambda: client(app, checker, "iam").list_roles())
    assert (status, code) == (400, "InvalidAction") and "GetRole, SimulatePrincipalPolicy" in message
    for body, code in (("Action=ListQueues&Version=2012-11-05", "NoSuchVersion"), ("a=1&b", "MalformedQueryString"),
                       ("Version=2011-06-15&" + "&".join(f"k{i}=v" for i in range(10_001)), "MalformedQueryString")):
        answer = app.post("/", data=body, headers=FORM)
        assert answer.status_code == 400 and f"<Code>{code}</Code>".encode() in answer.data, answer.data
    page = app.post("/", data="Action=GetCallerIdentity&Version=2011-06-15",
                    headers={**FORM, "Origin": "http://attacker.example"})
    assert page.status_code == 403 and page.mimetype == "text/xml"
    limited = create_app([StsOperations()], RequestPolicy(max_body_bytes=100)).test_client()
    big = limited.post("/", data="Action=GetCallerIdentity&Version=2011-06-15&x=" + "a" * 200, headers=FORM)
    assert big.status_code == 413 and b"<Code>PayloadTooLargeException</Code>" in big.data


def test_forms_decode_by_the_input_shape_lists_maps_and_structures():
    shape = operation_model("iam", "SimulatePrincipalPolicy").input_shape
    form = read_form(b"Action=SimulatePrincipalPolicy&PolicySourceArn=arn&ActionNames.member.1=a"
                     b"&ActionNames.member.2=b&ResourceArns=&MaxItems=5&ContextEntries.member.1.ContextKeyName=k"
                     b"&ContextEntries.member.1.ContextKeyValues.member.1=v&ActionNames.member.4=skipped")
    assert form_params(form, shape) == {
        "PolicySourceArn": "arn", "ActionNames": ["a", "b"], "ResourceArns": [], "MaxItems": 5,
        "ContextEntries": [{"ContextKeyName": "k", "ContextKeyValues": ["v"]}]}
    tags = operation_model("iam", "TagRole").input_shape
    assert form_params(read_form(b"Tags.member.1.Key=a&Tags.member.1.Value=1"), tags) == {
        "Tags": [{"Key": "a", "Value": "1"}]}
