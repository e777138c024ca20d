"""Grafana's dashboard JSON model, as Grafana publishes it in TypeScript: a dashboard is checked by
compiling it, as an object literal, against those types with the TypeScript compiler.

`@grafana/schema` (Grafana's own package, generated from its dashboard schema) types the
dashboard, its panels and the `timeseries` and `stat` panels' options and field config;
`@grafana/grafana-foundation-sdk` (Grafana's) types a Prometheus query. An object literal gets
TypeScript's excess property check, so a misspelt or misplaced field fails, not only a wrong type.
All pinned, installed once into the per-user cache (tests/npm.py).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .npm import ensure_npm_packages

__all__ = ["PACKAGES", "DashboardSchema", "install_dashboard_schema"]

PACKAGES = (
    "@grafana/schema@13.2.3",
    "@grafana/grafana-foundation-sdk@0.0.21",
    "typescript@5.9.3",
)

_PANEL_TYPES = "@grafana/schema/dist/esm/raw/composable"
_TIMESERIES = "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen"
_PROLOGUE = f"""\
import type {{ Dashboard, FieldConfigSource, Panel, RowPanel }} from "@grafana/schema";
import type * as stat from "{_PANEL_TYPES}/stat/panelcfg/x/StatPanelCfg_types.gen";
import type * as timeseries from "{_PANEL_TYPES}/{_TIMESERIES}";
import type {{ Dataquery }} from "@grafana/grafana-foundation-sdk/prometheus";

// JSON holds an enum's value, not the enum: a string enum becomes the union of its values.
type Json<T> = T extends string
  ? `${{T}}`
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? {{ [K in keyof T]: Json<T[K]> }}
      : T;
type Target = Omit<Dataquery, "_implementsDataqueryVariant">;
type Typed<Kind extends string, Options, Custom> = Omit<
  Panel<Options, Custom>,
  "type" | "options" | "targets" | "fieldConfig"
> & {{ type: Kind; options: Options; targets: Target[]; fieldConfig: FieldConfigSource<Custom> }};
type LandlordPanel =
  | Typed<"timeseries", timeseries.Options, timeseries.FieldConfig>
  | Typed<"stat", stat.Options, Record<string, never>>
  | (RowPanel & {{ type: "row" }});
type LandlordDashboard = Omit<Dashboard, "panels"> & {{ panels: LandlordPanel[] }};

export const dashboard: Json<LandlordDashboard> =
"""
_DIAGNOSTIC = re.compile(r"^check\.ts\((\d+),(\d+)\): error (TS\d+: .*)$")


class DashboardSchema:
    """The pinned packages installed under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def problems(self, dashboard_json: str) -> list[str]:
        """tsc's errors for this dashboard JSON text, each as `line N: message` (N in the JSON);
        [] when it is a valid dashboard."""
        offset = _PROLOGUE.count("\n")
        with tempfile.TemporaryDirectory(prefix="grafana-schema-") as work:
            folder = Path(work)
            (folder / "node_modules").symlink_to(self.root / "node_modules")
            (folder / "check.ts").write_text(_PROLOGUE + dashboard_json + ";\n", encoding="utf-8")
            done = subprocess.run(
                [
                    "node",
                    str(self.root / "node_modules" / "typescript" / "bin" / "tsc"),
                    "--noEmit",
                    "--strict",
                    "--pretty",
                    "false",
                    "--target",
                    "es2022",
                    "--module",
                    "esnext",
                    "--moduleResolution",
                    "bundler",
                    "check.ts",
                ],
                capture_output=True,
                text=True,
                cwd=folder,
                timeout=300,
                check=False,
            )
        if done.returncode == 0:
            return []
        problems: list[str] = []
        for line in done.stdout.splitlines():
            found = _DIAGNOSTIC.match(line)
            if found is None:
                if line.strip() and problems:
                    problems[-1] += " " + line.strip()
                continue
            row, message = int(found[1]) - offset, found[3]
            problems.append(f"line {row}: {message}" if row > 0 else f"prologue: {message}")
        return problems or [f"tsc failed: {(done.stdout + done.stderr).strip()[-500:]}"]


def install_dashboard_schema(*, say: Callable[[str], None]) -> DashboardSchema:
    """The pinned schema packages and compiler: from the cache, else from the npm registry."""
    name = "grafana-schema-" + "-".join(spec.rpartition("@")[2] for spec in PACKAGES)
    return DashboardSchema(ensure_npm_packages(name, PACKAGES, say=say))
