"""deploy/observability: the dashboard loads in Grafana's dashboard model, every query parses
(promtool) and names series the services and the control plane really export, and the scrape
config passes promtool and scrapes the ports the recipes serve on. Restate's series are checked
against a real server in tests/integration/test_restate_metrics.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from provider.metrics import PROMETHEUS_NAMES
from services.metrics import METRIC_NAMES
from tests.deploy.manifests import (
    DEPLOY_DIR,
    container_ports,
    find,
    load_kustomization,
    pod_template,
)
from tests.deploy.observability import (
    DASHBOARD,
    SCRAPE_CONFIG,
    Inventory,
    ensure_promtool,
    load_json,
    promtool,
    provider_inventory,
    queries,
    query_problems,
    rules_file,
    scrape_jobs,
    services_inventory,
)
from tests.grafana_schema import DashboardSchema, install_dashboard_schema

SELF_HOSTED = DEPLOY_DIR / "self-hosted"


def say(message: str) -> None:
    print(f"[observability] {message}")


@pytest.fixture(scope="module")
def schema() -> DashboardSchema:
    return install_dashboard_schema(say=say)


@pytest.fixture(scope="module")
def promtool_installed() -> None:
    ensure_promtool(say=say)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return {**services_inventory(), **provider_inventory()}


def dashboard() -> dict[str, Any]:
    return load_json(DASHBOARD)


def _is_restate(expr: str) -> bool:
    return "restate_" in expr


# -- the dashboard in Grafana's model ----------------------------------------------------------


def test_dashboard_matches_grafana_dashboard_model(schema: DashboardSchema) -> None:
    assert schema.problems(DASHBOARD.read_text(encoding="utf-8")) == []


def _break_field(d: dict[str, Any]) -> None:
    d["panels"][1]["gridpos"] = d["panels"][1].pop("gridPos")


def _break_target(d: dict[str, Any]) -> None:
    d["panels"][1]["targets"][0]["exp"] = d["panels"][1]["targets"][0].pop("expr")


def _break_type(d: dict[str, Any]) -> None:
    d["schemaVersion"] = "41"


def _break_option(d: dict[str, Any]) -> None:
    d["panels"][1]["options"]["legend"]["displayMode"] = "grid"


@pytest.mark.parametrize("breaker", [_break_field, _break_target, _break_type, _break_option])
def test_model_check_rejects_a_broken_dashboard(schema: DashboardSchema, breaker: Any) -> None:
    """A misspelt field, a target without `expr`, a wrong type, an unknown option value."""
    broken = copy.deepcopy(dashboard())
    breaker(broken)
    assert schema.problems(json.dumps(broken, indent=2))


def test_every_panel_uses_the_templated_datasource() -> None:
    """Imports anywhere: the data source is the `${datasource}` variable of type prometheus."""
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    wanted = {"type": "prometheus", "uid": "${datasource}"}
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"] == wanted, panel["title"]
        assert all(t["datasource"] == wanted for t in panel["targets"]), panel["title"]


# -- the queries -------------------------------------------------------------------------------


@pytest.mark.usefixtures("promtool_installed")
def test_every_query_parses_in_promtool(tmp_path: Path) -> None:
    exprs = {f"dashboard:q{i}": q.expr for i, q in enumerate(queries(dashboard()))}
    done = promtool("check", "rules", str(rules_file(exprs, tmp_path / "rules.yml")))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.usefixtures("promtool_installed")
def test_promtool_rejects_a_query_that_does_not_parse(tmp_path: Path) -> None:
    bad = {
        "dashboard:bad": "sum by (operation (rate(landlord_tenant_operations_started_total[1m]))"
    }
    assert promtool("check", "rules", str(rules_file(bad, tmp_path / "rules.yml"))).returncode


def test_queries_name_series_the_services_and_control_plane_export(inventory: Inventory) -> None:
    checked = [q for q in queries(dashboard()) if not _is_restate(q.expr)]
    assert len(checked) >= 10
    problems = {f"{q.panel} {q.ref}": query_problems(q.expr, inventory) for q in checked}
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_metric_has_a_panel(inventory: Inventory) -> None:
    """Each metric of services.metrics and provider.metrics is on the dashboard (and exists)."""
    text = " ".join(q.expr for q in queries(dashboard()))
    for name in sorted(METRIC_NAMES | PROMETHEUS_NAMES):
        assert any(series.startswith(name) for series in inventory), f"{name} is not exported"
        assert name in text, f"no panel shows {name}"


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(landlord_tenant_operation_started_total[1m])", "no such series"),
        ("sum by (operaton) (rate(landlord_tenant_operations_started_total[1m]))", "by (operaton)"),
        ('landlord_tenant_compensations_total{outcom="failed"}', "no label 'outcom'"),
        (
            "histogram_quantile(0.95, sum by (le) (rate(landlord_tenant_step_seconds_bucket[1m])))",
            "no such series",
        ),
        ("sum by (provider) (landlord_workflow_operations_total)", "by (provider)"),
        ("sum(rate(landlord_tenant_operations_started_total[1m])", "does not parse"),
    ],
)
def test_query_check_catches_a_misspelling(inventory: Inventory, expr: str, problem: str) -> None:
    problems = query_problems(expr, inventory)
    assert any(problem in p for p in problems), problems


# -- the scrape config -------------------------------------------------------------------------


@pytest.mark.usefixtures("promtool_installed")
def test_scrape_config_passes_promtool() -> None:
    done = promtool("check", "config", str(SCRAPE_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.usefixtures("promtool_installed")
def test_promtool_rejects_a_broken_scrape_config(tmp_path: Path) -> None:
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    config["scrape_configs"][0]["scrape_interval"] = "15 seconds"
    broken = tmp_path / "prometheus.yml"
    broken.write_text(yaml.safe_dump(config))
    assert promtool("check", "config", str(broken)).returncode


def _env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_scrape_targets_are_where_the_recipes_serve() -> None:
    """Services at the self-hosted recipe's deployment URI (the port the Kubernetes pod serves),
    Restate at every cluster node's advertised node address, and a controller job."""
    jobs = scrape_jobs(yaml.safe_load(SCRAPE_CONFIG.read_text()))
    uri = urlsplit(
        _env_file(SELF_HOSTED / "landlord.env")["LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI"]
    )
    assert jobs["landlord-services"] == [uri.netloc]
    nodes = sorted((SELF_HOSTED / "cluster").glob("node-*.env"))
    advertised = [urlsplit(_env_file(n)["RESTATE_ADVERTISED_ADDRESS"]).netloc for n in nodes]
    assert len(advertised) == 3
    assert jobs["restate"] == advertised
    plain = load_kustomization(DEPLOY_DIR / "kubernetes" / "plain")
    (controller,) = jobs["landlord-controller"]
    port = container_ports(find(plain, "Deployment", "landlord-controller"))["http"]
    assert int(controller.rpartition(":")[2]) == port
    services = find(plain, "Deployment", "landlord-services")
    assert uri.port in container_ports(services).values()
    restate = find(plain, "StatefulSet", "restate")
    assert all(int(a.rpartition(":")[2]) == container_ports(restate)["node"] for a in advertised)


KUBERNETES_RECIPES = {
    "plain": DEPLOY_DIR / "kubernetes" / "plain",
    "operator": DEPLOY_DIR / "kubernetes" / "operator",
    "cloud": DEPLOY_DIR / "cloud",
}
SCRAPED_PODS = [
    ("plain", "Deployment", "landlord-services", "h2c"),
    ("plain", "StatefulSet", "restate", "node"),
    ("plain", "Deployment", "landlord-controller", "http"),
    ("operator", "RestateDeployment", "landlord-services", "h2c"),
    ("operator", "Deployment", "landlord-controller", "http"),
    ("cloud", "Deployment", "landlord-services", "h2c"),
    ("cloud", "Deployment", "landlord-controller", "http"),
]


@pytest.mark.parametrize(("recipe", "kind", "name", "port"), SCRAPED_PODS)
def test_kubernetes_scrape_annotations_name_the_metrics_port(
    recipe: str, kind: str, name: str, port: str
) -> None:
    """The prometheus.io annotations of every Kubernetes recipe's pods point at the port they
    serve /metrics on (the operator's Restate pods are the operator's to annotate)."""
    workload = find(load_kustomization(KUBERNETES_RECIPES[recipe]), kind, name)
    annotations = pod_template(workload)["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == container_ports(workload)[port]
