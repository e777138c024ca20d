"""The settings model: every key, its default, and the rules checked at load."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic import model_validator as _model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.contract import Duration, PositiveDuration

__all__ = [
    "AUTH_TYPES",
    "EXECUTION_MECHANISMS",
    "PROVIDER_TYPES",
    "STATE_MACHINE_TYPES",
    "ControllerSettings",
    "LogSettings",
    "RestateSettings",
    "Settings",
    "StepFunctionsSettings",
    "WorkflowSettings",
]

ExecutionMechanism = Literal["local", "self-hosted", "kubernetes", "fargate", "lambda", "cloud"]
AuthType = Literal["none", "api_key", "iam"]
ProviderType = Literal["mock", "restate", "step-functions"]
StateMachineType = Literal["STANDARD", "EXPRESS"]
EXECUTION_MECHANISMS: tuple[str, ...] = get_args(ExecutionMechanism)
AUTH_TYPES: tuple[str, ...] = get_args(AuthType)
PROVIDER_TYPES: tuple[str, ...] = get_args(ProviderType)
STATE_MACHINE_TYPES: tuple[str, ...] = get_args(StateMachineType)

_LAMBDA_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_SERVICE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
_IAM_MECHANISMS = ("lambda", "fargate")


def _http_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as http://localhost:8080")
    return value.rstrip("/")


def _read_api_key(path: Path) -> str:
    """The key a file holds, surrounding whitespace stripped; a `ValueError` names the path and
    never the content."""
    where = repr(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read {where}: {error.strerror or type(error).__name__}") from None
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {where}: not UTF-8 text") from None
    key = text.strip()
    if not key:
        raise ValueError(f"{where} is empty (it must hold the Restate Cloud API key)")
    if any(char.isspace() or not char.isprintable() for char in key):
        raise ValueError(f"{where} must hold the API key alone, on one line")
    return key


def _rule_errors(model: str, problems: list[tuple[str, str, Any]]) -> ValidationError:
    """A pydantic error whose entries sit on the (dotted) keys the cross-field rules are about."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(
                type=PydanticCustomError("config_rule", message),
                loc=tuple(key.split(".")),
                input=value,
            )
            for key, message, value in problems
        ],
    )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


class RestateSettings(_Section):
    """`workflow.restate`: where the Restate server is and what to register with it."""

    endpoint: str = "http://localhost:8080"
    """Restate ingress URL: executions are started here."""
    admin_endpoint: str = "http://localhost:9070"
    """Restate admin API URL: registration, status (SQL), cancellation."""
    execution_mechanism: ExecutionMechanism = "local"
    """Where the services run; decides what is registered and which auth fits."""
    deployment_uri: str = "http://localhost:9080"
    """URL Restate calls the services at (every mechanism but lambda)."""
    lambda_arn: str = ""
    """Function version ARN to register (lambda only; a version, not $LATEST)."""
    assume_role_arn: str = ""
    """IAM role Restate assumes to invoke the function (with auth_type iam)."""
    service_name: str = ""
    """Restate service of the built-in workflow (default TenantProvisioning)."""
    auth_type: AuthType = "none"
    """How we authenticate to Restate: none, api_key (Restate Cloud), iam (lambda/fargate)."""
    api_key: SecretStr = SecretStr("")
    """Restate Cloud API key (auth_type api_key), or see api_key_file; never logged or shown."""
    api_key_file: Path | None = None
    """File whose content, surrounding whitespace stripped, is the Cloud API key (a read-only
    mounted Secret); read once at load. Use it or api_key: setting both is refused."""
    timeout: PositiveDuration = timedelta(minutes=30)
    """Deadline of one execution unless its workflow spec sets another."""
    deadline_grace: Duration = timedelta(seconds=10)
    """How long after its deadline Restate cancels an execution whose handler was handed the
    timeout (`pass_policy`, and so should end itself first); other executions get none."""
    retry_attempts: int = Field(default=3, ge=0, le=20)
    """Retries of a request to Restate on connection errors, 5xx and 429."""
    status_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    """Executions whose status the provider remembers: a finished one is never read again, a
    running one only when its journal grew (0 remembers none)."""
    definition_cache: Duration = timedelta(seconds=5)
    """How long a start reuses the stored workflow spec it read (another process's change to
    it shows within this; 0s reads it at every start)."""
    register_on_startup: bool = True
    """Register the built-in workflow when a manager starts."""
    register_deployment: bool = True
    """false: something else registers the services (the Restate operator, connect mode); only
    the workflow definition is stored, next to the deployment already serving it."""

    _file_key: SecretStr = PrivateAttr(default_factory=lambda: SecretStr(""))
    """What `api_key_file` held when the settings were validated."""

    @property
    def effective_api_key(self) -> SecretStr:
        """The Cloud API key in use: what `api_key_file` holds when it is set, else `api_key`."""
        return self._file_key if self.api_key_file is not None else self.api_key

    @field_validator("api_key_file", mode="before")
    @classmethod
    def _no_file(cls, value: object) -> object:
        """An empty value (`..._API_KEY_FILE=`) means no file, not the current directory."""
        return None if value == "" else value

    @field_validator("endpoint", "admin_endpoint", "deployment_uri")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("service_name")
    @classmethod
    def _service_name(cls, value: str) -> str:
        if value and not _SERVICE_NAME.fullmatch(value):
            raise ValueError("must start with a letter and hold only letters, digits and _")
        return value

    @_model_validator(mode="after")
    def _consistent(self) -> Self:
        """Rules across keys: what each mechanism needs and which auth fits it. Reads
        `api_key_file` first, so a key from the file is held to the rules `api_key` is."""
        problems: list[tuple[str, str, Any]] = []
        mechanism, auth = self.execution_mechanism, self.auth_type
        if self.api_key_file is not None:
            try:
                self._file_key = SecretStr(_read_api_key(self.api_key_file))
            except ValueError as error:
                problems.append(("api_key_file", str(error), str(self.api_key_file)))
        inline, from_file = bool(self.api_key.get_secret_value()), self.api_key_file is not None
        if inline and from_file:
            problems.append(
                (
                    "api_key",
                    "cannot be set together with api_key_file: drop api_key to use the file",
                    "",
                )
            )
        # A file that cannot be read is reported above, not again as a missing key.
        has_key = inline or from_file
        key_name = "api_key_file" if from_file and not inline else "api_key"
        if not self.endpoint:
            problems.append(("endpoint", "is required (the Restate ingress URL)", ""))
        if mechanism == "lambda":
            if not self.lambda_arn:
                problems.append(
                    ("lambda_arn", "is required when execution_mechanism is lambda", "")
                )
            elif not _LAMBDA_ARN.fullmatch(self.lambda_arn):
                problems.append(
                    (
                        "lambda_arn",
                        "must be a Lambda function ARN such as "
                        "arn:aws:lambda:eu-west-1:123456789012:function:tenants:3",
                        self.lambda_arn,
                    )
                )
        else:
            if self.lambda_arn:
                problems.append(
                    ("lambda_arn", "only applies when execution_mechanism is lambda", "")
                )
            if not self.deployment_uri:
                problems.append(
                    ("deployment_uri", f"is required when execution_mechanism is {mechanism}", "")
                )
        if auth == "iam":
            if mechanism not in _IAM_MECHANISMS:
                problems.append(
                    (
                        "auth_type",
                        f"iam fits execution_mechanism lambda or fargate, not {mechanism}",
                        auth,
                    )
                )
            elif mechanism == "lambda" and not self.assume_role_arn:
                problems.append(
                    ("assume_role_arn", "is required when auth_type is iam with lambda", "")
                )
        elif self.assume_role_arn:
            problems.append(("assume_role_arn", "only applies when auth_type is iam", ""))
        if self.assume_role_arn and not _ROLE_ARN.fullmatch(self.assume_role_arn):
            problems.append(
                (
                    "assume_role_arn",
                    "must be an IAM role ARN such as arn:aws:iam::123456789012:role/restate",
                    self.assume_role_arn,
                )
            )
        if mechanism == "cloud" and auth != "api_key":
            problems.append(
                ("auth_type", "Restate Cloud needs auth_type api_key (a Cloud API key)", auth)
            )
        if auth == "api_key":
            if mechanism == "local":
                problems.append(
                    ("auth_type", "a local Restate server does not authenticate: use none", auth)
                )
            if not has_key:
                problems.append(("api_key", "is required when auth_type is api_key", ""))
        elif has_key:
            problems.append(
                (key_name, f"is set but auth_type is {auth}: set auth_type api_key or drop it", "")
            )
        if problems:
            raise _rule_errors("RestateSettings", problems)
        return self


class StepFunctionsSettings(_Section):
    """`workflow.step_functions`: the AWS region, the role state machines run as, their type."""

    region: str = "us-east-1"
    """AWS region of the state machines."""
    role_arn: str = ""
    """IAM role the state machines run as (required when step-functions is the default)."""
    state_machine_type: StateMachineType = "STANDARD"
    """STANDARD (the full contract) or EXPRESS (create and start only)."""
    endpoint_url: str = ""
    """Another Step Functions endpoint (a local emulator); empty for AWS."""
    assume_role_arn: str = ""
    """Role to assume before calling Step Functions (another account)."""

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _AWS_REGION.fullmatch(value):
            raise ValueError("must be an AWS region such as us-east-1")
        return value

    @field_validator("role_arn", "assume_role_arn")
    @classmethod
    def _role(cls, value: str) -> str:
        if value and not _ROLE_ARN.fullmatch(value):
            raise ValueError("must be an IAM role ARN such as arn:aws:iam::123456789012:role/sfn")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return _http_url(value)


class WorkflowSettings(_Section):
    """`workflow`: which provider runs workflows, and each provider's settings."""

    default_provider: ProviderType = "restate"
    """Provider for workflow specs that name none."""
    restate: RestateSettings = Field(default_factory=RestateSettings)
    step_functions: StepFunctionsSettings = Field(default_factory=StepFunctionsSettings)

    @_model_validator(mode="after")
    def _default_is_usable(self) -> Self:
        """The default provider must have what it needs to run anything."""
        if self.default_provider == "step-functions" and not self.step_functions.role_arn:
            raise _rule_errors(
                "WorkflowSettings",
                [
                    (
                        "step_functions.role_arn",
                        "is required when default_provider is step-functions "
                        "(the IAM role the state machines run as)",
                        "",
                    )
                ],
            )
        return self


class LogSettings(_Section):
    """`log`: level and format (`auto` is JSON unless writing to a terminal)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written."""
    format: Literal["auto", "json", "console"] = "auto"
    """auto: JSON unless writing to a terminal."""


def _host_port(value: str) -> str:
    host, colon, port = value.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be HOST:PORT such as 0.0.0.0:9091 (port 1-65535)")
    return value


class ControllerSettings(_Section):
    """`controller`: the long-running control-plane process (`landlord-restate controller`)."""

    bind: str = "127.0.0.1:9091"
    """HOST:PORT its /health, /live and /metrics listen on (0.0.0.0:9091 in a container)."""
    interval: PositiveDuration = timedelta(seconds=30)
    """How often it re-checks health (and re-registers a workflow Restate no longer has);
    also how long one registration keeps retrying while Restate or the services are down."""

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        return _host_port(value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s (each check makes several calls to Restate)")
        return value


class Settings(BaseSettings):
    """All settings. Sources, lowest to highest: defaults < YAML file < environment < flags.

    `Settings()` reads the process environment and `LANDLORD_CONFIG`; `load_settings` is the
    entry point that also takes a `--config` file and dotted-key flags.
    """

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    controller: ControllerSettings = Field(default_factory=ControllerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from .sources import current_sources

        return (init_settings, *current_sources(settings_cls))
