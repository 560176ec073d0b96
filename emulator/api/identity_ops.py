"""The IAM and STS calls the SageMaker Python SDKs make about roles and the caller, answered locally.

SDK v3 checks the training role before every job: `iam:SimulatePrincipalPolicy` for the
actions a training role needs and `iam:GetRole` for its trust policy; v3's ModelTrainer without
a role, and `Session.get_caller_identity_arn()`, ask `sts:GetCallerIdentity` who the caller is
and then `iam:GetRole` for that role's ARN. Nothing here checks permissions (the emulator has
no IAM): every well-formed role name is a role of the local account, every action is allowed,
and the caller is a session of the role SageMakerRole. The account is the one in every ARN
the emulator writes (emulator.spec.DEFAULT_ACCOUNT_ID unless the server says otherwise).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from urllib.parse import quote

from emulator.spec import DEFAULT_ACCOUNT_ID

CALLER_ROLE = "SageMakerRole"
CALLER_SESSION = "smlocal"
# Roles are not stored, so none has a creation date of its own: this one stands for all.
ROLE_CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)
# What the SDK's trust check looks for: SageMaker may assume the role.
TRUST_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
# Roles the SageMaker console creates live under this path, and the SDK assumes so for these names.
CONSOLE_ROLE_PREFIX, CONSOLE_ROLE_PATH = "AmazonSageMaker-ExecutionRole", "/service-role/"


def unique_id(prefix: str, name: str) -> str:
    """A stable IAM-style unique id (AROA... for roles): the same name always gets the same id."""
    digest = hashlib.sha256(name.encode()).hexdigest().upper()
    return prefix + "".join(c for c in digest if c.isalnum())[:17]


class IamOperations:
    service = "iam"
    rules = ()

    def __init__(self, account: str = DEFAULT_ACCOUNT_ID) -> None:
        self.account = account
        self.operations = {"GetRole": self.get_role, "SimulatePrincipalPolicy": self.simulate_principal_policy}

    def role(self, name: str) -> dict:
        path = CONSOLE_ROLE_PATH if name.startswith(CONSOLE_ROLE_PREFIX) else "/"
        return {"Path": path, "RoleName": name, "RoleId": unique_id("AROA", name),
                "Arn": f"arn:aws:iam::{self.account}:role{path}{name}", "CreateDate": ROLE_CREATED,
                # IAM returns the document URL-encoded; the SDK decodes it.
                "AssumeRolePolicyDocument": quote(json.dumps(TRUST_POLICY)), "MaxSessionDuration": 3600,
                "RoleLastUsed": {}}

    def get_role(self, params: dict) -> dict:
        return {"Role": self.role(params["RoleName"])}

    def simulate_principal_policy(self, params: dict) -> dict:
        resources = params.get("ResourceArns") or ["*"]
        return {"EvaluationResults": [{"EvalActionName": action, "EvalResourceName": resource,
                                       "EvalDecision": "allowed", "MatchedStatements": [],
                                       "MissingContextValues": []}
                                      for action in params["ActionNames"] for resource in resources],
                "IsTruncated": False}


class StsOperations:
    service = "sts"
    rules = ()

    def __init__(self, account: str = DEFAULT_ACCOUNT_ID) -> None:
        self.account = account
        self.operations = {"GetCallerIdentity": self.get_caller_identity}

    def get_caller_identity(self, params: dict) -> dict:  # noqa: ARG002 - the operation takes no members
        return {"UserId": f"{unique_id('AROA', CALLER_ROLE)}:{CALLER_SESSION}", "Account": self.account,
                "Arn": f"arn:aws:sts::{self.account}:assumed-role/{CALLER_ROLE}/{CALLER_SESSION}"}
