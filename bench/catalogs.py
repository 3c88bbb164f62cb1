"""Benchmark: the nightly's five daily jobs at once through the daemon, on a SQLite DuckLake
catalog (every domain's dbt step queues in one pool of one slot) against a PostgreSQL catalog
(each domain queues in its own pool: the domains' dbt steps run and commit at once), in one run
on the same machine, scale factor, seed and days.

Per catalog: a fresh temporary lake, the day before materialised once (`wdc materialize`, so each
timed night is an increment), then `dagster dev` on it and, per timed day, the five
`<domain>_daily` jobs launched at once as the 02:00 schedules do, timed from the first launch to
the end of the last run. The Dagster instance is SQLite in both (only the catalog differs). The
PostgreSQL catalog is a private cluster on 127.0.0.1 (tests/infra.py: Debian's `postgresql`
binaries, run as the `postgres` user), stopped at the end.

Per night the report gives the wall time, the dbt steps' summed time and how many of them ran at
once at most (1 on SQLite, by construction).

    uv run python -m bench.catalogs --scale-factor 0.01
    uv run python -m bench.catalogs --scale-factor 1 --days 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bench.common import log, materialize_day, report, setup_logging, temp_lake
from bench.nightly import DOMAINS
from wdc_orchestration.governance.pseudonymisation import DEVELOPMENT_KEY, KEY_VARIABLE
from wdc_orchestration.settings import environment

CATALOG_DB = "wdc_bench_ducklake"


def dbt_steps(home: Path, run_ids: dict[str, str]) -> dict[str, tuple[float, float]]:
    """domain -> (start, end) epoch seconds of its run's dbt step."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    os.environ["DAGSTER_HOME"] = str(home)
    found: dict[str, tuple[float, float]] = {}
    with dg.DagsterInstance.get() as instance:
        for domain, run_id in run_ids.items():
            start = end = None
            for entry in instance.all_logs(run_id):
                event = entry.dagster_event
                if event is None or entry.step_key != f"{domain}_dbt_models":
                    continue
                if event.event_type == DagsterEventType.STEP_START:
                    start = entry.timestamp
                elif event.event_type in (
                    DagsterEventType.STEP_SUCCESS,
                    DagsterEventType.STEP_FAILURE,
                ):
                    end = entry.timestamp
            if start is not None and end is not None:
                found[domain] = (start, end)
    return found


def failures(home: Path, run_ids: dict[str, str]) -> str:
    """The failed steps' errors of the runs (the lake is removed when the benchmark stops)."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    os.environ["DAGSTER_HOME"] = str(home)
    lines = []
    with dg.DagsterInstance.get() as instance:
        for domain, run_id in run_ids.items():
            for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
                error = entry.dagster_event.event_specific_data.error
                lines.append(
                    f"{domain} {entry.step_key}: {error.to_string()[:3000] if error else ''}"
                )
    return "\n".join(lines)


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals that overlap at one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = current = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


def nights(root: Path, days: list[dt.date]) -> list[dict[str, Any]]:
    """The five daily jobs at once for each of `days`, through one `dagster dev`."""
    from devtools.devserver import DagsterDev, launch_at_once
    from wdc_orchestration.settings import get_settings

    env = {k: v for k, v in os.environ.items() if k.startswith(("WDC_", "DAGSTER_HOME"))}
    rows = []
    with DagsterDev(home=root / "dagster_home", env=env) as server:
        for day in days:
            launched = time.time()
            run_ids = launch_at_once(server, DOMAINS, day.isoformat())
            final = server.wait(run_ids.values(), timeout=7200)
            seconds = time.time() - launched
            failed = {d: final[r] for d, r in run_ids.items() if final[r] != "SUCCESS"}
            if failed:
                errors = failures(root / "dagster_home", {d: run_ids[d] for d in failed})
                raise SystemExit(f"{day}: runs failed: {failed}\n{errors}")
            steps = dbt_steps(root / "dagster_home", run_ids)
            catalog = "postgres" if get_settings().catalog_is_postgres else "sqlite"
            rows.append(
                {
                    "catalog": catalog,
                    "pool": "ducklake/<domain>" if catalog == "postgres" else "ducklake",
                    "day": day.isoformat(),
                    "seconds": round(seconds, 1),
                    "dbt_steps_sum_s": round(sum(e - s for s, e in steps.values()), 1),
                    "dbt_steps_at_once_max": most_at_once(list(steps.values())),
                }
            )
            log.info("%s %s: %.1f s", catalog, day, seconds)
    return rows


@contextmanager
def postgres_catalog() -> Iterator[str]:
    """A private PostgreSQL cluster with an empty database; its DuckLake catalog setting."""
    from tests.infra import postgres_cluster

    with postgres_cluster() as cluster:
        yield f"postgres:{cluster.create_database(CATALOG_DB)}"


def run_catalog(
    catalog: str, first: dt.date, days: list[dt.date], scale_factor: float, seed: int
) -> list[dict[str, Any]]:
    kind = "postgres" if catalog == "postgres" else "sqlite"
    with (
        temp_lake(f"catalogs-{kind}") as root,
        postgres_catalog() if kind == "postgres" else nullcontext(None) as setting,
        environment(
            {
                "WDC_DUCKLAKE_CATALOG": setting,
                "WDC_DUCKLAKE_POOL": "per_domain",
                # remote storage: the public key is no fallback (governance/pseudonymisation.py)
                KEY_VARIABLE: os.environ.get(KEY_VARIABLE) or DEVELOPMENT_KEY,
            }
            if setting
            else {}
        ),
    ):
        log.info("%s: the day before (%s), once", kind, first)
        materialize_day(first, scale_factor, seed, None, f"{kind}: the day before")
        return nights(root, days)


def main() -> None:
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 2))
    parser.add_argument("--days", type=int, default=1, help="timed nights, from --day on")
    parser.add_argument(
        "--catalogs", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    args = parser.parse_args()
    os.environ["WDC_SCALE_FACTOR"] = str(args.scale_factor)
    os.environ["WDC_SEED"] = str(args.seed)
    os.environ["WDC_DAILY_EXECUTOR"] = "in_process"
    days = [args.day + dt.timedelta(days=i) for i in range(args.days)]
    before = args.day - dt.timedelta(days=1)
    load = os.getloadavg()[0]
    rows = [
        row
        for catalog in args.catalogs
        for row in run_catalog(catalog, before, days, args.scale_factor, args.seed)
    ]
    per_catalog = {
        catalog: round(sum(r["seconds"] for r in rows if r["catalog"] == catalog) / len(days), 1)
        for catalog in args.catalogs
    }
    report(
        "catalogs",
        rows,
        scale_factor=args.scale_factor,
        days=len(days),
        seconds_per_night=per_catalog,
        load_average_1m_at_start=round(load, 2),
        load_average_1m_at_end=round(os.getloadavg()[0], 2),
    )


if __name__ == "__main__":
    main()
