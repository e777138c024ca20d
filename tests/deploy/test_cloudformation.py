"""cfn-lint (errors, warnings and informational checks, several regions) on the Lambda SAM
template and every Fargate template, plus the wiring cfn-lint cannot judge: what Restate is
given to register and who may invoke."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from sealing import KEYRING_ENV, Keyring
from tests.deploy.manifests import secret_findings

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_TEMPLATE = REPO_ROOT / "deploy" / "lambda" / "template.yaml"
FARGATE_TEMPLATES = sorted((REPO_ROOT / "deploy" / "fargate").glob("*.y*ml"))
# Partitions and regions differ in resource schemas; lint against a spread of them.
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags as {"Tag": value} so the wiring can be inspected."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tagged)


def load(template: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(template.read_text(), Loader=_CfnLoader)
    return document


def lint(template: Path) -> list[str]:
    """Every cfn-lint finding (informational included) as `ID line: message`."""
    config = ManualArgs(regions=REGIONS, include_checks=["I"])
    return [
        f"{match.rule.id} {template.name}:{match.linenumber}: {match.message}"
        for match in lint_file(template, config=config)
    ]


def test_there_are_templates_to_lint() -> None:
    """The glob finds the Fargate templates (an empty parametrization would pass silently)."""
    assert LAMBDA_TEMPLATE.is_file()
    assert FARGATE_TEMPLATES


@pytest.mark.parametrize(
    "template",
    [LAMBDA_TEMPLATE, *FARGATE_TEMPLATES],
    ids=lambda path: path.relative_to(REPO_ROOT).as_posix(),
)
def test_cfn_lint_finds_nothing(template: Path) -> None:
    """cfn-lint reports no error, warning or informational finding."""
    findings = lint(template)
    assert not findings, "\n".join(findings)


def test_cfn_lint_reports_a_broken_template(tmp_path: Path) -> None:
    """The lint above can fail: a bad property in a copy of the Lambda template is reported."""
    broken = tmp_path / "template.yaml"
    text = LAMBDA_TEMPLATE.read_text()
    assert "      MemorySize: !Ref MemorySize\n" in text
    broken.write_text(text.replace("      MemorySize: !Ref MemorySize\n", "      MemSize: 1\n"))
    assert any("MemSize" in finding for finding in lint(broken))


def test_lambda_template_publishes_a_version_and_outputs_what_restate_registers() -> None:
    """Handler and version publishing as Restate needs them; outputs feed lambda_arn and
    assume_role_arn; the invoker role may only invoke this function."""
    template = load(LAMBDA_TEMPLATE)
    resources = template["Resources"]
    function = resources["ServicesFunction"]["Properties"]
    assert function["Handler"] == "services.app.app"
    assert function["AutoPublishAlias"]
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    assert function["Environment"]["Variables"]["LANDLORD_SERVICES_IDENTITY_KEYS"] == {
        "Ref": "IdentityKeys"
    }
    assert "Default" not in template["Parameters"]["IdentityKeys"]

    outputs = template["Outputs"]
    assert outputs["FunctionVersionArn"]["Value"] == {"Ref": "ServicesFunction.Version"}
    assert outputs["InvokerRoleArn"]["Value"] == {"GetAtt": "RestateInvokerRole.Arn"}

    invoker = resources["RestateInvokerRole"]["Properties"]
    (policy,) = invoker["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == [
        {"GetAtt": "ServicesFunction.Arn"},
        {"Sub": "${ServicesFunction.Arn}:*"},
    ]
    trust = invoker["AssumeRolePolicyDocument"]["Statement"]
    for entry in trust:
        assert entry["Condition"]["ArnEquals"] == {
            "aws:PrincipalArn": {"Ref": "RestatePrincipalArn"}
        }


KEYRING_LITERAL = "secrets keyring key"
"""The name of the scan (tests/deploy/manifests.py) for a `kid=<43 base64url characters>`."""


def test_lambda_function_gets_the_keyring_from_a_no_echo_parameter() -> None:
    """LANDLORD_SECRETS_KEYRING is the `SecretsKeyring` parameter: NoEcho, no default, a
    pattern that takes a real keyring and refuses a broken one; no keyring in the text."""
    template = load(LAMBDA_TEMPLATE)
    parameter = template["Parameters"]["SecretsKeyring"]
    assert parameter["NoEcho"] is True
    assert "Default" not in parameter
    keyring = f"{Keyring.new_entry('k2')},{Keyring.new_entry('k1')}="
    assert re.fullmatch(parameter["AllowedPattern"], keyring)
    assert Keyring.parse(keyring).current == "k2"
    for broken in ("", "k1", "k1=short", f"{Keyring.new_entry('k1')}, {Keyring.new_entry('k0')}"):
        assert not re.fullmatch(parameter["AllowedPattern"], broken), broken
    function = template["Resources"]["ServicesFunction"]["Properties"]
    assert function["Environment"]["Variables"][KEYRING_ENV] == {"Ref": "SecretsKeyring"}
    assert KEYRING_LITERAL not in secret_findings(LAMBDA_TEMPLATE.read_text())
    assert KEYRING_LITERAL in secret_findings(f"{KEYRING_ENV}: {Keyring.new_entry('k1')}")


def test_fargate_services_get_the_keyring_from_secrets_manager() -> None:
    """The services container's LANDLORD_SECRETS_KEYRING is a task-definition secret from the
    `SecretsKeyringSecretArn` parameter, which the execution role may read; it is never a
    plain environment value, and no keyring is in the text."""
    path = REPO_ROOT / "deploy" / "fargate" / "services.yaml"
    template = load(path)
    resources = template["Resources"]
    (services,) = resources["ServicesTaskDefinition"]["Properties"]["ContainerDefinitions"]
    secrets = {secret["Name"]: secret["ValueFrom"] for secret in services["Secrets"]}
    assert secrets[KEYRING_ENV] == {"Ref": "SecretsKeyringSecretArn"}
    assert KEYRING_ENV not in {item["Name"] for item in services["Environment"]}
    assert "Default" not in template["Parameters"]["SecretsKeyringSecretArn"]
    statements = [
        statement
        for policy in resources["ExecutionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Resource"] == {"Ref": "SecretsKeyringSecretArn"}
    ]
    assert [statement["Action"] for statement in statements] == ["secretsmanager:GetSecretValue"]
    assert KEYRING_LITERAL not in secret_findings(path.read_text())


def test_fargate_services_reach_restate_only_through_port_9080_from_restate() -> None:
    """Non-root, read-only root fs, private subnets, Cloud Map; 9080 only from Restate's group;
    the services image serves with `python -m services`; the registration task runs the control
    image's CLI and registers the Cloud Map name as a fargate deployment."""
    template = load(REPO_ROOT / "deploy" / "fargate" / "services.yaml")
    resources = template["Resources"]

    (ingress,) = resources["ServicesSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert (ingress["FromPort"], ingress["ToPort"]) == (9080, 9080)
    assert ingress["SourceSecurityGroupId"] == {"Ref": "RestateSecurityGroupId"}
    assert "CidrIp" not in ingress

    (services,) = resources["ServicesTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert services["Image"] == {"Ref": "Image"}
    assert services["EntryPoint"] + services["Command"] == [
        "python", "-m", "services", "--bind", "0.0.0.0:9080",
    ]  # fmt: skip
    assert services["User"].split(":")[0] == "10001"
    assert services["ReadonlyRootFilesystem"] is True
    assert services["PortMappings"] == [{"ContainerPort": 9080, "Protocol": "tcp"}]
    assert "127.0.0.1:9080/live" in " ".join(services["HealthCheck"]["Command"])
    assert [secret["Name"] for secret in services["Secrets"]] == [
        "LANDLORD_SERVICES_IDENTITY_KEYS",
        KEYRING_ENV,
    ]
    network = resources["Service"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert resources["Service"]["Properties"]["ServiceRegistries"]

    (register,) = resources["RegistrationTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert register["Image"] == {"Ref": "ControlImage"}
    assert "EntryPoint" not in register  # the control image's own: landlord-restate
    assert register["Command"] == ["register", "--wait", "120s"]
    parameters = template["Parameters"]
    assert "landlord-restate-services" in parameters["Image"]["Description"]
    assert "landlord-restate-control" in parameters["ControlImage"]["Description"]
    assert parameters["ControlImage"]["AllowedPattern"] == parameters["Image"]["AllowedPattern"]
    env = {item["Name"]: item["Value"] for item in register["Environment"]}
    assert env["LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM"] == "fargate"
    assert (
        env["LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI"]
        == template["Outputs"]["DeploymentUri"]["Value"]
    )
