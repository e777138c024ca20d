"""The Task resources an ASL definition may name here, and the calls behind two of them:

- `arn:aws:states:::http:invoke`: the Step Functions HTTP task (`ApiEndpoint`, `Method`,
  `Headers`, `QueryParameters`, `RequestBody`), through httpx;
- `arn:aws:states:::lambda:invoke` (the result wrapped as Step Functions wraps it) and
  `arn:aws:lambda:<region>:<account>:function:<name>` (the function's own result), through
  boto3 (loaded only when a definition calls one);
- `restate:<Service>/<handler>` and `restate:<Object>/<key>/<handler>`: a call to another
  Restate service, which only a Restate runtime can make; the key may be a path into the
  context object (`restate:TenantProvisioning/$$.Execution.Name/run`).

A call runs the same in every runtime; a durable one journals what it returns."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
from dataclasses import dataclass
from typing import Any, Literal

from ._exceptions import StatesError
from .paths import read

__all__ = ["HTTP_INVOKE", "LAMBDA_INVOKE", "Resource", "call_http", "call_lambda", "resource_of"]

HTTP_INVOKE = "arn:aws:states:::http:invoke"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:function:[^\s]+$")
_RESTATE = re.compile(
    r"^restate:(?P<service>[A-Za-z_][A-Za-z0-9_]*)/(?:(?P<key>[^/\s]+)/)?(?P<handler>[A-Za-z_][A-Za-z0-9_]*)$"
)
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


@dataclass(frozen=True, slots=True)
class Resource:
    """A Task resource, read: its kind and, for a Restate call, its target."""

    kind: Literal["http", "lambda", "lambda-invoke", "restate"]
    service: str = ""
    handler: str = ""
    key: str | None = None
    """A Restate call's key: a literal, or a path into the context object (`$$.Execution.Name`)."""
    region: str | None = None

    def key_in(self, context: Any) -> str | None:
        """The key to call with: the literal, or what its context path names (a string)."""
        if self.key is None or not self.key.startswith("$$"):
            return self.key
        value = read(self.key, {}, context)
        if not isinstance(value, str) or not value:
            raise StatesError("States.Runtime", f"the key {self.key!r} must name a string")
        return value


def resource_of(text: Any) -> Resource | None:
    """The resource `text` names, or None when it is not one of those above."""
    if text == HTTP_INVOKE:
        return Resource("http")
    if text == LAMBDA_INVOKE:
        return Resource("lambda-invoke")
    if not isinstance(text, str):
        return None
    if found := _FUNCTION_ARN.match(text):
        return Resource("lambda", region=found.group("region"))
    if found := _RESTATE.match(text):
        return Resource(
            "restate", service=found["service"], handler=found["handler"], key=found["key"]
        )
    return None


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every HTTP task: building one costs ~20 ms of CPU, a call far less."""
    import httpx

    return httpx.create_ssl_context()


def _object(parameters: Any, field: str) -> dict[str, Any]:
    value = parameters.get(field, {}) if isinstance(parameters, dict) else {}
    if not isinstance(value, dict):
        raise StatesError("States.Runtime", f"{field} must be an object")
    return value


async def call_http(parameters: Any, *, timeout: float | None) -> dict[str, Any]:
    """The HTTP task: the response as Step Functions gives it (`StatusCode`, `StatusText`,
    `Headers`, `ResponseBody`); a status of 400 or more is `States.Http.StatusCode.<code>`, a
    failure to connect `States.Http.Socket`, no answer within `timeout` `States.Timeout`."""
    import httpx

    endpoint = parameters.get("ApiEndpoint") if isinstance(parameters, dict) else None
    method = str(parameters.get("Method", "")).upper() if isinstance(parameters, dict) else ""
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise StatesError("States.Runtime", "ApiEndpoint must be an http(s) URL")
    if method not in _METHODS:
        raise StatesError("States.Runtime", f"Method must be one of {', '.join(_METHODS)}")
    headers = {str(k): str(v) for k, v in _object(parameters, "Headers").items()}
    query = {str(k): str(v) for k, v in _object(parameters, "QueryParameters").items()}
    body = parameters.get("RequestBody")
    content = None
    if body is not None:
        content = body if isinstance(body, str) else json.dumps(body)
        if not isinstance(body, str):
            headers.setdefault("content-type", "application/json")
    try:
        async with httpx.AsyncClient(timeout=timeout or 60.0, verify=_tls()) as client:
            response = await client.request(
                method, endpoint, headers=headers, params=query, content=content
            )
    except httpx.TimeoutException:
        raise StatesError("States.Timeout", f"{method} {endpoint} did not answer in time") from None
    except httpx.HTTPError as error:
        raise StatesError("States.Http.Socket", f"{method} {endpoint}: {error}") from None
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text
    if response.status_code >= 400:
        raise StatesError(
            f"States.Http.StatusCode.{response.status_code}",
            json.dumps({"StatusCode": response.status_code, "ResponseBody": answer}),
        )
    return {
        "StatusCode": response.status_code,
        "StatusText": response.reason_phrase,
        "Headers": {k: [v] for k, v in response.headers.items()},
        "ResponseBody": answer,
    }


def _invoke(resource: Resource, function: str, payload: bytes, qualifier: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise StatesError(
            "States.TaskFailed", "a Lambda task needs boto3 (the lambda-tasks extra)"
        ) from None
    from botocore.exceptions import BotoCoreError, ClientError

    options = {"Qualifier": qualifier} if qualifier else {}
    try:
        client = boto3.client("lambda", region_name=resource.region)
        return client.invoke(FunctionName=function, Payload=payload, **options)
    except ClientError as error:  # named as Step Functions names Lambda's errors
        code = error.response.get("Error", {}).get("Code", "ServiceException")
        raise StatesError(f"Lambda.{code}", str(error)) from None
    except BotoCoreError as error:
        raise StatesError("Lambda.SdkClientException", str(error)) from None


async def call_lambda(resource: Resource, arn: str, parameters: Any) -> Any:
    """Invoke a Lambda function: for `lambda:invoke` the wrapped answer (`Payload`,
    `StatusCode`, `ExecutedVersion`), for a function ARN its own result. A function error is
    the error its payload names (`errorType`), else `Lambda.Unknown`."""
    if resource.kind == "lambda-invoke":
        if not isinstance(parameters, dict) or not isinstance(parameters.get("FunctionName"), str):
            raise StatesError("States.Runtime", "lambda:invoke needs a FunctionName")
        function, sent = parameters["FunctionName"], parameters.get("Payload")
        qualifier = parameters.get("Qualifier")
        if match := _FUNCTION_ARN.match(function):
            resource = Resource("lambda-invoke", region=match.group("region"))
    else:
        function, sent, qualifier = arn, parameters, None
    answer = await asyncio.to_thread(
        _invoke, resource, function, json.dumps(sent).encode(), qualifier
    )
    raw = answer["Payload"].read()
    try:
        result = json.loads(raw) if raw else None
    except ValueError:
        result = raw.decode(errors="replace")
    if answer.get("FunctionError"):
        name = result.get("errorType") if isinstance(result, dict) else None
        raise StatesError(str(name or "Lambda.Unknown"), json.dumps(result))
    if resource.kind == "lambda":
        return result
    return {
        "ExecutedVersion": answer.get("ExecutedVersion", "$LATEST"),
        "Payload": result,
        "StatusCode": answer.get("StatusCode", 200),
    }
