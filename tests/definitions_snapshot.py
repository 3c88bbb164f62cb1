"""The structure of a code location as a sorted, human-readable text: what
tests/test_definitions_snapshot.py compares with tests/snapshots/definitions.<location>.yaml, so a
change to the asset graph, its checks, jobs, schedules, sensors or pools is a diff in review
(dagster-open-platform keeps one of its asset specs for the same reason).

Only what is structure and stable goes in: no metadata (row counts, paths, the dbt manifest), no
descriptions (prose), nothing that names this machine, a date or a port."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from wdc_orchestration.settings import isolated_lake_env, load_dotenv_once

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE_VARIABLE = "WDC_UPDATE_SNAPSHOTS"

# Settings that change the structure (executor, pools, arrival sensors) or only where things
# live; the snapshot is of the defaults, whatever the shell running the test has set. Kept: the
# worker's dbt target folder (conftest.py) and the extension cache, which change no structure.
_KEPT = {"WDC_DBT_TARGET_DIR", "WDC_DUCKDB_EXTENSION_DIR"}


class Flow(list):
    """A short list YAML writes on one line (owners, kinds, pools): fewer lines to read."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    Flow, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
)


def snapshot_path(location: str) -> Path:
    return SNAPSHOT_DIR / f"definitions.{location}.yaml"


@contextmanager
def default_settings(root: Path) -> Iterator[None]:
    """The default settings (local lake, SQLite catalog) on a temporary lake under `root`, and
    afterwards the environment exactly as it was (loading changes none of it,
    test_definitions_snapshot.py holds it to that; the settings set here must not leak)."""
    # `.env` first (once per process, never overriding): read later, inside the block, it would
    # put its settings back.
    load_dotenv_once()
    saved = dict(os.environ)
    for name in list(os.environ):
        if (name.startswith("WDC_") or name.startswith("DAGSTER_")) and name not in _KEPT:
            del os.environ[name]
    os.environ.update(isolated_lake_env(root))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_location(module_name: str) -> dg.Definitions:
    """The code location's Definitions as Dagster gets them from workspace.yaml's module: its
    `defs`, a `@dg.definitions` function Dagster calls at load (nothing is materialised)."""
    loaded = importlib.import_module(module_name).defs
    return loaded if isinstance(loaded, dg.Definitions) else loaded()


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _check_key(key: dg.AssetCheckKey) -> str:
    return f"{_key(key.asset_key)}:{key.name}"


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    return None if partitions_def is None else str(partitions_def).rstrip(".")


def _hours(window: Any) -> str:
    hours = window.to_timedelta().total_seconds() / 3600
    return f"{hours:g}h"


def _asset(node: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if not node.is_materializable:
        # another location's asset this one reads: its key only (that location describes it)
        entry["external"] = True
        return entry
    entry["group"] = node.group_name
    if node.owners:
        entry["owners"] = Flow(sorted(node.owners))
    if node.kinds:
        entry["kinds"] = Flow(sorted(node.kinds))
    if "wdc/data_product" in node.tags:
        entry["data_product"] = True
    if node.parent_keys:
        entry["deps"] = sorted(_key(k) for k in node.parent_keys)
    if node.partitions_def is not None:
        entry["partitions"] = _partitions(node.partitions_def)
    if node.pools:
        entry["pools"] = Flow(sorted(node.pools))
    policy = node.freshness_policy
    if policy is not None:
        warn, fail = getattr(policy, "warn_window", None), getattr(policy, "fail_window", None)
        entry["freshness"] = (
            f"warn {_hours(warn)}, fail {_hours(fail)}" if warn and fail else type(policy).__name__
        )
    if node.automation_condition is not None:
        entry["automation"] = (
            node.automation_condition.get_label() or type(node.automation_condition).__name__
        )
    return entry


def _job_selection(graph: Any, selection: dg.AssetSelection) -> dict[str, Any]:
    """What an asset job runs: its assets, and its checks said as "every check of its assets"
    (most of them) plus the checks it runs on assets it does not materialise (the readiness
    checks on the products it reads)."""
    assets = selection.resolve(graph)
    checks = selection.resolve_checks(graph)
    own = {key for key in graph.asset_check_keys if key.asset_key in assets}
    entry: dict[str, Any] = {"assets": sorted(_key(k) for k in assets)}
    entry["checks_of_its_assets"] = (
        "all" if own <= checks else sorted(_check_key(k) for k in own & checks)
    )
    entry["checks_of_other_assets"] = Flow(sorted(_check_key(k) for k in checks - own))
    return entry


def _pools(repo: dg.RepositoryDefinition) -> dict[str, list[str]]:
    """pool -> the steps (ops) that queue in it, over every job of the location."""
    pools: dict[str, set[str]] = {}
    for job in repo.get_all_jobs():
        for node_def in job.all_node_defs:
            pool = getattr(node_def, "pool", None)
            if pool:
                pools.setdefault(pool, set()).add(node_def.name)
    return {pool: sorted(steps) for pool, steps in sorted(pools.items())}


def describe(location: str, defs: dg.Definitions) -> dict[str, Any]:
    """The structure of one code location, every collection sorted by name."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {
        _key(key): _asset(graph.get(key)) for key in sorted(graph.get_all_asset_keys(), key=_key)
    }
    checks = {
        _check_key(key): "blocking" if graph.get_check_spec(key).blocking else "not blocking"
        for key in sorted(graph.asset_check_keys, key=_check_key)
    }
    selections = {job.name: job.selection for job in defs.jobs or () if hasattr(job, "selection")}
    jobs: dict[str, Any] = {}
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):  # Dagster's implicit asset job: every asset, said above
            continue
        entry: dict[str, Any] = {"executor": job.executor_def.name}
        if job.partitions_def is not None:
            entry["partitions"] = _partitions(job.partitions_def)
        if job.name in selections:
            entry.update(_job_selection(graph, selections[job.name]))
        else:
            entry["ops"] = sorted(node.name for node in job.nodes)
        jobs[job.name] = entry
    schedules = {
        schedule.name: {
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "job": schedule.job_name,
            "default_status": schedule.default_status.value,
        }
        for schedule in sorted(repo.schedule_defs, key=lambda s: s.name)
    }
    sensors = {
        sensor.name: {
            "type": sensor.sensor_type.value,
            "jobs": Flow(sorted(job.name for job in sensor.jobs) if sensor.has_jobs else []),
            "default_status": sensor.default_status.value,
        }
        for sensor in sorted(repo.sensor_defs, key=lambda s: s.name)
    }
    return {
        "location": location,
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "pools": _pools(repo),
    }


HEADER = """\
# The structure of the `{location}` code location (workspace.yaml), as Dagster loads it with the
# default settings (local lake, SQLite catalog): assets, checks, jobs, schedules, sensors, pools.
# Written by tests/definitions_snapshot.py; compared by tests/test_definitions_snapshot.py.
# A structural change is a diff here: regenerate with
#   WDC_UPDATE_SNAPSHOTS=1 uv run pytest tests/test_definitions_snapshot.py -n 0
# and review the diff with the change.
"""


def render(location: str, defs: dg.Definitions) -> str:
    body = yaml.dump(
        describe(location, defs),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=100,
        allow_unicode=True,
    )
    return HEADER.format(location=location) + body
