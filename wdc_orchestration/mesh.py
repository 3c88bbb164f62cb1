"""The whole mesh in one process: every domain listed in workspace.yaml, merged, for headless runs
(`wdc materialize`). The UI loads the same domains as separate code locations; both record their
runs in the same Dagster instance, so the UI shows what the CLI did."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from wdc_orchestration.domain import domain_definitions, domain_selection
from wdc_orchestration.domain_spec import DomainSpec
from wdc_orchestration.partitions import daily_partitions
from wdc_orchestration.resources.registry import build_resources
from wdc_orchestration.settings import PROJECT_ROOT, get_settings
from wdc_orchestration.yamlio import load_yaml

log = logging.getLogger(__name__)

MESH_JOB = "mesh_daily"
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"


def domain_modules(workspace: Path = WORKSPACE_FILE) -> dict[str, str]:
    """location name -> module, in workspace order (the order domains are listed in)."""
    entries = load_yaml(workspace.read_text())["load_from"]
    return {
        entry["python_module"]["location_name"]: entry["python_module"]["module_name"]
        for entry in entries
    }


def load_domain_specs(names: Sequence[str] | None = None) -> list[DomainSpec]:
    modules = domain_modules()
    unknown = sorted(set(names or ()) - set(modules))
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}; workspace.yaml lists {sorted(modules)}")
    return [importlib.import_module(module).SPEC for module in modules.values()]


def mesh_definitions(
    domains: Sequence[str] | None = None,
    scale_factor: float | None = None,
    seed: int | None = None,
) -> dg.Definitions:
    """Every domain's assets; the `mesh_daily` job selects `domains` (all when None)."""
    specs = load_domain_specs(domains)
    selected = list(domains) if domains else [spec.name for spec in specs]
    job = dg.define_asset_job(
        name=MESH_JOB,
        selection=domain_selection(*selected),
        partitions_def=daily_partitions,
        description="One day of the whole mesh (or of the chosen domains), in dependency order.",
    )
    return dg.Definitions.merge(
        *(domain_definitions(spec) for spec in specs),
        dg.Definitions(
            jobs=[job],
            # One process runs the domains in dependency order: a consumer whose producer is not
            # in the run and has not published the day fails at once instead of waiting for it.
            resources=build_resources(
                scale_factor=scale_factor, seed=seed, upstream_wait_seconds=0
            ),
        ),
    )


INSTANCE_MARKER = "# Written by wdc"
INSTANCE_YAML = f"""\
{INSTANCE_MARKER}: the instance the CLI and `wdc dev` share, so the UI shows the CLI's runs.
# (Edit freely: once the first line is gone, wdc leaves the file alone.)
telemetry:
  enabled: false
concurrency:
  pools:
    # The `ducklake` pool queues the writers of the DuckLake catalog (the dbt steps): a SQLite
    # catalog takes one writer at a time. Readers (checks, exports) do not queue.
    default_limit: 1
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # the five nightly runs start together; launch queued runs within a second, not five
    dequeue_interval_seconds: 1
run_monitoring:
  enabled: true
  # A run whose process was killed is marked failed, but the pool slot its step held stays
  # claimed, and every later writer would queue behind it forever: free it.
  free_slots_after_run_end_seconds: 5
  poll_interval_seconds: 5
"""


def dagster_home() -> Path:
    """The instance folder (DAGSTER_HOME) with the platform's dagster.yaml (written when missing,
    and kept up to date while it still carries wdc's first line)."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(INSTANCE_MARKER) and current != INSTANCE_YAML):
        config.write_text(INSTANCE_YAML)
    return home
