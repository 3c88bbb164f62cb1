"""Benchmark 5: code-location load time. Each code location of workspace.yaml imported in a fresh
interpreter (what the Dagster code server does on start and on reload), with the dbt manifest
already prepared, and `dagster definitions validate` on the whole workspace.

    uv run python -m bench.load_time
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.common import (
    PROJECT_ROOT,
    check,
    log,
    python_command,
    report,
    run_process,
    setup_logging,
    target,
    temp_lake,
)
from bench.orchestration import prepare_manifest

PROBE = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
started = time.perf_counter()
import dagster
dagster_seconds = time.perf_counter() - started
import importlib
module = importlib.import_module(sys.argv[1])
defs = module.defs()  # @dg.definitions: built when called, as Dagster's loader does
loaded = time.perf_counter() - started
assets = len(list(defs.assets or []))
sys.stdout.write(json.dumps({"import_seconds": loaded, "dagster_import_seconds": dagster_seconds,
                             "assets": assets}) + "\\n")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-validate", action="store_true")
    parser.add_argument("--locations", nargs="+", help="a subset (default: every location)")
    args = parser.parse_args(argv)
    setup_logging()
    from wdc_orchestration.mesh.registry import domain_modules

    rows = []
    with temp_lake("load") as _root:
        started = time.perf_counter()
        prepare_manifest()
        parse_seconds = time.perf_counter() - started
        for location, module in domain_modules().items():
            if args.locations and location not in args.locations:
                continue
            run = check(run_process(python_command("-c", PROBE, module)), f"import {module}")
            probe = json.loads(run.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    "location": location,
                    "process_seconds": run.seconds,
                    "import_seconds": probe["import_seconds"],
                    "of_which_dagster": probe["dagster_import_seconds"],
                    "assets": probe["assets"],
                }
            )
            log.info("%s loads in %.2fs", location, run.seconds)
        validate_seconds = None
        if not args.skip_validate:
            dagster = str(Path(sys.executable).with_name("dagster"))
            workspace = str(PROJECT_ROOT / "workspace.yaml")
            command = [dagster, "definitions", "validate", "-w", workspace]
            validate = check(run_process(command), "dagster definitions validate")
            validate_seconds = validate.seconds
    slowest = max(row["process_seconds"] for row in rows)
    report(
        "load_time",
        rows,
        manifest_prepare_seconds=round(parse_seconds, 2),
        validate_workspace_seconds=validate_seconds,
        targets={"each location <= 5 s (process incl. interpreter)": target(slowest, 5.0, False)},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
