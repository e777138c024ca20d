"""deploy/observability: the dashboard's queries, the metrics they may name, and promtool.

An inventory maps each series name a scrape can show to its label names. The services' comes
from their prometheus_client registry, the control plane's from OpenTelemetry's Prometheus
exporter after one recorded operation (in a child process: the meter provider is process-wide),
Restate's from a real server's /metrics (tests/integration/test_restate_metrics.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from tests.apt import ensure_apt_packages
from tests.deploy.manifests import DEPLOY_DIR, REPO_ROOT

__all__ = [
    "DASHBOARD",
    "OBSERVABILITY_DIR",
    "SCRAPE_CONFIG",
    "TARGET_LABELS",
    "Inventory",
    "Query",
    "ensure_promtool",
    "inventory_from_exposition",
    "promtool",
    "provider_inventory",
    "queries",
    "query_problems",
    "rules_file",
    "scrape_jobs",
    "services_inventory",
]

OBSERVABILITY_DIR = DEPLOY_DIR / "observability"
DASHBOARD = OBSERVABILITY_DIR / "grafana-dashboard.json"
SCRAPE_CONFIG = OBSERVABILITY_DIR / "prometheus.yml"

TARGET_LABELS = frozenset({"job", "instance"})
"""Labels Prometheus adds to every scraped series."""

# What Grafana puts in for its macros before Prometheus sees a query.
_GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "6h"}

Inventory = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Query:
    """One panel target: where it is and its PromQL as Prometheus receives it."""

    panel: str
    ref: str
    expr: str


def queries(dashboard: Mapping[str, Any]) -> Iterator[Query]:
    """Every panel target's expression (rows' nested panels too), Grafana macros filled in."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[Query]:
        for panel in panels:
            yield from walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = str(target["expr"])
                for macro, value in _GRAFANA_MACROS.items():
                    expr = expr.replace(macro, value)
                yield Query(str(panel.get("title")), str(target.get("refId")), expr)

    yield from walk(dashboard.get("panels", []))


def _selectors(expr: promql_parser.Expr) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
        return True

    promql_parser.walk(expr, pre_visit=visit)
    return found


def _name(selector: promql_parser.VectorSelector) -> str | None:
    if selector.name:
        return selector.name
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and str(matcher.op) == str(promql_parser.MatchOp.Equal):
            return matcher.value
    return None


def query_problems(expr: str, inventory: Inventory) -> list[str]:
    """What is wrong with one PromQL expression against the series that exist: it does not parse,
    names a series no scrape shows, or uses a label (in a matcher or a `by`) its series lack."""
    try:
        parsed = promql_parser.parse(expr)
    except ValueError as error:
        return [f"does not parse: {error}"]
    problems: list[str] = []
    for selector in _selectors(parsed):
        name = _name(selector)
        if name is None:
            problems.append(f"selector without a metric name: {selector}")
            continue
        if name not in inventory:
            problems.append(f"no such series: {name}")
            continue
        labels = inventory[name] | TARGET_LABELS
        problems += [
            f"{name} has no label {m.name!r}"
            for m in selector.matchers.matchers
            if m.name != "__name__" and m.name not in labels
        ]

    def visit(node: promql_parser.Expr) -> bool:
        if not isinstance(node, promql_parser.AggregateExpr) or node.modifier is None:
            return True
        modifier = node.modifier
        if str(modifier.type) == str(promql_parser.AggModifierType.By):
            names = [_name(s) for s in _selectors(node.expr)]
            known = set(TARGET_LABELS).union(*(inventory.get(n or "", set()) for n in names))
            problems.extend(
                f"by ({label}): none of {sorted({n for n in names if n})} has that label"
                for label in modifier.labels
                if label not in known
            )
        return True

    promql_parser.walk(parsed, pre_visit=visit)
    return problems


_SERIES_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def inventory_from_exposition(text: str) -> dict[str, frozenset[str]]:
    """Series names and their label names in a Prometheus text exposition, each name as the
    line has it: that is what Prometheus stores (prometheus_client's parser would add `_total`
    to a counter's samples that lack it, so it only reads the labels here)."""
    labels: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found = _SERIES_NAME.match(line)
        assert found is not None, f"not a sample line: {line}"
        names = labels.setdefault(found[0], set())
        for family in text_string_to_metric_families(line + "\n"):
            for sample in family.samples:
                names.update(sample.labels)
    return {name: frozenset(names) for name, names in labels.items()}


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def services_inventory() -> dict[str, frozenset[str]]:
    """The services' series, from the live prometheus_client registry once `services.metrics` is
    imported: every metric it registered, with the suffixes a scrape shows."""
    import services.metrics as module

    wrappers = [m for m in vars(module).values() if isinstance(m, MetricWrapperBase)]
    label_names = {m._name: frozenset(m._labelnames) for m in wrappers}
    inventory: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        if family.name not in label_names:
            continue
        labels = label_names[family.name]
        for suffix in _SUFFIXES.get(family.type, ("",)):
            inventory[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return inventory


_PROVIDER_PROGRAM = """
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

registry = CollectorRegistry()
metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)]))
from provider.metrics import record_operation

record_operation(provider="mock", operation="start_execution", outcome="ok", seconds=0.01)
print(generate_latest(registry).decode())
"""


def provider_inventory() -> dict[str, frozenset[str]]:
    """The control plane's series as OpenTelemetry's Prometheus exporter shows them after
    `provider.metrics` recorded one operation."""
    done = subprocess.run(
        [sys.executable, "-c", _PROVIDER_PROGRAM],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return inventory_from_exposition(done.stdout)


def rules_file(exprs: Mapping[str, str], path: Path) -> Path:
    """Write `exprs` (record name -> PromQL) as a Prometheus recording-rules file."""
    rules = [{"record": name, "expr": expr} for name, expr in exprs.items()]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return path


def ensure_promtool(*, say: Callable[[str], None]) -> None:
    """promtool, from Debian's `prometheus` package when missing."""
    ensure_apt_packages(("promtool",), ("prometheus",), say=say)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `promtool ARGS` (its verdict in returncode, its reasons in the output)."""
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=60, check=False
    )


def scrape_jobs(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """job name -> its static targets (`host:port`)."""
    return {
        str(job["job_name"]): [str(t) for c in job.get("static_configs", []) for t in c["targets"]]
        for job in config.get("scrape_configs", [])
    }


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
