"""Benchmark 3: incremental nightly cost. The time of the nightly run of day N after N-1 days of
history, against the run of day 1 on an empty lake, both through `wdc materialize` on the same
lake settings (so both reuse the same prepared dbt manifest).

The history is built the fast way, with the same code: days 1..N-1 landed by the platform's
landing code, then one `dbt build` over that window (a single-run backfill) — the same tables a
month of nightly runs leaves behind.

    uv run python -m bench.incremental --scale-factor 1 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    comma_list,
    log,
    materialize_day,
    report,
    setup_logging,
    simulator_entities,
    target,
    temp_lake,
)
from bench.orchestration import prepare_manifest, run_breakdown, wipe_lake

DAY_LINE = re.compile(r"day \d+/\d+: (\S+) ok in ([\d.]+)s")


def build_history(
    first: dt.date, last: dt.date, scale_factor: float, seed: int, domains: list[str] | None
) -> None:
    """Land first..last and build them in one dbt invocation."""
    from wdc_orchestration.dbt import DBT_TARGET, dbt_project
    from wdc_orchestration.generation.request import GenerationRequest
    from wdc_orchestration.raw import land_day
    from wdc_orchestration.resources.lake import LocalLakeStorage
    from wdc_orchestration.run_window import RunWindow
    from wdc_orchestration.settings import get_settings

    lake = LocalLakeStorage(root=get_settings().lake_url)
    entities = simulator_entities(domains)
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        for domain, domain_entities in entities.items():
            for entity in domain_entities:
                request = GenerationRequest(date=day, scale_factor=scale_factor, seed=seed)
                land_day(lake, domain, entity, request)
    project = dbt_project()
    with tempfile.TemporaryDirectory(prefix="wdc-bench-history-") as target_path:
        env = {**os.environ, **RunWindow(first, last).as_env()}
        command = [str(Path(sys.executable).with_name("dbt")), "build", "--target", DBT_TARGET,
                   "--target-path", target_path, "--log-path", target_path,
                   *(["--select", *(f"fqn:{d}" for d in domains)] if domains else [])]  # fmt: skip
        result = subprocess.run(
            command, cwd=project.project_dir, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(f"history dbt build failed:\n{result.stdout[-3000:]}")


def nightly(
    day: dt.date, scale_factor: float, seed: int, domains: list[str] | None, root: Path
) -> dict[str, Any]:
    started = time.time()
    run = materialize_day(day, scale_factor, seed, domains, f"wdc materialize {day}")
    match = DAY_LINE.search(run.stderr)
    return {
        "process_seconds": run.seconds,
        "run_seconds": float(match.group(2)) if match else run.seconds,
        "stages": run_breakdown(root / "dagster_home", started, time.time()),
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
        lake_mb = sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file()) / 1e6
    ratio = day_n["run_seconds"] / day_1["run_seconds"]
    label_n = f"day {args.days} ({last}), after {args.days - 1} days"
    rows = [
        {"run": f"day 1 ({first}), empty lake", "stage": "whole process",
         "seconds": day_1["process_seconds"]},
        {"run": label_n, "stage": "whole process", "seconds": day_n["process_seconds"]},
        {"run": "day 1", "stage": "in the run", "seconds": day_1["run_seconds"]},
        {"run": f"day {args.days}", "stage": "in the run", "seconds": day_n["run_seconds"]},
        *({"run": f"day 1 -> day {args.days}", "stage": stage,
           "seconds": f"{day_1['stages'].get(stage, 0.0):.2f} -> {seconds:.2f}"}
          for stage, seconds in day_n["stages"].items()),
    ]  # fmt: skip
    report(
        "incremental",
        rows,
        scale_factor=args.scale_factor,
        days=args.days,
        lake_mb_after=round(lake_mb, 1),
        ratio_day_n_to_day_1=round(ratio, 2),
        targets={f"day {args.days} <= 1.3x day 1": target(ratio, 1.3, False)},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
