"""Settings: each precedence step, the exact env names, and one-line errors naming the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from provider.config import (
    EXECUTION_MECHANISMS,
    ConfigError,
    Origin,
    Settings,
    env_name,
    load_settings,
    split_config_flags,
)

SECRET = "key_s3cr3tv4lu3abcdef"
SFN_ROLE = {"LANDLORD_WORKFLOW_STEP_FUNCTIONS_ROLE_ARN": "arn:aws:iam::123456789012:role/sfn"}


def write(tmp_path: Path, text: str, name: str = "landlord.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(**kwargs)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def test_defaults() -> None:
    loaded = load_settings(environ={})
    restate = loaded.settings.workflow.restate
    assert loaded.settings.workflow.default_provider == "restate"
    assert restate.endpoint == "http://localhost:8080"
    assert restate.admin_endpoint == "http://localhost:9070"
    assert restate.execution_mechanism == "local"
    assert restate.auth_type == "none"
    assert restate.timeout == timedelta(minutes=30)
    assert restate.retry_attempts == 3
    assert restate.register_on_startup is True
    assert loaded.origin("workflow.restate.endpoint") == Origin("default")


def test_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "workflow:\n  restate:\n    endpoint: http://file:8080\n")
    loaded = load_settings(config_file=path, environ={})
    assert loaded.settings.workflow.restate.endpoint == "http://file:8080"
    assert loaded.origin("workflow.restate.endpoint") == Origin("file", str(path))


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "workflow:\n  restate:\n    endpoint: http://file:8080\n")
    loaded = load_settings(
        config_file=path, environ={"LANDLORD_WORKFLOW_RESTATE_ENDPOINT": "http://env:8080"}
    )
    assert loaded.settings.workflow.restate.endpoint == "http://env:8080"
    assert loaded.origin("workflow.restate.endpoint") == Origin(
        "env", "LANDLORD_WORKFLOW_RESTATE_ENDPOINT"
    )


def test_flag_overrides_env_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "workflow:\n  restate:\n    endpoint: http://file:8080\n")
    loaded = load_settings(
        config_file=path,
        environ={"LANDLORD_WORKFLOW_RESTATE_ENDPOINT": "http://env:8080"},
        flags={"workflow.restate.endpoint": "http://flag:8080"},
    )
    assert loaded.settings.workflow.restate.endpoint == "http://flag:8080"
    assert str(loaded.origin("workflow.restate.endpoint")) == "flag --workflow.restate.endpoint"


def test_sources_merge_key_by_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "workflow:\n  default_provider: mock\n  restate:\n    timeout: 5m\n    retry_attempts: 7\n",
    )
    loaded = load_settings(
        config_file=path,
        environ={"LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS": "9"},
        flags={"workflow.restate.register_on_startup": "false"},
    )
    workflow = loaded.settings.workflow
    assert workflow.default_provider == "mock"
    assert workflow.restate.timeout == timedelta(minutes=5)
    assert workflow.restate.retry_attempts == 9
    assert workflow.restate.register_on_startup is False
    assert workflow.restate.endpoint == "http://localhost:8080"


@pytest.mark.parametrize(
    ("variable", "value", "attribute"),
    [
        ("LANDLORD_WORKFLOW_DEFAULT_PROVIDER", "step-functions", "default_provider"),
        ("LANDLORD_WORKFLOW_RESTATE_ENDPOINT", "https://restate.example.com", "restate.endpoint"),
        (
            "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM",
            "kubernetes",
            "restate.execution_mechanism",
        ),
        ("LANDLORD_WORKFLOW_RESTATE_SERVICE_NAME", "Tenants", "restate.service_name"),
    ],
)
def test_documented_env_names_work_exactly(variable: str, value: str, attribute: str) -> None:
    workflow = load_settings(environ={variable: value, **SFN_ROLE}).settings.workflow
    target: object = workflow
    for part in attribute.split("."):
        target = getattr(target, part)
    assert target == value


def test_every_setting_has_an_env_name() -> None:
    assert env_name(("workflow", "restate", "api_key")) == "LANDLORD_WORKFLOW_RESTATE_API_KEY"
    loaded = load_settings(environ={"LANDLORD_LOG_LEVEL": "debug"})
    assert loaded.settings.log.level == "debug"


def test_landlord_config_names_the_file_and_config_flag_wins(tmp_path: Path) -> None:
    from_env = write(tmp_path, "workflow:\n  default_provider: mock\n", "env.yaml")
    from_flag = write(
        tmp_path,
        "workflow:\n  default_provider: step-functions\n"
        "  step_functions:\n    role_arn: arn:aws:iam::123456789012:role/sfn\n",
        "flag.yaml",
    )
    environ = {"LANDLORD_CONFIG": str(from_env)}
    assert load_settings(environ=environ).settings.workflow.default_provider == "mock"
    chosen = load_settings(environ=environ, config_file=from_flag)
    assert chosen.settings.workflow.default_provider == "step-functions"


def test_plain_settings_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS", "4")
    assert Settings().workflow.restate.retry_attempts == 4


def test_bad_url_names_key_and_source() -> None:
    message = error_of(environ={"LANDLORD_WORKFLOW_RESTATE_ENDPOINT": "ftp://nowhere"})
    assert message == (
        "invalid configuration: workflow.restate.endpoint: must be an http(s) URL such as "
        "http://localhost:8080 (from env LANDLORD_WORKFLOW_RESTATE_ENDPOINT)"
    )


def test_unknown_mechanism_lists_the_valid_ones() -> None:
    message = error_of(flags={"workflow.restate.execution_mechanism": "moon"}, environ={})
    assert message.startswith("invalid configuration: workflow.restate.execution_mechanism: ")
    for mechanism in EXECUTION_MECHANISMS:
        assert f"'{mechanism}'" in message
    assert "(from flag --workflow.restate.execution_mechanism)" in message


def test_missing_endpoint(tmp_path: Path) -> None:
    path = write(tmp_path, "workflow:\n  restate:\n    endpoint: ''\n")
    message = error_of(config_file=path, environ={})
    assert "workflow.restate.endpoint: is required" in message
    assert f"(from file {path})" in message


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "cloud"},
            "workflow.restate.auth_type: Restate Cloud needs auth_type api_key",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "iam"},
            "workflow.restate.auth_type: iam fits execution_mechanism lambda or fargate, not local",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key"},
            "workflow.restate.auth_type: a local Restate server does not authenticate",
        ),
        (
            {
                "LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key",
                "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "self-hosted",
            },
            "workflow.restate.api_key: is required when auth_type is api_key",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_API_KEY": SECRET},
            "workflow.restate.api_key: is set but auth_type is none",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "lambda"},
            "workflow.restate.lambda_arn: is required when execution_mechanism is lambda",
        ),
        (
            {
                "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "lambda",
                "LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "iam",
                "LANDLORD_WORKFLOW_RESTATE_LAMBDA_ARN": "arn:aws:lambda:eu-west-1:123456789012:"
                "function:tenants:3",
            },
            "workflow.restate.assume_role_arn: is required when auth_type is iam with lambda",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_LAMBDA_ARN": "arn:aws:lambda:x"},
            "workflow.restate.lambda_arn: only applies when execution_mechanism is lambda",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS": "-1"},
            "workflow.restate.retry_attempts: must be >= 0",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_TIMEOUT": "0s"},
            "workflow.restate.timeout: must be > 0",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_SERVICE_NAME": "tenant-provisioning"},
            "workflow.restate.service_name: must start with a letter",
        ),
        (
            {"LANDLORD_WORKFLOW_DEFAULT_PROVIDER": "temporal"},
            "workflow.default_provider: must be one of 'mock', 'restate' or 'step-functions'",
        ),
    ],
)
def test_rules_across_keys(environ: dict[str, str], expected: str) -> None:
    assert expected in error_of(environ=environ)


@pytest.mark.parametrize(
    "environ",
    [
        {
            "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "cloud",
            "LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key",
            "LANDLORD_WORKFLOW_RESTATE_API_KEY": SECRET,
            "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": "https://abc.env.us.restate.cloud:8080",
        },
        {
            "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "lambda",
            "LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "iam",
            "LANDLORD_WORKFLOW_RESTATE_LAMBDA_ARN": "arn:aws:lambda:eu-west-1:123456789012:"
            "function:tenants:3",
            "LANDLORD_WORKFLOW_RESTATE_ASSUME_ROLE_ARN": "arn:aws:iam::123456789012:role/restate",
        },
        {"LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "self-hosted"},
        {"LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "fargate"},
    ],
)
def test_consistent_configurations_load(environ: dict[str, str]) -> None:
    load_settings(environ=environ)


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "workflow:\n  restate:\n    endpont: http://typo:8080\n")
    assert f"workflow.restate.endpont: is not a known setting (from file {path})" in error_of(
        config_file=path, environ={}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workflow: [\n", "invalid YAML at line 2"),
        ("- just\n- a list\n", "the top level must be a mapping of settings"),
    ],
)
def test_malformed_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = error_of(config_file=path, environ={})
    assert str(path) in message
    assert expected in message


def test_missing_file_is_an_error_whichever_way_it_was_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert f"config file '{missing}' does not exist" in error_of(config_file=missing, environ={})
    assert "does not exist" in error_of(environ={"LANDLORD_CONFIG": str(missing)})


@pytest.mark.parametrize(
    "restate",
    [
        f"    api_key: {SECRET}\n",
        f"    api_key: [{SECRET}]\n",
        "    auth_type: api_key\n    execution_mechanism: kubernetes\n"
        f"    api_key: {{k: {SECRET}}}\n",
    ],
)
def test_errors_never_echo_the_secret(tmp_path: Path, restate: str) -> None:
    path = write(tmp_path, f"workflow:\n  restate:\n{restate}")
    message = error_of(config_file=path, environ={})
    assert SECRET not in message
    assert "workflow.restate.api_key: " in message


def test_secret_is_masked_in_every_view() -> None:
    loaded = load_settings(
        environ={
            "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "self-hosted",
            "LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key",
            "LANDLORD_WORKFLOW_RESTATE_API_KEY": SECRET,
        }
    )
    restate = loaded.settings.workflow.restate
    assert restate.api_key.get_secret_value() == SECRET
    assert SECRET not in repr(loaded.settings)
    assert SECRET not in str(loaded.rows())
    assert dict((k, v) for k, v, _ in loaded.rows())["workflow.restate.api_key"] == "**********"


# -- the API key from a file (api_key_file) ---------------------------------------------------

FILE_KEY = "key_fr0mth3m0unt3df1l3QZ"
"""A marker only the key file holds: it must never show up in a message or a view."""
CLOUD = {
    "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "cloud",
    "LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key",
    "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": "https://abc.env.us.restate.cloud:8080",
}
FILE_ENV = "LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE"


def key_file(tmp_path: Path, text: str = f"\n  {FILE_KEY} \n", name: str = "api-key") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def test_key_file_is_read_stripped_and_sent(tmp_path: Path) -> None:
    """The file's content, surrounding whitespace stripped, is the key the provider sends."""
    import httpx

    from provider.restate.provider import RestateProvider

    path = key_file(tmp_path)
    config = write(tmp_path, f"workflow:\n  restate:\n    api_key_file: {path}\n")
    loaded = load_settings(config_file=config, environ=CLOUD)
    restate = loaded.settings.workflow.restate
    assert restate.api_key_file == path
    assert restate.api_key.get_secret_value() == ""
    assert restate.effective_api_key.get_secret_value() == FILE_KEY
    assert loaded.origin("workflow.restate.api_key_file") == Origin("file", str(config))
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("authorization"))
        return httpx.Response(200)

    provider = RestateProvider(restate, admin_transport=httpx.MockTransport(answer))
    await provider.admin.health()
    await provider.aclose()
    assert sent == [f"Bearer {FILE_KEY}"]


@pytest.mark.parametrize("source", ["env", "flag"])
def test_env_and_flag_each_set_the_key_file(tmp_path: Path, source: str) -> None:
    path = key_file(tmp_path)
    if source == "env":
        loaded = load_settings(environ={**CLOUD, FILE_ENV: str(path)})
        expected = Origin("env", FILE_ENV)
    else:
        loaded = load_settings(environ=CLOUD, flags={"workflow.restate.api_key_file": str(path)})
        expected = Origin("flag", "--workflow.restate.api_key_file")
    assert loaded.settings.workflow.restate.effective_api_key.get_secret_value() == FILE_KEY
    assert loaded.origin("workflow.restate.api_key_file") == expected


def test_key_file_follows_the_usual_precedence(tmp_path: Path) -> None:
    """Each source may name the file; the highest wins, and an empty value means no file."""
    in_yaml = key_file(tmp_path, "key_fromyaml\n", "yaml-key")
    in_env = key_file(tmp_path, "key_fromenv\n", "env-key")
    config = write(tmp_path, f"workflow:\n  restate:\n    api_key_file: {in_yaml}\n")
    restate = load_settings(
        config_file=config, environ={**CLOUD, FILE_ENV: str(in_env)}
    ).settings.workflow.restate
    assert restate.effective_api_key.get_secret_value() == "key_fromenv"
    cleared = load_settings(
        config_file=config,
        environ={**CLOUD, FILE_ENV: "", "LANDLORD_WORKFLOW_RESTATE_API_KEY": SECRET},
    ).settings.workflow.restate
    assert cleared.api_key_file is None
    assert cleared.effective_api_key.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("yaml_key", "environ", "flags", "origin"),
    [
        ("api_key", {}, {"api_key_file": "<file>"}, "(from file "),
        ("api_key_file", {"LANDLORD_WORKFLOW_RESTATE_API_KEY": SECRET}, {}, "(from env "),
        (None, {"LANDLORD_WORKFLOW_RESTATE_API_KEY": SECRET, FILE_ENV: "<file>"}, {}, "(from env"),
    ],
)
def test_api_key_and_key_file_together_are_refused(
    tmp_path: Path,
    yaml_key: str | None,
    environ: dict[str, str],
    flags: dict[str, str],
    origin: str,
) -> None:
    """Whichever sources set them, both keys at once is one error naming both, and neither
    key's value."""
    path = str(key_file(tmp_path))
    value = {"api_key": SECRET, "api_key_file": path}
    restate = f"    {yaml_key}: {value[yaml_key]}\n" if yaml_key else "    retry_attempts: 3\n"
    config = write(tmp_path, f"workflow:\n  restate:\n{restate}")
    message = error_of(
        config_file=config,
        environ={**CLOUD, **{k: v.replace("<file>", path) for k, v in environ.items()}},
        flags={f"workflow.restate.{k}": v.replace("<file>", path) for k, v in flags.items()},
    )
    assert (
        "workflow.restate.api_key: cannot be set together with api_key_file: drop api_key "
        "to use the file " + origin
    ) in message
    assert SECRET not in message
    assert FILE_KEY not in message


@pytest.mark.parametrize(
    ("text", "name", "rule"),
    [
        ("", "empty", "is empty"),
        (" \n\t\n", "blank", "is empty"),
        (None, "missing", "cannot read"),
        (None, "", "cannot read"),  # the directory itself
        (f"{FILE_KEY}\nkey_second", "two-lines", "must hold the API key alone, on one line"),
        (f"{FILE_KEY} trailing-words", "spaced", "must hold the API key alone, on one line"),
        (b"\xff\xfe" + FILE_KEY.encode(), "binary", "cannot read"),
    ],
)
def test_unusable_key_file_is_one_line_naming_key_and_path(
    tmp_path: Path, text: str | bytes | None, name: str, rule: str
) -> None:
    """An empty, unreadable or malformed file names the key and the path, never the content;
    it is not reported a second time as a missing key."""
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text)
    elif isinstance(text, bytes):
        path.write_bytes(text)
    message = error_of(environ={**CLOUD, FILE_ENV: str(path)})
    assert message.startswith("invalid configuration: workflow.restate.api_key_file: ")
    assert rule in message
    assert repr(str(path)) in message
    assert message.endswith(f"(from env {FILE_ENV})")
    assert FILE_KEY not in message
    assert "is required" not in message


def test_unreadable_key_file_names_the_reason(tmp_path: Path) -> None:
    import os

    path = key_file(tmp_path)
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who reads any file")
    message = error_of(environ={**CLOUD, FILE_ENV: str(path)})
    assert f"workflow.restate.api_key_file: cannot read {str(path)!r}: Permission denied" in message
    assert FILE_KEY not in message


@pytest.mark.parametrize(
    ("environ", "expected", "absent"),
    [
        (
            {},
            "workflow.restate.api_key_file: is set but auth_type is none: set auth_type api_key",
            "workflow.restate.api_key:",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key"},
            "workflow.restate.auth_type: a local Restate server does not authenticate",
            "is required",
        ),
        (
            {"LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "cloud"},
            "workflow.restate.auth_type: Restate Cloud needs auth_type api_key",
            "workflow.restate.api_key:",
        ),
    ],
)
def test_key_from_the_file_meets_the_api_key_rules(
    tmp_path: Path, environ: dict[str, str], expected: str, absent: str
) -> None:
    """The rules across keys see a key from the file exactly as one given as api_key."""
    message = error_of(environ={**environ, FILE_ENV: str(key_file(tmp_path))})
    assert expected in message
    assert absent not in message


def test_key_file_satisfies_the_key_the_cloud_requires(tmp_path: Path) -> None:
    assert "workflow.restate.api_key: is required" in error_of(environ=CLOUD)
    load_settings(environ={**CLOUD, FILE_ENV: str(key_file(tmp_path))})


def test_key_file_views_show_its_path_never_its_content(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    loaded = load_settings(environ={**CLOUD, FILE_ENV: str(path)})
    rows = {key: value for key, value, _ in loaded.rows()}
    assert rows["workflow.restate.api_key_file"] == str(path)
    assert FILE_KEY not in str(loaded.rows())
    assert FILE_KEY not in repr(loaded.settings)
    assert FILE_KEY not in str(loaded.settings.workflow.restate.effective_api_key)


@pytest.mark.parametrize(
    ("argv", "flags", "rest"),
    [
        (["config", "show"], {}, ["config", "show"]),
        (
            ["--workflow.restate.endpoint=http://x:1", "config", "show"],
            {"workflow.restate.endpoint": "http://x:1"},
            ["config", "show"],
        ),
        (
            ["config", "--workflow.restate.endpoint", "http://x:1", "show", "-o", "json"],
            {"workflow.restate.endpoint": "http://x:1"},
            ["config", "show", "-o", "json"],
        ),
        (
            ["--workflow.restate.retry-attempts=2", "validate", "--", "--a.b=c"],
            {"workflow.restate.retry_attempts": "2"},
            ["validate", "--", "--a.b=c"],
        ),
        (["--config", "x.yaml", "run"], {}, ["--config", "x.yaml", "run"]),
    ],
)
def test_split_config_flags(argv: list[str], flags: dict[str, str], rest: list[str]) -> None:
    assert split_config_flags(argv) == (flags, rest)


def test_flag_without_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"flag --workflow\.restate\.endpoint needs a value"):
        split_config_flags(["config", "show", "--workflow.restate.endpoint"])
