"""Secret references, resolved inside the deployment: `{"$secret_ref": "scheme:name"}`.

The control plane sends a reference as it is; the services turn it into the value here, from
their own environment (`env:NAME`), a file they can read (`file:/path`, e.g. a mounted
Kubernetes secret) or AWS Secrets Manager (`aws-sm:<id or ARN>[#<json key>]`). A reference
that can never resolve raises `UnresolvableReferenceError`; trouble that may pass (throttling,
the network, a 5xx) raises a plain `RuntimeError` so the durable step retries. No message ever
holds a value.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "RESOLVERS",
    "EnvResolver",
    "FileResolver",
    "SecretResolver",
    "SecretsManagerResolver",
    "UnresolvableReferenceError",
    "resolve_reference",
]

_FILE_LIMIT = 1024 * 1024
"""The largest secret file read (a Kubernetes secret holds at most 1 MiB)."""

# Secrets Manager error codes retrying cannot fix, with what each means for the reference.
_UNRESOLVABLE_CODES = {
    "ResourceNotFoundException": "AWS Secrets Manager has no such secret",
    "InvalidRequestException": (
        "AWS Secrets Manager refused the request (InvalidRequestException: e.g. the secret "
        "is scheduled for deletion)"
    ),
    "InvalidParameterException": "AWS Secrets Manager refused the secret id as invalid",
    "DecryptionFailure": (
        "AWS Secrets Manager cannot decrypt the secret with its KMS key (DecryptionFailure)"
    ),
    "AccessDeniedException": (
        "the services' AWS credentials may not read the secret (AccessDeniedException)"
    ),
}


def _shown(text: str) -> str:
    """`text` as it may stand in a one-line message: itself when printable, else its repr."""
    return text if text.isprintable() else repr(text)


class UnresolvableReferenceError(Exception):
    """A secret reference that cannot be resolved for good; one line naming the reference
    (on `.reference`) and why, never a value."""

    def __init__(self, reference: str, reason: str) -> None:
        self.reference = reference
        self.reason = " ".join(reason.splitlines())
        super().__init__(f"secret reference {reference!r} cannot be resolved: {self.reason}")


def _transient(reference: str, reason: str) -> RuntimeError:
    """A failure that may pass: the caller's durable step retries it (no value in it)."""
    return RuntimeError(f"secret reference {reference!r} could not be resolved yet: {reason}")


@runtime_checkable
class SecretResolver(Protocol):
    """Resolves the names of one reference scheme (`env`, `file`, `aws-sm`, …) to values."""

    scheme: str

    async def resolve(self, name: str) -> str:
        """The value `name` refers to; `UnresolvableReferenceError` when it never will be,
        any other exception when trying again may help."""
        ...


class EnvResolver:
    """`env:NAME`: a variable of the services' own process environment."""

    scheme = "env"

    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        """Read `environ` (the process environment when None) at each resolve, not now."""
        self._environ = environ

    async def resolve(self, name: str) -> str:
        """The variable's value (empty when set empty); unset → `UnresolvableReferenceError`."""
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(name)
        if value is None:
            raise UnresolvableReferenceError(
                f"{self.scheme}:{name}", f"the services' environment has no {_shown(name)}"
            )
        return value


class FileResolver:
    """`file:/path`: a file the services can read (e.g. a mounted Kubernetes secret), as UTF-8
    text with one trailing newline removed."""

    scheme = "file"

    def __init__(self, *, max_bytes: int = _FILE_LIMIT) -> None:
        """Refuse files larger than `max_bytes`: a secret is small, and a mistake is not."""
        self._max_bytes = max_bytes

    async def resolve(self, name: str) -> str:
        """The file's text, read off the event loop; a missing or unreadable file, or one
        that is not UTF-8 text → `UnresolvableReferenceError`."""
        return await asyncio.to_thread(self._read, name)

    def _read(self, name: str) -> str:
        """Read the file in a worker thread; errors name the path, never the content."""
        reference = f"{self.scheme}:{name}"

        def unresolvable(reason: str) -> UnresolvableReferenceError:
            return UnresolvableReferenceError(reference, reason)

        if not os.path.isabs(name):
            raise unresolvable("the path is not absolute")
        try:
            # Checked before opening: opening a FIFO would block this thread for good.
            if not stat.S_ISREG(os.stat(name).st_mode):
                raise unresolvable("the path is not a regular file")
            with open(name, "rb") as handle:
                data = handle.read(self._max_bytes + 1)
        except FileNotFoundError:
            raise unresolvable("the services have no such file") from None
        except PermissionError:
            raise unresolvable("the services may not read the file (permission denied)") from None
        except (IsADirectoryError, NotADirectoryError):
            raise unresolvable("the path is not a regular file") from None
        except OSError as error:  # e.g. EIO on a network mount: may pass
            raise _transient(reference, f"reading the file failed ({error.strerror})") from None
        if len(data) > self._max_bytes:
            raise unresolvable(f"the file is larger than {self._max_bytes} bytes")
        text = _utf8(data)
        if text is None:
            raise unresolvable("the file is not UTF-8 text")
        return text.removesuffix("\r\n") if text.endswith("\r\n") else text.removesuffix("\n")


def _utf8(data: bytes) -> str | None:
    """`data` decoded, or None: the decode error (which quotes bytes) never leaves here."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json(text: str) -> object:
    """`text` parsed, or None when it is not JSON: the parse error holds the text."""
    try:
        parsed: object = json.loads(text)
    except ValueError:
        return None
    return parsed


class _SecretsManagerClient(Protocol):
    """The one call of a boto3 Secrets Manager client this resolver makes."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]:  # noqa: N803
        """boto3's GetSecretValue."""
        ...


class SecretsManagerResolver:
    """`aws-sm:<secret id or ARN>[#<json key>]`: a SecretString of AWS Secrets Manager, or
    one key of a JSON one. boto3 is imported on first use, never when this module is."""

    scheme = "aws-sm"

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client_factory: Callable[[], _SecretsManagerClient] | None = None,
    ) -> None:
        """Remember how to reach Secrets Manager; the client (region and credentials from the
        standard AWS environment unless given) is made once, on the first resolve."""
        self._region = region
        self._endpoint_url = endpoint_url
        self._client_factory = client_factory
        self._client: _SecretsManagerClient | None = None
        self._client_lock = threading.Lock()

    async def resolve(self, name: str) -> str:
        """The secret's SecretString, or the value at `#key` of its JSON object (a string as it
        is, any other JSON value as compact JSON text); the AWS call runs off the loop."""
        secret_id, hashed, key = name.partition("#")
        reference = f"{self.scheme}:{name}"
        if not secret_id:
            raise UnresolvableReferenceError(reference, "it names no secret id")
        if hashed and not key:
            raise UnresolvableReferenceError(reference, "the JSON key after '#' is empty")
        text = await asyncio.to_thread(self._secret_string, reference, secret_id)
        return text if not hashed else _pick(reference, text, key)

    def _secrets_manager(self, reference: str) -> _SecretsManagerClient:
        """The client, made on first use; without boto3 the scheme cannot work here at all."""
        with self._client_lock:
            if self._client is None:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    self._client = self._boto3_client(reference)
            return self._client

    def _boto3_client(self, reference: str) -> _SecretsManagerClient:
        """A client on a private boto3 session (the default session is not thread-safe)."""
        try:
            import boto3
            from botocore.exceptions import NoRegionError
        except ImportError:
            raise UnresolvableReferenceError(
                reference, "the services are installed without boto3 (the 'ecs' extra has it)"
            ) from None
        try:
            client: _SecretsManagerClient = boto3.session.Session().client(
                "secretsmanager", region_name=self._region, endpoint_url=self._endpoint_url
            )
        except NoRegionError:
            raise UnresolvableReferenceError(
                reference, "the services have no AWS region (set AWS_REGION)"
            ) from None
        return client

    def _secret_string(self, reference: str, secret_id: str) -> str:
        """GetSecretValue's SecretString; AWS errors sorted into for-good and may-pass."""
        client = self._secrets_manager(reference)
        from botocore.exceptions import BotoCoreError, ClientError

        refused: str | None = None
        try:
            response = client.get_secret_value(SecretId=secret_id)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "")) or "an unnamed error"
            if code not in _UNRESOLVABLE_CODES:
                raise _transient(reference, f"AWS Secrets Manager answered {code}") from error
            refused = _UNRESOLVABLE_CODES[code]
        except BotoCoreError as error:  # endpoint, connection, timeout, credentials lookup
            raise _transient(
                reference, f"AWS Secrets Manager is out of reach ({type(error).__name__})"
            ) from error
        if refused is not None:  # raised out here: AWS's own message stays behind
            raise UnresolvableReferenceError(reference, refused)
        text = response.get("SecretString")
        if not isinstance(text, str):
            reason = "the secret holds no SecretString"
            if response.get("SecretBinary") is not None:
                reason += " (only SecretBinary, which references do not read)"
            raise UnresolvableReferenceError(reference, reason)
        return text


def _pick(reference: str, text: str, key: str) -> str:
    """The value at `key` of the JSON object `text`; anything else is for good."""
    document = _json(text)
    if not isinstance(document, dict):
        raise UnresolvableReferenceError(
            reference, f"the SecretString is not a JSON object, so it has no key {_shown(key)}"
        )
    value = document.get(key)
    if value is None:
        raise UnresolvableReferenceError(
            reference, f"the secret's JSON object has no value at key {_shown(key)}"
        )
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


RESOLVERS: dict[str, SecretResolver] = {
    resolver.scheme: resolver
    for resolver in (EnvResolver(), FileResolver(), SecretsManagerResolver())
}
"""The process's resolvers by scheme (cheap to build: none touches boto3 until it resolves)."""


async def resolve_reference(
    reference: str, *, resolvers: Mapping[str, SecretResolver] | None = None
) -> str:
    """The value `reference` (`scheme:name`) refers to, by the resolver of its scheme (from
    `resolvers`, else `RESOLVERS`); a malformed reference or unknown scheme is for good."""
    known = RESOLVERS if resolvers is None else resolvers
    if not isinstance(reference, str):  # its text is not shown: it may hold anything
        raise UnresolvableReferenceError("", f"a reference is a string, not {type(reference)}")
    scheme, colon, name = reference.partition(":")
    if not (scheme and colon and name):
        raise UnresolvableReferenceError(reference, "a reference is a string scheme:name")
    resolver = known.get(scheme)
    if resolver is None:
        schemes = ", ".join(sorted(known)) or "none"
        raise UnresolvableReferenceError(
            reference, f"unknown scheme {_shown(scheme)} (known: {schemes})"
        )
    return await resolver.resolve(name)
