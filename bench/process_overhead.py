"""Benchmark 10: what every process of the mesh pays besides its work, in CPU seconds.

Two costs each run of a day pays, measured side by side in one process (docs/benchmarks.md §10):

- the Dagster instance's SQLite event log: storing a day's worth of asset events (planned
  materialisations are what a run writes first, ~900 events a day-run) with Dagster's own
  storage, which makes an SQLAlchemy engine per statement, and with the platform's, which keeps
  one per file (mesh/instance_storage.py);
- the dbt manifest a process needs before its first invocation: rebuilt from dbt's partial-parse
  state, or the manifest kept by the process that parsed (dbt/manifest.py: keep_manifest).

    uv run python -m bench.process_overhead [--events 900] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

import dagster as dg
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from bench.common import log, report, setup_logging, target, temp_lake
from wdc_orchestration.mesh.instance_storage import EngineReusingSqliteEventLogStorage


def _planned(run_id: str, index: int) -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
        job_name="bench_daily",
        event_specific_data=AssetMaterializationPlannedData(
            dg.AssetKey(["bench", f"asset_{index % 60}"]), partition="2026-11-01"
        ),
    )
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message="",
        run_id=run_id,
        timestamp=time.time(),
        step_key=None,
        job_name="bench_daily",
        dagster_event=event,
    )


def store_events(storage_class: type[SqliteEventLogStorage], events: int) -> float:
    """CPU seconds to store `events` asset events (each into the run's shard and the index)."""
    with tempfile.TemporaryDirectory(prefix="wdc-bench-events-") as base:
        storage = storage_class(base)
        started = time.process_time()
        for index in range(events):
            storage.store_event(_planned("bench-run", index))
        return time.process_time() - started


def best(measure: Callable[[], float], repeat: int) -> float:
    return min(measure() for _ in range(repeat))


def manifest_loads(repeat: int) -> dict[str, float]:
    """CPU seconds to have the shared project's manifest in a process: from the partial-parse
    state, and from the kept manifest (each time as a process's first load: the in-process
    cache emptied)."""
    from wdc_orchestration.dbt import manifest as manifests
    from wdc_orchestration.dbt.runner import DbtRunner
    from wdc_orchestration.settings import DBT_PROJECT_DIR, get_settings

    runner = DbtRunner(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        target=manifests.DBT_TARGET,
        env=get_settings().dbt_env(),
    )
    fingerprint = manifests.parse_fingerprint(DBT_PROJECT_DIR, runner.invocation_env())
    runner._manifest()  # prepares the state (a parse on a new lake), imports dbt, keeps it

    def from_partial_parse() -> float:
        manifests.PARSED_MANIFESTS.clear()
        manifests._kept_manifest_path(fingerprint).unlink(missing_ok=True)
        started = time.process_time()
        runner._manifest()
        return time.process_time() - started

    def from_kept() -> float:
        manifests.PARSED_MANIFESTS.clear()
        started = time.process_time()
        loaded = runner._manifest()
        seconds = time.process_time() - started
        assert loaded.nodes, "the kept manifest has no nodes"
        return seconds

    partial = best(from_partial_parse, repeat)  # each one keeps the manifest again
    kept = best(from_kept, repeat)
    return {"partial_parse_state": partial, "kept_manifest": kept}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=900, help="events per measure (a day-run)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many")
    args = parser.parse_args(argv)
    setup_logging()

    rows: list[dict[str, Any]] = []
    dagster_s = best(lambda: store_events(SqliteEventLogStorage, args.events), args.repeat)
    reuse_s = best(
        lambda: store_events(EngineReusingSqliteEventLogStorage, args.events), args.repeat
    )
    rows.append(
        {
            "cost": f"store {args.events} events",
            "what": "Dagster's SQLite storage",
            "cpu_s": round(dagster_s, 2),
        }
    )
    rows.append(
        {
            "cost": f"store {args.events} events",
            "what": "engines kept per file",
            "cpu_s": round(reuse_s, 2),
        }
    )
    log.info("event log: %.2f s -> %.2f s of CPU", dagster_s, reuse_s)

    with temp_lake("overhead"):
        loads = manifest_loads(args.repeat)
    rows.append(
        {
            "cost": "a process's dbt manifest",
            "what": "from the partial-parse state",
            "cpu_s": round(loads["partial_parse_state"], 2),
        }
    )
    rows.append(
        {
            "cost": "a process's dbt manifest",
            "what": "the kept manifest",
            "cpu_s": round(loads["kept_manifest"], 3),
        }
    )
    report(
        "process_overhead",
        rows,
        event_log_saving_s=round(dagster_s - reuse_s, 2),
        manifest_saving_s=round(loads["partial_parse_state"] - loads["kept_manifest"], 2),
        targets={
            "storing events <= 55 % of the CPU of Dagster's own": target(
                reuse_s, dagster_s * 0.55, False
            ),
            "a kept manifest loads in <= 0.1 s of CPU": target(loads["kept_manifest"], 0.1, False),
        },
    )


if __name__ == "__main__":
    main()
