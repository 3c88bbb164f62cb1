"""Benchmark 3: incremental nightly cost. The time of the nightly run of day N after N-1 days of
history, against the run of day 1 on an empty lake, both through `wdc materialize` on the same
lake settings (so both reuse the same prepared dbt manifest).

The history is built the fast way, with the same code: days 1..N-1 as one single-run backfill of
the mesh job (one run, one dbt invocation per domain over the window, published like a night) —
the same tables a month of nightly runs leaves behind, the state products' kept snapshots
included. The report adds what the history costs: the lake's size and the rows the state
products hold after day N.

    uv run python -m bench.incremental --scale-factor 1 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import time
from pathlib import Path
from typing import Any

from bench.common import (
    comma_list,
    log,
    materialize_day,
    report,
    setup_logging,
    target,
    temp_lake,
)
from bench.orchestration import prepare_manifest, run_breakdown, wipe_lake

DAY_LINE = re.compile(r"day \d+/\d+: (\S+) ok in ([\d.]+)s")
# the dbt runner's summary of a domain's build, with its slowest nodes (platform log)
DBT_BUILD_LINE = re.compile(
    r"dbt build .*--select fqn:(\w+): ok in ([\d.]+)s, .*?(?:; slowest: (.*))?$"
)


def dbt_builds(log_file: Path, since: int) -> dict[str, str]:
    """Each domain's dbt build in the platform log after byte `since`: time, slowest nodes."""
    if not log_file.exists():
        return {}
    with log_file.open(encoding="utf-8", errors="replace") as f:
        f.seek(since)
        lines = f.read().splitlines()
    builds: dict[str, str] = {}
    for line in lines:
        match = DBT_BUILD_LINE.search(line)
        if match:
            domain, seconds, slowest = match.groups()
            builds[domain] = f"{float(seconds):.1f} s" + (f" ({slowest})" if slowest else "")
    return builds


def build_history(
    first: dt.date, last: dt.date, scale_factor: float, seed: int, domains: list[str] | None
) -> None:
    """Days first..last through the platform as one single-run backfill of the mesh job (what a
    backfill launched in the UI does: one run, one dbt invocation per domain over the window,
    write-audit-publish included), so day N finds the products a month of nights leaves."""
    import dagster as dg

    from wdc_orchestration.mesh.workspace import MESH_JOB, dagster_home, mesh_definitions

    os.environ["DAGSTER_HOME"] = str(dagster_home())
    defs = mesh_definitions(domains, scale_factor=scale_factor, seed=seed)
    result = defs.resolve_job_def(MESH_JOB).execute_in_process(
        instance=dg.DagsterInstance.get(),
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        raise_on_error=False,
    )
    if not result.success:
        failed = [e.step_key for e in result.get_step_failure_events()]
        raise SystemExit(f"the history backfill {first}..{last} failed: steps {failed}")


def history_rows() -> dict[str, int]:
    """Rows of the state products and of the snapshots they keep, after the last day."""
    from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
    from wdc_orchestration.settings import get_settings

    tables = [
        "customers.dim_customers",
        "customers.int_customers__daily_snapshots",
        "catalog.dim_products",
        "catalog.int_catalog__daily_snapshots",
    ]
    with lakehouse_from_settings(get_settings()).get_connection() as conn:
        return {
            t: conn.execute(f"select count(*) from lakehouse.{t}").fetchone()[0] for t in tables
        }


def nightly(
    day: dt.date, scale_factor: float, seed: int, domains: list[str] | None, root: Path
) -> dict[str, Any]:
    from wdc_orchestration.settings import get_settings

    log_file = get_settings().log_dir / "wdc.log"
    since = log_file.stat().st_size if log_file.exists() else 0
    started = time.time()
    # INFO: the dbt runner's summaries (slowest nodes) go to the platform log
    run = materialize_day(
        day, scale_factor, seed, domains, f"wdc materialize {day}", log_level="INFO"
    )
    match = DAY_LINE.search(run.stderr)
    return {
        "process_seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
        "run_seconds": float(match.group(2)) if match else run.seconds,
        "stages": run_breakdown(root / "dagster_home", started, time.time()),
        "dbt_builds": dbt_builds(log_file, since),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=30, help="N: day N runs after N-1 days")
    parser.add_argument("--start", default="2026-10-01", help="day 1")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--domains", type=comma_list, help="comma-separated subset (default: the whole mesh)"
    )
    args = parser.parse_args(argv)
    setup_logging()
    if args.days < 2:
        parser.error("--days must be at least 2")
    first = dt.date.fromisoformat(args.start)
    last = first + dt.timedelta(days=args.days - 1)

    with temp_lake("incremental") as root:
        prepare_manifest()
        log.info("day 1 (%s) on an empty lake", first)
        wipe_lake(root)
        day_1 = nightly(first, args.scale_factor, args.seed, args.domains, root)
        wipe_lake(root)
        log.info("history: %s..%s (%d days)", first, last - dt.timedelta(days=1), args.days - 1)
        build_history(
            first, last - dt.timedelta(days=1), args.scale_factor, args.seed, args.domains
        )
        log.info("day %d (%s) after the history", args.days, last)
        day_n = nightly(last, args.scale_factor, args.seed, args.domains, root)
        held = history_rows() if not args.domains else {}
        lake_mb = sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file()) / 1e6
    ratio = day_n["run_seconds"] / day_1["run_seconds"]
    cpu_ratio = day_n["cpu_seconds"] / day_1["cpu_seconds"] if day_1["cpu_seconds"] else 0.0
    label_n = f"day {args.days} ({last}), after {args.days - 1} days"
    rows = [
        {"run": f"day 1 ({first}), empty lake", "stage": "whole process",
         "seconds": day_1["process_seconds"]},
        {"run": label_n, "stage": "whole process", "seconds": day_n["process_seconds"]},
        {"run": "day 1", "stage": "in the run", "seconds": day_1["run_seconds"]},
        {"run": f"day {args.days}", "stage": "in the run", "seconds": day_n["run_seconds"]},
        {"run": "day 1", "stage": "CPU of the process tree", "seconds": day_1["cpu_seconds"]},
        {"run": f"day {args.days}", "stage": "CPU of the process tree",
         "seconds": day_n["cpu_seconds"]},
        *({"run": f"day 1 -> day {args.days}", "stage": stage,
           "seconds": f"{day_1['stages'].get(stage, 0.0):.2f} -> {seconds:.2f}"}
          for stage, seconds in day_n["stages"].items()),
        *({"run": f"day 1 -> day {args.days}", "stage": f"dbt build {domain}",
           "seconds": f"{day_1['dbt_builds'].get(domain, '-')} -> {build}"}
          for domain, build in day_n["dbt_builds"].items()),
        *({"run": f"after day {args.days}", "stage": f"rows of {table}", "seconds": rows}
          for table, rows in held.items()),
    ]  # fmt: skip
    report(
        "incremental",
        rows,
        scale_factor=args.scale_factor,
        days=args.days,
        lake_mb_after=round(lake_mb, 1),
        ratio_day_n_to_day_1=round(ratio, 2),
        cpu_ratio_day_n_to_day_1=round(cpu_ratio, 2),
        targets={f"day {args.days} <= 1.3x day 1": target(ratio, 1.3, False)},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
