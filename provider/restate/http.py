"""The transport seam: one pooled async client per Restate endpoint, made on first use.

Transient failures (connection errors, timeouts, 5xx, 429) are retried with backoff
`retry_attempts` times; 4xx never are. A server that cannot be reached (or still answers 5xx)
becomes `ProviderUnavailableError` naming the endpoint, with Restate's own message; 401/403
become `AuthenticationError`; `check` turns any other unexpected answer into
`UnexpectedResponseError`. No `httpx` exception leaves this module. Connections acknowledge at
once (`transport.py`), so SQL answers do not stall on delayed ACKs.
The API key travels only in the Authorization header, never in a message or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
import stamina
from opentelemetry.propagate import inject
from pydantic import SecretStr

from .._exceptions import AuthenticationError, ProviderUnavailableError, UnexpectedResponseError
from .transport import restate_transport

__all__ = ["RestateHttp", "restate_message"]


def restate_message(response: httpx.Response, *, limit: int = 400) -> str:
    """Restate's own words from an error answer: the `message` of its JSON body (its error code
    once, not repeated), else the body as text."""
    try:
        message = str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:limit]
    code = re.match(r"(\[[A-Z]+\d+\] )\1+", message)
    return (message[len(code.group(0)) - len(code.group(1)) :] if code else message)[:limit]


class _TransientError(Exception):
    """A failure worth another attempt."""


class RestateHttp:
    """Requests to one Restate endpoint (ingress or admin) over a lazily made, pooled client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: SecretStr | None = None,
        retry_attempts: int = 3,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._retry_attempts = retry_attempts
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {}
            if self._api_key is not None and self._api_key.get_secret_value():
                headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=self._timeout,
                transport=self._transport or restate_transport(),
                trust_env=False,
            )
        return self._client

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        retry_server_errors: bool = True,
        propagate_trace: bool = False,
    ) -> httpx.Response:
        """Send one request, retrying transient failures; any other answer is returned."""
        sent_headers = dict(headers or {})
        if propagate_trace:
            inject(sent_headers)
        client = self._get_client()
        try:
            async for attempt in stamina.retry_context(
                on=_TransientError,
                attempts=self._retry_attempts + 1,
                timeout=None,
                wait_initial=0.1,
                wait_max=2.0,
            ):
                with attempt:
                    try:
                        response = await client.request(
                            method,
                            path,
                            json=json,
                            content=content,
                            headers=sent_headers,
                            params=params,
                        )
                    except httpx.TransportError as error:
                        raise _TransientError(type(error).__name__) from error
                    if response.status_code == 429 or (
                        retry_server_errors and response.status_code >= 500
                    ):
                        raise _TransientError(
                            f"answered {response.status_code}: {restate_message(response)}"
                        )
        except _TransientError as error:
            raise ProviderUnavailableError(self.base_url, reason=str(error)) from None
        return self._authenticated(response)

    async def wait(self, path: str, seconds: float) -> httpx.Response | None:
        """GET `path`, which the server answers only once something happened; None when
        `seconds` pass first. Not retried: waiting again is the caller's choice."""
        timeout = httpx.Timeout(self._timeout, read=max(seconds, 0.001))
        try:
            response = await self._get_client().get(path, timeout=timeout)
        except httpx.ReadTimeout:
            return None
        except httpx.TransportError as error:
            raise ProviderUnavailableError(self.base_url, reason=type(error).__name__) from None
        return self._authenticated(response)

    def _authenticated(self, response: httpx.Response) -> httpx.Response:
        if response.status_code in (401, 403):
            raise AuthenticationError(self.base_url, reason=f"answered {response.status_code}")
        return response

    def check(self, response: httpx.Response) -> httpx.Response:
        """The response when it succeeded; else `UnexpectedResponseError` with Restate's words
        (a 5xx that was not retried says the server is unavailable)."""
        if response.is_success:
            return response
        request = f"{response.request.method} {response.request.url.path}"
        if response.status_code >= 500:
            raise ProviderUnavailableError(
                self.base_url,
                reason=f"{request} answered {response.status_code}: {restate_message(response)}",
            )
        raise UnexpectedResponseError(
            self.base_url,
            request=request,
            status=response.status_code,
            message=restate_message(response),
        )

    async def aclose(self) -> None:
        """Close the pooled connections (a later request opens new ones)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
