"""The whole mesh in one process: every domain listed in workspace.yaml, merged, for headless runs
(`wdc materialize`). The UI loads the same domains as separate code locations; both record their
runs in the same Dagster instance, so the UI shows what the CLI did."""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from wdc_orchestration.mesh.domain import domain_definitions, domain_selection
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.mesh.resources import build_resources
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.settings import (
    RUN_MONITORING_SECONDS,
    get_settings,
    run_monitoring_seconds,
)

log = logging.getLogger(__name__)

MESH_JOB = "mesh_daily"


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
    settings = get_settings()
    specs = load_domain_specs(domains)
    selected = list(domains) if domains else [spec.name for spec in specs]
    job = dg.define_asset_job(
        name=MESH_JOB,
        selection=domain_selection(*selected),
        partitions_def=daily_partitions,
        description="One day of the whole mesh (or of the chosen domains), in dependency order.",
    )
    return dg.Definitions.merge(
        *(domain_definitions(spec, settings.lake_url) for spec in specs),
        dg.Definitions(
            jobs=[job],
            # One process runs the domains in dependency order: a consumer whose producer is not
            # in the run and has not published the day fails at once instead of waiting for it.
            resources=build_resources(
                scale_factor=scale_factor, seed=seed, upstream_wait_seconds=0, settings=settings
            ),
        ),
    )


INSTANCE_HEADER = "# Written by wdc"
# How often the daemon's run monitoring looks at runs, and how long after a run ended it frees the
# pool slots the run still claims: 5 s each unless WDC_RUN_MONITORING_SECONDS says otherwise (the
# tests take 1: their killed runs' writers then wait less for the slot). settings.py reads it, and
# get_settings checks it, so a bad value stops `wdc` before anything is written.


def _instance_yaml(monitoring_seconds: int) -> str:
    return f"""\
{INSTANCE_HEADER}: the instance the CLI and `wdc dev` share, so the UI shows the CLI's runs.
# Rewritten when the settings change; remove this header line to keep a file of your own.
telemetry:
  enabled: false
concurrency:
  pools:
    # One writer per pool. The writers of the DuckLake catalog (the dbt steps) queue in the
    # `ducklake` pool on a SQLite catalog, which takes one writer at a time; on a PostgreSQL
    # catalog each domain queues in its own, `ducklake/<domain>` (unless WDC_DUCKLAKE_POOL=single),
    # and the domains write at once (catalog_lock.lakehouse_pool). Readers (checks, exports) don't.
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
  free_slots_after_run_end_seconds: {monitoring_seconds}
  poll_interval_seconds: {monitoring_seconds}
"""


INSTANCE_YAML = _instance_yaml(RUN_MONITORING_SECONDS)


# The Dagster instance on PostgreSQL (runs, event log, schedules): the variables Dagster's own docs
# and Helm chart use, read by Dagster through `env:` when the instance loads, so no value (the
# password least of all) is written into dagster.yaml. DAGSTER_PG_HOST switches it on.
PG_VARIABLES = {
    "hostname": "DAGSTER_PG_HOST",
    "db_name": "DAGSTER_PG_DB",
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
    "port": "DAGSTER_PG_PORT",
}
_PG_REQUIRED = ("hostname", "db_name", "username")


# Dagster's SQLite storage under DAGSTER_HOME, its engines kept per file (mesh/instance_storage.py).
# The folder is read from the environment when the instance loads: a lake's instance copied or
# moved with its lake stays where it is.
SQLITE_STORAGE_YAML = """storage:
  custom:
    module: wdc_orchestration.mesh.instance_storage
    class: EngineReusingSqliteStorage
    config:
      base_dir:
        env: DAGSTER_HOME
"""


def instance_yaml(env: Mapping[str, str]) -> str:
    """The instance's dagster.yaml for `env`: SQLite storage under DAGSTER_HOME (Dagster's
    files and schema, engines reused), or PostgreSQL when DAGSTER_PG_HOST is set."""
    base = _instance_yaml(run_monitoring_seconds(env))
    if not env.get(PG_VARIABLES["hostname"], "").strip():
        return base + SQLITE_STORAGE_YAML
    missing = [PG_VARIABLES[k] for k in _PG_REQUIRED if not env.get(PG_VARIABLES[k], "").strip()]
    if missing:
        raise ValueError(
            f"DAGSTER_PG_HOST is set, so the Dagster instance uses PostgreSQL: set {missing} too"
        )
    # Optional keys only when set: an `env:` reference to an unset variable fails the instance.
    fields = "".join(
        f"      {key}:\n        env: {name}\n"
        for key, name in PG_VARIABLES.items()
        if env.get(name, "").strip()
    )
    # dagster-postgres is written for psycopg2 (its dependency); SQLAlchemy 2.1 would otherwise
    # pick psycopg 3 for a plain `postgresql://` URL, which is not installed.
    fields += "      scheme: postgresql+psycopg2\n"
    return base + f"storage:\n  postgres:\n    postgres_db:\n{fields}"


def write_instance_yaml(home: Path) -> str:
    """Bring `home`/dagster.yaml to the current settings' instance_yaml: "wrote" (new or
    rewritten), "unchanged", or "kept" (a file without wdc's header line is the operator's)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_yaml(os.environ)
    if config.exists():
        current = config.read_text()
        if not current.startswith(INSTANCE_HEADER):
            return "kept"
        if current == wanted:
            return "unchanged"
    config.write_text(wanted)
    return "wrote"


def dagster_home() -> Path:
    """The instance folder (DAGSTER_HOME), with the platform's dagster.yaml for the current
    settings and its storage created. A dagster.yaml without wdc's header line is the operator's
    and stays as it is.

    Under a lock: `wdc` processes started together on a new instance (three days at once, a
    backfill beside the nightly) otherwise race to write the file and to create the storage's
    tables, and all but one fail ("UNIQUE constraint failed: alembic_version.version_num")."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".wdc-instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_instance_yaml(home)
        if "postgres" not in (home / "dagster.yaml").read_text():
            # SQLite storage lives in this folder: create it here, one process at a time. A
            # PostgreSQL storage is shared and serialises its own schema creation; connecting
            # to it here would only make the CLI depend on a server it may not need yet.
            with dg.DagsterInstance.from_config(str(home)):
                pass
    return home
