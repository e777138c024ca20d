"""`workflow.step_functions` settings: defaults, env names, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.config import ConfigError, Origin, load_settings

ROLE = "arn:aws:iam::123456789012:role/landlord-sfn"


def error_of(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(**kwargs)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_defaults() -> None:
    sfn = load_settings(environ={}).settings.workflow.step_functions
    assert sfn.region == "us-east-1"
    assert sfn.role_arn == ""
    assert sfn.state_machine_type == "STANDARD"
    assert sfn.endpoint_url == ""
    assert sfn.assume_role_arn == ""


def test_every_key_has_its_env_name() -> None:
    loaded = load_settings(
        environ={
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_REGION": "eu-west-1",
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ROLE_ARN": ROLE,
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_STATE_MACHINE_TYPE": "EXPRESS",
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ENDPOINT_URL": "http://localhost:4566/",
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ASSUME_ROLE_ARN": ROLE,
        }
    )
    sfn = loaded.settings.workflow.step_functions
    assert (sfn.region, sfn.role_arn, sfn.state_machine_type) == ("eu-west-1", ROLE, "EXPRESS")
    assert sfn.endpoint_url == "http://localhost:4566"
    assert sfn.assume_role_arn == ROLE
    assert loaded.origin("workflow.step_functions.region") == Origin(
        "env", "LANDLORD_WORKFLOW_STEP_FUNCTIONS_REGION"
    )


def test_flags_and_files_set_it_too(tmp_path: Path) -> None:
    path = tmp_path / "landlord.yaml"
    path.write_text(
        f"workflow:\n  default_provider: step-functions\n  step_functions:\n    role_arn: {ROLE}\n"
    )
    loaded = load_settings(
        config_file=path, environ={}, flags={"workflow.step_functions.region": "ap-south-1"}
    )
    workflow = loaded.settings.workflow
    assert workflow.default_provider == "step-functions"
    assert workflow.step_functions.role_arn == ROLE
    assert workflow.step_functions.region == "ap-south-1"


def test_step_functions_as_default_needs_a_role() -> None:
    message = error_of(environ={"LANDLORD_WORKFLOW_DEFAULT_PROVIDER": "step-functions"})
    assert (
        "workflow.step_functions.role_arn: is required when default_provider is step-functions"
        in message
    )


def test_a_role_is_not_needed_when_another_provider_is_default() -> None:
    assert load_settings(environ={}).settings.workflow.default_provider == "restate"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ROLE_ARN",
            "arn:aws:iam::123:user/me",
            "workflow.step_functions.role_arn: must be an IAM role ARN",
        ),
        (
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ASSUME_ROLE_ARN",
            "landlord",
            "workflow.step_functions.assume_role_arn: must be an IAM role ARN",
        ),
        (
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_STATE_MACHINE_TYPE",
            "standard",
            "workflow.step_functions.state_machine_type: must be one of 'STANDARD' or 'EXPRESS'",
        ),
        (
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ENDPOINT_URL",
            "localhost:4566",
            "workflow.step_functions.endpoint_url: must be an http(s) URL",
        ),
        (
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_REGION",
            "Virginia",
            "workflow.step_functions.region: must be an AWS region such as us-east-1",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_source(variable: str, value: str, expected: str) -> None:
    message = error_of(environ={variable: value})
    assert expected in message
    assert f"(from env {variable})" in message


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "landlord.yaml"
    path.write_text("workflow:\n  step_functions:\n    timeout: 5m\n")
    assert "workflow.step_functions.timeout: is not a known setting" in error_of(
        config_file=path, environ={}
    )


def test_config_rows_show_the_section() -> None:
    rows = {key: value for key, value, _ in load_settings(environ={}).rows()}
    assert rows["workflow.step_functions.region"] == "us-east-1"
    assert rows["workflow.step_functions.state_machine_type"] == "STANDARD"
