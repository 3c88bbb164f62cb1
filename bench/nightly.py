"""Benchmark: the nightly path against the serial path, for the same day of the whole mesh, in one
run on the same machine and the same lake state:

- serial: `wdc materialize` for the day (one process; the domains in dependency order);
- daemon: `dagster dev` on the workspace (webserver, daemon, one code server per domain; with
  `--domains`, the chosen domains' code locations only), the five `<domain>_daily` jobs
  launched at once, as the 02:00 schedules do, and run by the daemon's run launcher; timed
  from the first launch to the end of the last run (the server's start-up is not part of a
  night).

Both start from the same lake holding the day before (a nightly increment, not a first load): the
lake is saved after that day, and restored before each path. Per run, the report says when the
daemon started it, how long its consumers waited in their readiness checks, and when it ended.
With `--first-load` there is no day before: both paths start from a new, empty lake (the smoke
test's choice: five daily jobs at once on a new lake, one day-run of the mesh less).

    uv run python -m bench.nightly --scale-factor 1
    uv run python -m bench.nightly --scale-factor 1 --executor multiprocess   # Dagster's default
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import log, materialize_day, report, setup_logging, target, temp_lake
from wdc_orchestration.mesh.registry import WORKSPACE_FILE
from wdc_orchestration.settings import PROJECT_ROOT
from wdc_orchestration.yamlio import load_yaml

DOMAINS = ["customers", "catalog", "sales", "finance", "logistics"]
TARGET_RATIO = 1.5


def domain_list(value: str) -> list[str]:
    """An argparse `type`: known domains, comma-separated, kept in the mesh's order."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(DOMAINS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{value!r}: not domains of the mesh ({', '.join(unknown) or 'none given'}); "
            f"use some of {','.join(DOMAINS)}"
        )
    return [name for name in DOMAINS if name in names]


def _save(root: Path, saved: Path) -> None:
    shutil.rmtree(saved, ignore_errors=True)
    saved.mkdir(parents=True)
    for name in ("lake", "catalog", "dagster_home"):
        if (root / name).exists():  # a new lake (--first-load) has no lake or catalog yet
            shutil.copytree(root / name, saved / name)


def _restore(saved: Path, root: Path) -> None:
    for name in ("lake", "catalog", "dagster_home", "logs"):
        shutil.rmtree(root / name, ignore_errors=True)
        if (saved / name).exists():
            shutil.copytree(saved / name, root / name)


def _run_timelines(home: Path, run_ids: dict[str, str], launched: float) -> list[dict[str, Any]]:
    """Per run: when it started and ended (seconds after the first launch), and how long its
    readiness checks waited for producers."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    os.environ["DAGSTER_HOME"] = str(home)
    rows = []
    with dg.DagsterInstance.get() as instance:
        for domain, run_id in run_ids.items():
            record = instance.get_run_record_by_id(run_id)
            waited = 0.0
            starts: dict[str, float] = {}
            for entry in instance.all_logs(run_id):
                event = entry.dagster_event
                if event is None or entry.step_key is None or "_ready_for_" not in entry.step_key:
                    continue
                if event.event_type == DagsterEventType.STEP_START:
                    starts[entry.step_key] = entry.timestamp
                elif event.event_type == DagsterEventType.STEP_SUCCESS:
                    waited += entry.timestamp - starts.get(entry.step_key, entry.timestamp)
            rows.append(
                {
                    "run": f"{domain}_daily",
                    "status": record.dagster_run.status.value,
                    "started_s": round((record.start_time or launched) - launched, 1),
                    "waited_for_producers_s": round(waited, 1),
                    "ended_s": round((record.end_time or launched) - launched, 1),
                }
            )
    return rows


def domains_workspace(domains: list[str], folder: Path) -> Path:
    """workspace.yaml with the code locations of `domains` only (all of them: the project's own
    file): a night of three domains does not start, and tick the sensors of, five code servers."""
    if set(domains) == set(DOMAINS):
        return WORKSPACE_FILE
    document = load_yaml(WORKSPACE_FILE.read_text())
    document["load_from"] = [
        # the file is written elsewhere: the domains' folder is the project's, not its own
        {"python_module": {**entry["python_module"], "working_directory": str(PROJECT_ROOT)}}
        for entry in document["load_from"]
        if entry["python_module"]["location_name"] in domains
    ]
    path = folder / "workspace.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def daemon_path(
    root: Path, day: dt.date, executor: str, domains: list[str]
) -> tuple[float, list[dict[str, Any]]]:
    from devtools.devserver import DagsterDev, launch_at_once

    env = {
        **{k: v for k, v in os.environ.items() if k.startswith(("WDC_", "DAGSTER_HOME"))},
        "WDC_DAILY_EXECUTOR": executor,
    }
    workspace = domains_workspace(domains, root)
    with DagsterDev(home=root / "dagster_home", workspace=workspace, env=env) as server:
        launched = time.time()
        run_ids = launch_at_once(server, domains, day.isoformat())
        final = server.wait(run_ids.values(), timeout=7200)
        seconds = time.time() - launched
    failed = {d: final[r] for d, r in run_ids.items() if final[r] != "SUCCESS"}
    if failed:
        raise SystemExit(f"daemon path: runs failed: {failed} (see {root / 'dagster_home'})")
    return seconds, _run_timelines(root / "dagster_home", run_ids, launched)


def main() -> None:
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 2))
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process")
    parser.add_argument(
        "--first-load",
        action="store_true",
        help="no day before: both paths start from a new, empty lake (a first load)",
    )
    parser.add_argument(
        "--domains",
        type=domain_list,
        default=DOMAINS,
        help="comma-separated domains, each with its producers (default: the whole mesh; the "
        "smoke test's customers,catalog,sales keeps a consumer waiting on its producers)",
    )
    args = parser.parse_args()
    before = args.day - dt.timedelta(days=1)
    os.environ["WDC_SCALE_FACTOR"] = str(args.scale_factor)
    os.environ["WDC_SEED"] = str(args.seed)

    with temp_lake("nightly") as root:
        if args.first_load:
            log.info("first load: no day before, the new lake saved as it is")
        else:
            log.info("the day before (%s), once, then saved", before)
            materialize_day(before, args.scale_factor, args.seed, args.domains, "the day before")
        saved = root.parent / f"{root.name}-saved"
        _save(root, saved)
        try:
            log.info("serial: wdc materialize %s", args.day)
            serial = materialize_day(args.day, args.scale_factor, args.seed, args.domains, "serial")
            _restore(saved, root)
            log.info(
                "daemon: %d daily jobs at once through dagster dev (%s)",
                len(args.domains),
                args.executor,
            )
            seconds, runs = daemon_path(root, args.day, args.executor, args.domains)
        finally:
            shutil.rmtree(saved, ignore_errors=True)

    ratio = seconds / serial.seconds
    report(
        "nightly",
        [
            {"path": "serial: wdc materialize", "seconds": round(serial.seconds, 1)},
            {
                "path": f"daemon: {len(args.domains)} daily jobs at once ({args.executor})",
                "seconds": round(seconds, 1),
            },
        ],
        scale_factor=args.scale_factor,
        day=args.day.isoformat(),
        day_before=None if args.first_load else before.isoformat(),
        domains=args.domains,
        executor=args.executor,
        ratio=round(ratio, 2),
        runs=runs,
        targets={f"daemon <= {TARGET_RATIO}x serial": target(ratio, TARGET_RATIO, False)},
    )


if __name__ == "__main__":
    main()
