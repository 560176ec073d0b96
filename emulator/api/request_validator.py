"""The one place every API request is checked before any operation sees it.

A web page the user visits can send the server requests too: a cross-site `text/plain` POST
needs no CORS preflight, and a DNS name the attacker controls can be re-pointed at 127.0.0.1
(DNS rebinding) so that the browser treats the server as the attacker's own site. So, in order:

1. Host: localhost or a loopback address (plus the bind address, any IP literal when bound to
   all interfaces, and names the server was told to allow). An attacker's DNS name is refused.
2. Origin / Sec-Fetch-Site: botocore sends neither; a browser sends them on every cross-site
   POST. Only the server's own origin passes.
3. The route and X-Amz-Target name a served service over a protocol botocore's model of that
   service lists (CloudWatch: RPC v2 CBOR or JSON 1.0; SageMaker and Logs: JSON 1.1 only; IAM
   and STS: the Query protocol, `POST /` without X-Amz-Target, the form's Version naming the
   service).
4. Content-Type is exactly what botocore sends for that protocol. Of them only the Query
   protocol's form type is one a page may send without a CORS preflight (which the server
   never grants); 2 refuses such a page, and the query operations served only read (who the
   caller is, what a role looks like), so a page could neither change nor learn anything.
5. The body is at most `max_body_bytes` (413 otherwise), read with Flask's own limit so a
   chunked body cannot exceed it either.
6. With credentials configured, the SigV4 signature (emulator.api.sigv4).
7. The body decodes (bounded nesting) and satisfies botocore's model of the operation
   (emulator.validation, the checker `smlocal train` uses too).

The web console (`/console/...`, emulator.console) goes through 1 and, for writes, 2; reading
works from a link on any page; its writes also need the console's CSRF token. 3-7 are the AWS
protocols' and do not apply to its pages and forms.

The runtime's InvokeEndpoint (rest-json, `POST /endpoints/<name>/invocations`) goes through 1,
2, 5 (with the runtime's own limit, 6 MB), 6 and 7 too: its members are the path, the headers
and the raw body; its payload may have any Content-Type, and a page cannot send it either
without an Origin.

Refusals are AWS-shaped errors in the route's encoding, so botocore raises them as ClientError.
"""
from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import quote

from botocore.credentials import ReadOnlyCredentials
from flask import Request, g
from werkzeug.exceptions import RequestEntityTooLarge

from emulator.api.errors import ApiError, clip
from emulator.api.query_protocol import QUERY_CONTENT_TYPE, QueryEncoding, form_params, read_form
from emulator.api.sigv4 import SignatureChecker, SignedRequest
from emulator.api.wire import CBOR_CONTENT_TYPE, Encoding
from emulator.validation import RequestValidationError, ShapeRule, parse_input, service_model

# Larger than any request botocore's models allow for the operations served here (the largest,
# CreateTrainingJob with every member at its maximum, is about 3.3 MB of JSON).
MAX_BODY_BYTES = 4 * 1024 * 1024
JSON_ENDPOINT, CBOR_ENDPOINT = "json_protocol", "cbor_protocol"
# The SageMaker runtime's InvokeEndpoint: rest-json, `POST /endpoints/<name>/invocations`.
RUNTIME_ENDPOINT, RUNTIME_SERVICE, INVOKE_ENDPOINT = "runtime_invocations", "sagemaker-runtime", "InvokeEndpoint"
WILDCARD_BINDS = ("0.0.0.0", "::", "")
_HOST = re.compile(r"^(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>\d{1,5}))?$")
# The web console's routes (emulator.console): checked by RequestValidator.check_console.
CONSOLE_PREFIX = "/console"
SAFE_METHODS = ("GET", "HEAD")
# How much of a refused header value a message quotes.
QUOTE_CHARS = 100


class Operations(Protocol):
    service: str                                   # botocore service name
    rules: tuple[ShapeRule, ...]                   # where checks depart from the model
    operations: dict[str, Callable[[dict], dict]]


@dataclass(frozen=True)
class MergedOperations:
    service: str
    rules: tuple[ShapeRule, ...]
    operations: dict[str, Callable[[dict], dict]]


def merged(*parts: Operations) -> MergedOperations:
    """Several Operations of one service answered as one (training and hosting are both `sagemaker`)."""
    if len({part.service for part in parts}) != 1:
        raise ValueError("only Operations of the same service can be merged")
    operations: dict[str, Callable[[dict], dict]] = {}
    for part in parts:
        operations.update(part.operations)
    return MergedOperations(parts[0].service, tuple(rule for part in parts for rule in part.rules), operations)


@dataclass(frozen=True)
class RequestPolicy:
    """What the server accepts: its own addresses, the signing credentials, the body limit."""
    bind_host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    credentials: ReadOnlyCredentials | None = None
    max_body_bytes: int = MAX_BODY_BYTES


@dataclass(frozen=True)
class CheckedRequest:
    service: Operations
    operation: str
    params: dict
    encoding: Encoding | QueryEncoding


def is_console(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _access_denied(message: str) -> ApiError:
    return ApiError("AccessDeniedException", message, 403)


def _unknown(message: str) -> ApiError:
    return ApiError("UnknownOperationException", message)


class RequestValidator:
    def __init__(self, services: list[Operations], policy: RequestPolicy) -> None:
        self.policy = policy
        self.by_prefix = {service_model(s.service).metadata["targetPrefix"]: s for s in services
                          if "targetPrefix" in service_model(s.service).metadata}
        self.runtime = next((s for s in services if s.service == RUNTIME_SERVICE), None)
        # Services botocore speaks the Query protocol to (IAM, STS), named by the form's Version (their
        # model's apiVersion). CloudWatch's model still lists it, but botocore has sent CBOR since 1.36.
        self.by_version = {service_model(s.service).metadata["apiVersion"]: s for s in services
                           if service_model(s.service).metadata["protocol"] == "query"}
        self.signatures = SignatureChecker(policy.credentials) if policy.credentials else None
        self._allowed_names = {"localhost", policy.bind_host.lower(), *(h.lower() for h in policy.allowed_hosts)}

    # ---- 1, 2: where the request comes from ------------------------------------------------

    def _host_is_ours(self, host: str) -> bool:
        match = _HOST.match(host)
        if match is None:
            return False
        name = (match["ip6"] or match["name"]).lower()
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return name in self._allowed_names
        # An IP literal cannot be re-pointed by DNS; only loopback ones are ours unless the
        # server listens on other addresses.
        return address.is_loopback or name in self._allowed_names or self.policy.bind_host in WILDCARD_BINDS

    def _check_host(self, request: Request) -> str:
        host = request.headers.get("Host", "")
        if not self._host_is_ours(host):
            raise _access_denied(f"Host '{clip(host, QUOTE_CHARS)}' is not an address of this server; it answers "
                                 f"requests for localhost and its loopback addresses (a defence against DNS "
                                 f"rebinding; see docs/security.md).")
        return host

    def check_origin(self, request: Request) -> None:
        self._check_same_origin(request, self._check_host(request))

    def check_console(self, request: Request) -> None:
        """The web console (emulator.console, under CONSOLE_PREFIX): the Host rule as for the API.
        Reading (GET, HEAD) is allowed from a link on any page: another site can open the console
        but not read it (no CORS), and reads change nothing. A write must come from the console's
        own pages: its Origin and Sec-Fetch-Site, when sent, must say so, as for the API; the console
        then checks its CSRF token (emulator.console.csrf), for clients that send neither."""
        host = self._check_host(request)
        if request.method not in SAFE_METHODS:
            self._check_same_origin(request, host)

    def _check_same_origin(self, request: Request, host: str) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}".lower():
            raise _access_denied(f"Requests from web pages are refused (Origin '{clip(origin, QUOTE_CHARS)}'); "
                                 f"AWS SDKs send no Origin header.")
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise _access_denied("Requests from web pages are refused (Sec-Fetch-Site is "
                                 f"'{clip(request.headers['Sec-Fetch-Site'], QUOTE_CHARS)}').")

    # ---- 3-7: the AWS protocol ---------------------------------------------------------------

    def check(self, request: Request) -> CheckedRequest | None:
        """Raise ApiError for a refused request; the checked AWS request, or None for other routes."""
        g.api_request_id = str(uuid.uuid4())
        query = (request.endpoint == JSON_ENDPOINT and "X-Amz-Target" not in request.headers
                 and request.mimetype == QUERY_CONTENT_TYPE)
        g.api_encoding = Encoding.cbor_rpc() if request.endpoint == CBOR_ENDPOINT else \
            QueryEncoding() if query else Encoding.json()
        if is_console(request.path):
            self.check_console(request)
            return None
        self.check_origin(request)
        if request.endpoint == CBOR_ENDPOINT:
            prefix, operation = request.view_args["prefix"], request.view_args["operation"]
            service, protocol = self._service(prefix, "smithy-rpc-v2-cbor"), "smithy-rpc-v2-cbor"
            encoding = g.api_encoding
        elif query:
            return self._check_query(request)
        elif request.endpoint == JSON_ENDPOINT:
            target = request.headers.get("X-Amz-Target", "")
            if "." not in target:
                raise _unknown("Missing X-Amz-Target header (SageMaker.<Operation>, Logs_20140328.<Operation>, "
                               "...), or for IAM and STS a form (application/x-www-form-urlencoded).")
            prefix, operation = target.split(".", 1)
            service, protocol = self._service(prefix, "json"), "json"
            encoding = g.api_encoding = Encoding.json(service_model(service.service).metadata["jsonVersion"])
        elif request.endpoint == RUNTIME_ENDPOINT and self.runtime is not None:
            return self._check_runtime(request, self.runtime)
        else:
            return None
        self._check_content_type(request, encoding.content_type, service, protocol)
        body = self._body(request)
        model = service_model(service.service)
        if self.signatures is not None:
            self.signatures.check(self._signed(request, body), model.signing_name,
                                  query_compatible="awsQueryCompatible" in model.metadata)
        if operation not in service.operations:
            raise _unknown(f"{prefix}.{clip(operation, QUOTE_CHARS)} is not supported by the smlocal API; supported: "
                           f"{', '.join(sorted(service.operations))}.")
        params = parse_input(encoding.decode(body), model.operation_model(operation).input_shape,
                             service.rules)
        return CheckedRequest(service, operation, params, encoding)

    def _service(self, prefix: str, protocol: str) -> Operations:
        service = self.by_prefix.get(prefix)
        if service is None:
            raise _unknown(f"This endpoint serves {', '.join(sorted(self.by_prefix))}; not "
                           f"'{clip(prefix, QUOTE_CHARS)}'.")
        metadata = service_model(service.service).metadata
        if protocol not in metadata.get("protocols", [metadata["protocol"]]):
            raise _unknown(f"{prefix} is not served over {protocol}: botocore uses "
                           f"{', '.join(metadata.get('protocols', [metadata['protocol']]))}.")
        return service

    def _check_query(self, request: Request) -> CheckedRequest:
        """IAM and STS, the AWS Query protocol: `POST /`, a form whose Version names the service and
        Action the operation; errors are the protocol's XML (QueryEncoding), with IAM's and STS's
        codes: ValidationError for what the model refuses, the query codes of the signature checks."""
        body = self._body(request)
        form = read_form(body)
        version, action = form.get("Version") or "", form.get("Action") or ""
        service = self.by_version.get(version)
        if service is None:
            served = ", ".join(f"{s.service.upper()} ({v})" for v, s in sorted(self.by_version.items())) or "none"
            raise ApiError("NoSuchVersion", f"The requested version '{clip(version, QUOTE_CHARS)}' names no query-"
                                            f"protocol service served here; served: {served}. SageMaker, CloudWatch "
                                            f"Logs and CloudWatch answer JSON or CBOR, as current botocore sends them.")
        model = service_model(service.service)
        g.api_encoding = QueryEncoding(model)
        if self.signatures is not None:
            self.signatures.check(self._signed(request, body), model.signing_name, query_compatible=False,
                                  query_protocol=True)
        if not action:
            raise ApiError("MissingAction", "The request must contain the parameter Action.")
        if action not in service.operations:
            raise ApiError("InvalidAction", f"Could not find operation {clip(action, QUOTE_CHARS)} for version "
                                            f"{version}: the smlocal API serves {', '.join(sorted(service.operations))} "
                                            f"of {service.service.upper()}.")
        operation = model.operation_model(action)
        encoding = g.api_encoding = QueryEncoding(model, operation)
        try:
            params = parse_input(form_params(form, operation.input_shape), operation.input_shape, service.rules)
        except RequestValidationError as exc:  # IAM's and STS's code for a request their model refuses
            raise ApiError("ValidationError", exc.message) from None
        return CheckedRequest(service, action, params, encoding)

    def _check_content_type(self, request: Request, expected: str, service: Operations, protocol: str) -> None:
        if request.mimetype != expected:
            sent = request.headers.get("Content-Type", "")
            raise ApiError("UnsupportedMediaTypeException",
                           f"Content-Type '{clip(sent, QUOTE_CHARS)}' is not what botocore sends to "
                           f"{service.service} over {protocol}: expected '{expected}'.", 415)

    def _check_runtime(self, request: Request, service: Operations) -> CheckedRequest:
        """InvokeEndpoint (rest-json): its members are the path's name, the headers and the body as it is.
        The body limit is the model's (BodyBlob, SageMaker's 6 MB), not the JSON services'."""
        encoding = g.api_encoding = Encoding("application/json", cbor=False)
        model = service_model(RUNTIME_SERVICE)
        shape = model.operation_model(INVOKE_ENDPOINT).input_shape
        limit = shape.members["Body"].metadata["max"]
        request.max_content_length = limit + 1  # as create_app does for the JSON services' limit
        body = self._body(request, limit, ApiError(
            "ValidationError", f"The request body is larger than the InvokeEndpoint limit of {limit} bytes.", 413,
            {"x-amzn-ErrorType": "ValidationError"}))
        if self.signatures is not None:
            self.signatures.check(self._signed(request, body), model.signing_name, query_compatible=False)
        params: dict = {"EndpointName": request.view_args["name"], "Body": body or None}
        for name, member in shape.members.items():
            header = member.serialization.get("name")
            if member.serialization.get("location") == "header" and header in request.headers:
                params[name] = request.headers[header]
        try:
            checked = parse_input(params, shape, service.rules)
        except RequestValidationError as exc:
            # The runtime's code for what the model refuses (not the control plane's ValidationException).
            raise ApiError("ValidationError", exc.message, 400, {"x-amzn-ErrorType": "ValidationError"}) from None
        return CheckedRequest(service, INVOKE_ENDPOINT, checked, encoding)

    def _body(self, request: Request, limit: int | None = None, too_large: ApiError | None = None) -> bytes:
        limit = limit or self.policy.max_body_bytes
        too_large = too_large or ApiError("PayloadTooLargeException", f"The request body is larger than this "
                                                                      f"server's limit of {limit} bytes.", 413)
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        try:
            # Flask stops reading a body without Content-Length (chunked) at MAX_CONTENT_LENGTH,
            # which create_app sets one byte above the limit: a longer body shows as limit + 1.
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            raise too_large from None
        if len(body) > limit:
            raise too_large
        return body

    @staticmethod
    def _signed(request: Request, body: bytes) -> SignedRequest:
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or quote(request.path)
        path, _, query = raw.partition("?")
        return SignedRequest(request.method, request.headers.get("Host", ""), path, query, request.headers, body)
