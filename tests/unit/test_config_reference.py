"""docs/configuration.md is the output of `landlord-restate config reference`: every setting of
both models, with its environment variable, type, default and description."""

from __future__ import annotations

from typer.testing import CliRunner

from provider.cli import app
from provider.config import Settings
from provider.config.fields import env_name, leaf_keys
from services.settings import ServicesSettings
from tests.servers import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "configuration.md"


def generated() -> str:
    result = CliRunner().invoke(app, ["config", "reference"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == generated(), (
        "docs/configuration.md is stale: run `landlord-restate config reference > "
        "docs/configuration.md`"
    )


def test_every_setting_is_described_with_its_variable() -> None:
    page = generated()
    for path in leaf_keys(Settings):
        row = next(line for line in page.splitlines() if line.startswith(f"| `{'.'.join(path)}` "))
        assert f"`{env_name(path)}`" in row
        assert not row.rstrip().endswith("|  |"), f"{path} has no description"
    for name in ServicesSettings.model_fields:
        assert f"`LANDLORD_SERVICES_{name.upper()}`" in page
    assert "`restate`" in page  # defaults shown
