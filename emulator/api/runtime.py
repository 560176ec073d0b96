"""The SageMaker runtime: InvokeEndpoint (`POST /endpoints/<name>/invocations`) on the API's port.

botocore's sagemaker-runtime model (rest-json): the endpoint name in the path, the body as it
is, Content-Type, Accept and the X-Amzn-SageMaker-* headers as members. The request validator
checks it like every other request (origin, signature with signing name `sagemaker`, the body
limit of the model's BodyBlob, the members' patterns); here it goes to one instance of the
endpoint (emulator.hosting.endpoints routes by name, and by variant weight or TargetVariant).
The container's answer comes back as it is, with the variant that answered. When the container
answers with an error the caller gets SageMaker's ModelError (424) with the container's status
and message; an endpoint that does not serve is a ValidationError, as SageMaker answers them.
"""
from __future__ import annotations

import json

import requests
from flask import Response, g

from emulator.api.errors import ApiError, clip
from emulator.hosting.logbook import endpoint_group
from emulator.hosting.service import HostingService

# The container has SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s by default) to answer; this is a backstop.
INVOCATION_TIMEOUT_SECONDS = 65
CONNECT_TIMEOUT_SECONDS = 5
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
# What the container's message may take of ModelError's message (SageMaker's answers are cut too).
MAX_ORIGINAL_MESSAGE = 1024
TIMED_OUT = ("Your invocation timed out while waiting for a response from container primary. Review the latency "
             "metrics for each container in Amazon CloudWatch, resolve the issue, and try again.")


def validation_error(message: str, status: int = 400) -> ApiError:
    # The runtime's code is ValidationError (not the control plane's ValidationException); botocore
    # reads a rest-json error's code from this header.
    return ApiError("ValidationError", message, status, {"x-amzn-ErrorType": "ValidationError"})


class RuntimeOperations:
    service = "sagemaker-runtime"
    rules = ()

    def __init__(self, hosting: HostingService) -> None:
        self.hosting = hosting
        self.region, self.account = hosting.ctx.region, hosting.ctx.account
        self.operations = {"InvokeEndpoint": self.invoke_endpoint}
        self._http = requests.Session()

    def invoke_endpoint(self, params: dict) -> Response:
        name = params["EndpointName"]
        if params.get("TargetModel"):
            raise validation_error(f"Endpoint {name} is not a multi-model endpoint and does not support target "
                                   f"model header.")
        headers = {}
        for member, header in (("ContentType", "Content-Type"), ("Accept", "Accept"),
                               ("CustomAttributes", CUSTOM_ATTRIBUTES)):
            if params.get(member) is not None:
                headers[header] = params[member]
        try:
            with self.hosting.invocation(name, params.get("TargetVariant")) as instance:
                if instance is None:
                    raise validation_error(f"Endpoint {name} of account {self.account} not found.")
                answer = self._http.post(f"{instance.server.url}/invocations", data=params["Body"], headers=headers,
                                         timeout=(CONNECT_TIMEOUT_SECONDS, INVOCATION_TIMEOUT_SECONDS))
        except KeyError:
            raise validation_error(f"Variant {params['TargetVariant']} not found for endpoint {name}.") from None
        except requests.Timeout:
            return self._model_error(name, 0, TIMED_OUT)
        except requests.RequestException as exc:
            return self._model_error(name, 0, f"The container primary of variant {instance.variant} did not answer: "
                                              f"{exc.__class__.__name__}.")
        if answer.status_code >= 400:
            return self._model_error(name, answer.status_code, answer.text)
        out = {"x-Amzn-Invoked-Production-Variant": instance.variant, "x-amzn-RequestId": g.api_request_id}
        if answer.headers.get(CUSTOM_ATTRIBUTES) is not None:
            out[CUSTOM_ATTRIBUTES] = answer.headers[CUSTOM_ATTRIBUTES]
        return Response(answer.content, status=200, headers=out,
                        content_type=answer.headers.get("Content-Type", "application/octet-stream"))

    def _model_error(self, endpoint: str, status: int, text: str) -> Response:
        """SageMaker's ModelError: the container's status and message, and where its log is."""
        original = clip(text.strip(), MAX_ORIGINAL_MESSAGE)
        group = endpoint_group(endpoint)
        kind = "client" if 400 <= status < 500 else "server"
        message = (f'Received {kind} error ({status}) from primary with message "{original}". See '
                   f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                   f"#logEventViewer:group={group} in account {self.account} for more information.")
        body = {"Message": message, "OriginalStatusCode": status, "OriginalMessage": original,
                "LogStreamArn": f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}"}
        return Response(json.dumps(body), status=424, content_type="application/json",
                        headers={"x-amzn-ErrorType": "ModelError", "x-amzn-RequestId": g.api_request_id})
