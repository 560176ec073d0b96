"""SigV4 signatures of API requests, checked with botocore's own signer.

When the server has credentials (`ApiConfig.access_key/secret_key`, else the standard
environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, read by
botocore's own EnvProvider), every request must be signed with them. The signature is
recomputed by `botocore.auth.SigV4Auth` from the request as it arrived (method, path, query,
the headers the client says it signed, the body's SHA-256), so what is accepted is exactly what
botocore produces. Refusals carry the codes, statuses and messages AWS answers with:

    JSON services (SageMaker, CloudWatch Logs)       query-compatible (CloudWatch)
    MissingAuthenticationTokenException  400         MissingAuthenticationToken  403
    IncompleteSignatureException         400         IncompleteSignature         400
    UnrecognizedClientException          400         InvalidClientTokenId        403
    InvalidSignatureException            400         SignatureDoesNotMatch       403

For a query-compatible service the JSON code goes in `__type` and the query code in the
`x-amzn-query-error` header, from which botocore takes the code its callers see (what they saw
when CloudWatch spoke the query protocol). Services of the Query protocol itself (IAM, STS)
answer the query code and status in their XML error. The credential scope's region is not checked: the
server answers for one region, but clients that name another still reach it.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, EnvProvider, ReadOnlyCredentials

from emulator.api.errors import ApiError, clip

ALGORITHM = "AWS4-HMAC-SHA256"
# AWS refuses a signature whose X-Amz-Date is more than 15 minutes from its clock.
MAX_CLOCK_SKEW = timedelta(minutes=15)
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                      "AWS Secret Access Key and signing method. Consult the service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."
MISSING_TOKEN = "Request is missing Authentication Token"

# JSON-protocol code -> (status, query-protocol code, status there).
_CODES = {
    "MissingAuthenticationTokenException": (400, "MissingAuthenticationToken", 403),
    "IncompleteSignatureException": (400, "IncompleteSignature", 400),
    "UnrecognizedClientException": (400, "InvalidClientTokenId", 403),
    "InvalidSignatureException": (400, "SignatureDoesNotMatch", 403),
}


def auth_error(code: str, message: str, query_compatible: bool, query_protocol: bool = False) -> ApiError:
    status, query_code, query_status = _CODES[code]
    if query_protocol:
        return ApiError(query_code, message, query_status)
    if query_compatible:
        return ApiError(code, message, query_status, {"x-amzn-query-error": f"{query_code};Sender"})
    return ApiError(code, message, status)


def configured_credentials(access_key: str | None = None, secret_key: str | None = None,
                           environ: Mapping[str, str] | None = None) -> ReadOnlyCredentials | None:
    """The credentials requests must be signed with: the explicit pair, else the environment's, else None."""
    if access_key or secret_key:
        if not (access_key and secret_key):
            raise ValueError("an access key and a secret key go together: give both or neither")
        return Credentials(access_key, secret_key).get_frozen_credentials()
    # Raises botocore's PartialCredentialsError when only one of the two variables is set.
    found = EnvProvider(environ=dict(os.environ if environ is None else environ)).load()
    return found.get_frozen_credentials() if found is not None else None


@dataclass(frozen=True)
class SignedRequest:
    """What the checker needs of an incoming request, as it arrived."""
    method: str
    host: str
    raw_path: str           # as sent (percent-encoded); botocore encodes it again, as the client did
    query: str
    headers: Mapping[str, str]
    body: bytes


def _parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise ValueError(f"Only {ALGORITHM} (Signature Version 4) signatures are accepted.")
    fields = {}
    for part in rest.split(","):
        key, _, item = part.strip().partition("=")
        fields[key] = item
    missing = [f"Authorization header requires '{k}' parameter." for k in ("Credential", "Signature", "SignedHeaders")
               if not fields.get(k)]
    if missing:
        raise ValueError(" ".join(missing))
    return fields


class SignatureChecker:
    def __init__(self, credentials: ReadOnlyCredentials, clock: Callable[[], datetime] | None = None) -> None:
        self.credentials = credentials
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    @property
    def access_key(self) -> str:
        return self.credentials.access_key

    def check(self, request: SignedRequest, signing_name: str, query_compatible: bool,
              query_protocol: bool = False) -> None:
        """Raise the ApiError AWS would answer unless `request` is signed with the configured credentials."""
        def refuse(code: str, message: str) -> ApiError:
            return auth_error(code, message, query_compatible, query_protocol)

        headers = {k.lower(): v for k, v in request.headers.items()}
        authorization = headers.get("authorization")
        if not authorization:
            raise refuse("MissingAuthenticationTokenException", MISSING_TOKEN)
        try:
            fields = _parse_authorization(authorization)
        except ValueError as exc:
            raise refuse("IncompleteSignatureException", str(exc)) from None
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise refuse("IncompleteSignatureException", "Credential should be scoped with a valid terminator: "
                                                         "'aws4_request'.")
        access_key, _day, region, service, _ = scope
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise refuse("IncompleteSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
        amz_date = headers.get("x-amz-date", "")
        if not amz_date:
            raise refuse("IncompleteSignatureException", "Authorization header requires existence of a 'X-Amz-Date' "
                                                         "header.")
        try:
            when = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=timezone.utc)
        except ValueError:
            raise refuse("IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got "
                                                         f"'{clip(amz_date, 40)}'.") from None
        self._check_time(when, amz_date, refuse)
        if access_key != self.credentials.access_key:
            raise refuse("UnrecognizedClientException", INVALID_TOKEN)
        token = headers.get("x-amz-security-token", "")
        if not hmac.compare_digest(token.encode(), (self.credentials.token or "").encode()):
            raise refuse("UnrecognizedClientException", INVALID_TOKEN)
        if service != signing_name:
            raise refuse("InvalidSignatureException", f"Credential should be scoped to correct service: "
                                                       f"'{signing_name}'. ")
        body_hash = headers.get("x-amz-content-sha256")
        if "x-amz-content-sha256" in signed and body_hash != hashlib.sha256(request.body).hexdigest():
            # botocore's signer trusts this header as the body's hash; it must be the body's.
            raise refuse("InvalidSignatureException", SIGNATURE_MISMATCH)
        if not hmac.compare_digest(self._signature(request, headers, signed, amz_date, region, service),
                                   fields["Signature"]):
            raise refuse("InvalidSignatureException", SIGNATURE_MISMATCH)

    def _check_time(self, when: datetime, amz_date: str, refuse) -> None:
        now = self._clock()
        stamp = now.strftime(SIGV4_TIMESTAMP)
        if when < now - MAX_CLOCK_SKEW:
            raise refuse("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than "
                                                       f"{(now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} "
                                                       f"({stamp} - 15 min.)")
        if when > now + MAX_CLOCK_SKEW:
            raise refuse("InvalidSignatureException", f"Signature not yet current: {amz_date} is still later than "
                                                       f"{(now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} "
                                                       f"({stamp} + 15 min.)")

    def _signature(self, request: SignedRequest, headers: dict[str, str], signed: list[str], amz_date: str,
                   region: str, service: str) -> str:
        """The signature botocore computes for this request with the configured secret."""
        url = f"http://{request.host}{request.raw_path}" + (f"?{request.query}" if request.query else "")
        aws_request = AWSRequest(method=request.method, url=url, data=request.body,
                                 headers={name: headers[name] for name in signed if name in headers})
        # add_auth() would stamp the current time; the client's X-Amz-Date is what it signed.
        aws_request.context["timestamp"] = amz_date
        signer = SigV4Auth(self.credentials, service, region)
        canonical = signer.canonical_request(aws_request)
        return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
