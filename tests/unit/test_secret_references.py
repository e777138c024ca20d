"""Secret references resolved inside the deployment: env, file and AWS Secrets Manager (moto).

moto answers GetSecretValue faithfully for found, missing and binary secrets but never
throttles or fails; the may-pass path is shown with botocore's Stubber and a raising client.
Every secret value here carries MARKER, so no error message may ever contain it.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from services.secrets import (
    RESOLVERS,
    EnvResolver,
    FileResolver,
    SecretResolver,
    SecretsManagerResolver,
    UnresolvableReferenceError,
    references,
    resolve_reference,
)
from tests.aws import fake_aws

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-2"
MARKER = "mk-7f3a9c-never-in-a-message"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it carries as its cause or context."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _assert_clean(error: BaseException) -> None:
    """No exception of the chain shows the marker, and the message is one line."""
    assert "\n" not in str(error)
    for link in _chain(error):
        assert MARKER not in str(link)
        assert MARKER not in repr(link)


async def _unresolvable(reference: str, **options: Any) -> UnresolvableReferenceError:
    """The error `reference` raises; it must be the for-good kind and clean."""
    with pytest.raises(UnresolvableReferenceError) as caught:
        await resolve_reference(reference, **options)
    _assert_clean(caught.value)
    return caught.value


# -- env --------------------------------------------------------------------------------------


async def test_env_resolves_a_set_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDLORD_TEST_DB_PASSWORD", MARKER)
    assert await resolve_reference("env:LANDLORD_TEST_DB_PASSWORD") == MARKER


async def test_env_resolves_a_variable_set_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDLORD_TEST_EMPTY", "")
    assert await resolve_reference("env:LANDLORD_TEST_EMPTY") == ""


async def test_env_unset_is_unresolvable_naming_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    monkeypatch.setenv("LANDLORD_TEST_OTHER", MARKER)
    error = await _unresolvable("env:DB_PASSWORD")
    assert error.reference == "env:DB_PASSWORD"
    assert str(error) == (
        "secret reference 'env:DB_PASSWORD' cannot be resolved: "
        "the services' environment has no DB_PASSWORD"
    )


async def test_env_reads_a_given_environment_at_resolve_time() -> None:
    environ: dict[str, str] = {}
    resolver = EnvResolver(environ=environ)
    environ["TOKEN"] = MARKER
    assert await resolver.resolve("TOKEN") == MARKER


# -- file -------------------------------------------------------------------------------------


async def test_file_resolves_its_content_without_one_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(MARKER + "\n")
    assert await resolve_reference(f"file:{secret}") == MARKER


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (MARKER, MARKER),
        (MARKER + "\n\n", MARKER + "\n"),
        (MARKER + "\r\n", MARKER),
        ("line one\nline two\n", "line one\nline two"),
        (" " + MARKER + " \n", " " + MARKER + " "),
        ("", ""),
    ],
)
async def test_file_removes_exactly_one_trailing_newline(
    tmp_path: Path, content: str, expected: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(content.encode())
    assert await resolve_reference(f"file:{secret}") == expected


async def test_file_missing_is_unresolvable(tmp_path: Path) -> None:
    reference = f"file:{tmp_path / 'absent'}"
    error = await _unresolvable(reference)
    assert error.reference == reference
    assert str(error).startswith(f"secret reference {reference!r} cannot be resolved: ")
    assert "no such file" in str(error)


async def test_file_that_is_a_directory_is_unresolvable(tmp_path: Path) -> None:
    error = await _unresolvable(f"file:{tmp_path}")
    assert "not a regular file" in str(error)


async def test_file_with_a_relative_path_is_unresolvable() -> None:
    error = await _unresolvable("file:secrets/password")
    assert "not absolute" in str(error)


async def test_file_unreadable_is_unresolvable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permission denied, simulated: the tests may run as root, who reads any file."""
    secret = tmp_path / "locked"
    secret.write_text(MARKER)

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(secret))

    monkeypatch.setattr(references, "open", denied, raising=False)
    error = await _unresolvable(f"file:{secret}")
    assert "permission denied" in str(error)


async def test_file_io_error_is_not_unresolvable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error (e.g. on a network mount) may pass: a plain error the step retries."""
    secret = tmp_path / "flaky"
    secret.write_text(MARKER)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(secret))

    monkeypatch.setattr(references, "open", failing, raising=False)
    with pytest.raises(RuntimeError, match="could not be resolved yet") as caught:
        await resolve_reference(f"file:{secret}")
    assert not isinstance(caught.value, UnresolvableReferenceError)
    assert MARKER not in str(caught.value)


async def test_file_not_utf8_is_unresolvable_without_showing_content(tmp_path: Path) -> None:
    secret = tmp_path / "binary"
    secret.write_bytes(MARKER.encode() + b"\xff\xfe")
    error = await _unresolvable(f"file:{secret}")
    assert "not UTF-8" in str(error)


async def test_file_over_the_limit_is_unresolvable(tmp_path: Path) -> None:
    secret = tmp_path / "large"
    secret.write_text(MARKER * 10)
    resolver = FileResolver(max_bytes=len(MARKER))
    error = await _unresolvable(f"file:{secret}", resolvers={"file": resolver})
    assert f"larger than {len(MARKER)} bytes" in str(error)


# -- the registry -----------------------------------------------------------------------------


def test_the_registry_holds_each_scheme_under_its_own_name() -> None:
    assert set(RESOLVERS) == {"env", "file", "aws-sm"}
    for scheme, resolver in RESOLVERS.items():
        assert isinstance(resolver, SecretResolver)
        assert resolver.scheme == scheme


async def test_an_unknown_scheme_is_unresolvable_and_lists_the_known_ones() -> None:
    error = await _unresolvable("vault:db/password")
    assert error.reference == "vault:db/password"
    assert "unknown scheme vault" in str(error)
    assert "(known: aws-sm, env, file)" in str(error)


@pytest.mark.parametrize("reference", ["DB_PASSWORD", "env:", ":name", ""])
async def test_a_reference_without_scheme_and_name_is_unresolvable(reference: str) -> None:
    error = await _unresolvable(reference)
    assert "scheme:name" in str(error)


async def test_a_multiline_reference_still_makes_a_one_line_message() -> None:
    await _unresolvable("env:A\nB")
    await _unresolvable("nope:x\ny")


async def test_given_resolvers_replace_the_registry() -> None:
    class Fixed:
        scheme = "fixed"

        async def resolve(self, name: str) -> str:
            return f"{name}-{MARKER}"

    assert await resolve_reference("fixed:a", resolvers={"fixed": Fixed()}) == f"a-{MARKER}"
    error = await _unresolvable("env:HOME", resolvers={"fixed": Fixed()})
    assert "(known: fixed)" in str(error)


async def test_aws_sm_without_boto3_is_unresolvable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` now raises ImportError
    error = await _unresolvable("aws-sm:db", resolvers={"aws-sm": SecretsManagerResolver()})
    assert "without boto3" in str(error)


# -- AWS Secrets Manager ----------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, the region only in the standard environment, moto intercepting."""
    with fake_aws(monkeypatch, region=REGION, unset=("AWS_ENDPOINT_URL_SECRETS_MANAGER",)):
        yield


@pytest.fixture
def secrets(aws: None) -> Any:
    """Secrets Manager in REGION with a string, a JSON and a binary secret, all with MARKER."""
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name="db/password", SecretString=MARKER)
    client.create_secret(
        Name="db/credentials",
        SecretString=json.dumps({"username": "app", "password": MARKER, "port": 5432}),
    )
    client.create_secret(Name="db/binary", SecretBinary=MARKER.encode())
    client.create_secret(Name="db/text", SecretString=f"not json {MARKER}")
    return client


def _resolvers(resolver: SecretsManagerResolver) -> dict[str, SecretResolver]:
    return {"aws-sm": resolver}


async def test_aws_sm_resolves_a_string_secret(secrets: Any) -> None:
    """The default registry's resolver finds it: the region came from AWS_DEFAULT_REGION."""
    assert await resolve_reference("aws-sm:db/password") == MARKER


async def test_aws_sm_resolves_by_arn(secrets: Any) -> None:
    arn = secrets.describe_secret(SecretId="db/password")["ARN"]
    resolvers = _resolvers(SecretsManagerResolver())
    assert await resolve_reference(f"aws-sm:{arn}", resolvers=resolvers) == MARKER


async def test_aws_sm_resolves_one_key_of_a_json_secret(secrets: Any) -> None:
    resolvers = _resolvers(SecretsManagerResolver())
    assert await resolve_reference("aws-sm:db/credentials#password", resolvers=resolvers) == (
        MARKER
    )
    assert await resolve_reference("aws-sm:db/credentials#username", resolvers=resolvers) == ("app")
    assert await resolve_reference("aws-sm:db/credentials#port", resolvers=resolvers) == "5432"


async def test_aws_sm_without_a_key_returns_the_whole_json_string(secrets: Any) -> None:
    value = await resolve_reference(
        "aws-sm:db/credentials", resolvers=_resolvers(SecretsManagerResolver())
    )
    assert json.loads(value)["password"] == MARKER


async def test_aws_sm_missing_secret_is_unresolvable_naming_the_reference(secrets: Any) -> None:
    resolvers = _resolvers(SecretsManagerResolver())
    error = await _unresolvable("aws-sm:db/absent", resolvers=resolvers)
    assert error.reference == "aws-sm:db/absent"
    assert str(error) == (
        "secret reference 'aws-sm:db/absent' cannot be resolved: "
        "AWS Secrets Manager has no such secret"
    )


async def test_aws_sm_missing_json_key_is_unresolvable(secrets: Any) -> None:
    resolvers = _resolvers(SecretsManagerResolver())
    error = await _unresolvable("aws-sm:db/credentials#token", resolvers=resolvers)
    assert error.reference == "aws-sm:db/credentials#token"
    assert "has no value at key token" in str(error)


async def test_aws_sm_key_of_a_non_json_secret_is_unresolvable(secrets: Any) -> None:
    error = await _unresolvable(
        "aws-sm:db/text#password", resolvers=_resolvers(SecretsManagerResolver())
    )
    assert "not a JSON object" in str(error)


async def test_aws_sm_binary_only_secret_is_unresolvable(secrets: Any) -> None:
    error = await _unresolvable("aws-sm:db/binary", resolvers=_resolvers(SecretsManagerResolver()))
    assert "SecretBinary" in str(error)


@pytest.mark.parametrize("reference", ["aws-sm:#password", "aws-sm:db/credentials#"])
async def test_aws_sm_malformed_name_is_unresolvable(secrets: Any, reference: str) -> None:
    await _unresolvable(reference, resolvers=_resolvers(SecretsManagerResolver()))


async def test_aws_sm_builds_its_client_once(secrets: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    original = boto3.session.Session.client

    def counting(self: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
        made.append(str(args[0] if args else kwargs.get("service_name")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counting)
    resolvers = _resolvers(SecretsManagerResolver())
    for _ in range(3):
        assert await resolve_reference("aws-sm:db/password", resolvers=resolvers) == MARKER
    assert made == ["secretsmanager"]


def _stubbed(code: str, *, status: int) -> SecretsManagerResolver:
    """A resolver whose client answers GetSecretValue with the AWS error `code`."""
    client = boto3.client("secretsmanager", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_secret_value",
        service_error_code=code,
        service_message=f"refused {MARKER}",  # AWS text never reaches an unresolvable message
        http_status_code=status,
    )
    stubber.activate()
    return SecretsManagerResolver(client_factory=lambda: client)


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("InternalServiceError", 500)]
)
async def test_aws_sm_transient_errors_are_not_unresolvable(
    aws: None, code: str, status: int
) -> None:
    resolvers = _resolvers(_stubbed(code, status=status))
    with pytest.raises(RuntimeError, match="could not be resolved yet") as caught:
        await resolve_reference("aws-sm:db/password", resolvers=resolvers)
    assert not isinstance(caught.value, UnresolvableReferenceError)
    assert "'aws-sm:db/password'" in str(caught.value)
    assert code in str(caught.value)
    assert MARKER not in str(caught.value)


@pytest.mark.parametrize(
    "code", ["DecryptionFailure", "InvalidRequestException", "ResourceNotFoundException"]
)
async def test_aws_sm_for_good_errors_are_unresolvable(aws: None, code: str) -> None:
    error = await _unresolvable(
        "aws-sm:db/password", resolvers=_resolvers(_stubbed(code, status=400))
    )
    assert error.reference == "aws-sm:db/password"


async def test_aws_sm_unreachable_endpoint_is_not_unresolvable(aws: None) -> None:
    class Unreachable:
        def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803
            raise EndpointConnectionError(endpoint_url="https://secretsmanager.invalid")

    resolvers = _resolvers(SecretsManagerResolver(client_factory=Unreachable))
    with pytest.raises(RuntimeError, match="out of reach") as caught:
        await resolve_reference("aws-sm:db/password", resolvers=resolvers)
    assert not isinstance(caught.value, UnresolvableReferenceError)
    assert "EndpointConnectionError" in str(caught.value)
