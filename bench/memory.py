"""Benchmark 4: memory and scaling. Peak RSS of a whole-mesh day through `wdc materialize` (the
Dagster process, where dbt runs too, plus any subprocess, sampled together), split into the
generation and transformation phases using the run's step windows; and wall time at each scale
factor, to check that time grows no faster than linearly.

    uv run python -m bench.memory --scale-factors 1 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from bench.common import (
    comma_list,
    last_run_timeline,
    log,
    materialize_day,
    report,
    setup_logging,
    target,
    temp_lake,
)
from bench.orchestration import prepare_manifest, stage_of

GIB = 1024.0


def measure(
    day: dt.date, scale_factor: float, seed: int, root: Path, domains: list[str] | None
) -> dict:
    epoch_started = time.time()
    run = materialize_day(day, scale_factor, seed, domains, f"wdc materialize at SF {scale_factor}")
    windows = last_run_timeline(root / "dagster_home").steps
    phases = {"generation": 0.0, "transformation": 0.0}
    seconds = {"generation": 0.0, "transformation": 0.0}
    for key, start, end in windows:
        stage = stage_of(key)
        if stage.startswith("dbt "):
            phase = "transformation"
        elif stage == "generation (raw assets)":
            phase = "generation"
        else:
            continue  # checks, governance and publishing steps: neither phase
        seconds[phase] += end - start
        in_window = [mib for t, mib in run.samples if start <= epoch_started + t <= end]
        phases[phase] = max(phases[phase], max(in_window, default=0.0))
    return {
        "scale_factor": scale_factor,
        "seconds": run.seconds,
        "generation_seconds": seconds["generation"],
        "dbt_seconds": seconds["transformation"],
        "peak_tree_gib": run.peak_tree_rss_mib / GIB,
        "peak_dagster_process_gib": run.peak_main_rss_mib / GIB,
        "peak_largest_subprocess_gib": run.peak_child_rss_mib / GIB,
        "peak_generation_gib": phases["generation"] / GIB,
        "peak_transformation_gib": phases["transformation"] / GIB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factors", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--date", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--domains", type=comma_list, help="comma-separated subset (default: the whole mesh)"
    )
    args = parser.parse_args(argv)
    setup_logging()
    day = dt.date.fromisoformat(args.date)
    rows = []
    for scale_factor in sorted(args.scale_factors):
        with temp_lake(f"memory-sf{scale_factor}") as root:
            prepare_manifest()
            log.info("whole-mesh day at SF %s", scale_factor)
            rows.append(measure(day, scale_factor, args.seed, root, args.domains))
    largest, smallest = rows[-1], rows[0]
    figures: dict = {"targets": {}}
    figures["targets"][f"peak RSS <= 2 GiB at SF {largest['scale_factor']}"] = target(
        largest["peak_tree_gib"], 2.0, False
    )
    if len(rows) > 1:
        volume = largest["scale_factor"] / smallest["scale_factor"]
        growth = largest["seconds"] / smallest["seconds"]
        figures["time_growth"] = round(growth, 2)
        figures["volume_growth"] = volume
        figures["targets"]["time grows no faster than volume"] = target(growth, volume, False)
    report("memory", rows, **figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
