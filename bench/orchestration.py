"""Benchmark 2: orchestration overhead. One whole-mesh day through `wdc materialize` (Dagster:
raw assets, the raw gate, one dbt invocation per domain, governance checks, publishing, metadata,
run records) against the same work done bare, measured in one run on the same lake settings, with
a breakdown per stage read back from the Dagster run's event log. Two bare paths:

- the issue's: the simulators called directly, then ONE `dbt build` of the whole project with the
  same run window (which includes the sources' tests);
- the same work: that, plus what the mesh does beyond it, called as plain functions in the same
  order — the raw gate's checks of every entity before dbt, then every product's governance
  policies and its publication. Their difference is what Dagster itself costs.

    uv run python -m bench.orchestration --scale-factor 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import (
    check,
    comma_list,
    domains_arg,
    last_run_timeline,
    log,
    materialize_day,
    python_command,
    report,
    run_process,
    setup_logging,
    simulator_entities,
    target,
    temp_lake,
)

BARE_PREFIX = "BARE_TIMINGS "


def wipe_lake(root: Path) -> None:
    """Forget everything a run wrote (lake, catalog, instance) but keep the same settings, so
    both paths reuse the same prepared dbt manifest."""
    for name in ("lake", "catalog", "dagster_home", "logs"):
        shutil.rmtree(root / name, ignore_errors=True)
    (root / "catalog").mkdir()  # the SQLite catalog's folder must exist before dbt attaches it


def prepare_manifest() -> float:
    """Parse the dbt project for this lake's settings once, before either path is timed."""
    from wdc_orchestration.dbt.project import ensure_manifest, export_dbt_env
    from wdc_orchestration.settings import get_settings

    started = time.perf_counter()
    export_dbt_env(get_settings())
    ensure_manifest()
    return time.perf_counter() - started


def bare_day(
    day: dt.date,
    scale_factor: float,
    seed: int,
    domains: list[str] | None = None,
    same_work: bool = False,
) -> dict[str, Any]:
    """The work without an orchestrator: land every entity, then one `dbt build`; with
    `same_work`, also the raw gate before dbt and the governance checks and publishing after."""
    from wdc_orchestration.dbt.project import DBT_TARGET, dbt_project, export_dbt_env
    from wdc_orchestration.lakehouse.run_window import RunWindow
    from wdc_orchestration.raw.assets import land_day
    from wdc_orchestration.raw.generation.request import GenerationRequest
    from wdc_orchestration.resources.lake import LocalLakeStorage
    from wdc_orchestration.settings import get_settings

    export_dbt_env(get_settings())
    lake = LocalLakeStorage(root=get_settings().lake_url)
    started = time.perf_counter()
    rows = 0
    for domain, entities in simulator_entities(domains).items():
        for entity in entities:
            request = GenerationRequest(date=day, scale_factor=scale_factor, seed=seed)
            rows += land_day(lake, domain, entity, request).rows
    generation = time.perf_counter() - started
    timings: dict[str, Any] = {"raw_rows": rows, "generation": generation}
    if same_work:
        started = time.perf_counter()
        raw_gate(lake, day, domains)
        timings["raw gate (Python checks)"] = time.perf_counter() - started

    project = dbt_project()
    with tempfile.TemporaryDirectory(prefix="wdc-bench-bare-target-") as target_path:
        # What dagster-dbt does too: start from the prepared partial-parse state.
        partial = project.manifest_path.parent / "partial_parse.msgpack"
        if partial.exists():
            shutil.copy(partial, Path(target_path) / partial.name)
        env = {**os.environ, **RunWindow(day, day).as_env()}
        command = [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--target",
            DBT_TARGET,
            "--target-path",
            target_path,
            "--log-path",
            target_path,
            *(["--select", *(f"fqn:{d}" for d in domains)] if domains else []),
        ]
        started = time.perf_counter()
        result = subprocess.run(
            command, cwd=project.project_dir, env=env, capture_output=True, text=True
        )
        dbt_seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"bare dbt build failed:\n{result.stdout[-3000:]}")
    timings["dbt_build"] = dbt_seconds
    if same_work:
        started = time.perf_counter()
        governance(lake, domains, day)
        timings["policies + write-audit-publish + Parquet ports"] = time.perf_counter() - started
    return timings


def raw_gate(lake: Any, day: dt.date, domains: list[str] | None) -> None:
    """Every entity's gate checks (schema, keys, values, volume), as the raw gate's steps run
    them; the cross-domain reference checks are left out (they need a run's context)."""
    from wdc_orchestration.dbt.project import load_manifest
    from wdc_orchestration.quality.evaluate import WARN
    from wdc_orchestration.quality.raw_gate import evaluate_day, gate_checks
    from wdc_orchestration.quality.rules import rules_for
    from wdc_orchestration.settings import get_settings

    manifest = load_manifest()
    for domain, entities in simulator_entities(domains).items():
        for entity in entities:
            rules = rules_for(manifest, domain, entity.name)
            findings = evaluate_day(
                lake, rules, entity, day.isoformat(), gate_checks(rules), get_settings()
            )
            failed = [f for f in findings if not f.passed and f.severity != WARN]
            if failed:
                raise SystemExit(f"bare raw gate failed: {failed}")


def governance(lake: Any, domains: list[str] | None, day: dt.date) -> None:
    """What the dbt steps do after dbt under write-audit-publish, and the Parquet ports after
    them, as plain calls: per domain, the policies on its audited rows, the one-transaction
    publication of the window, then every product's Parquet port."""
    from wdc_orchestration.dbt.project import domain_of, load_manifest
    from wdc_orchestration.governance.policies import BLOCKING_POLICIES, evaluate, load_inputs
    from wdc_orchestration.governance.publishing import publish, published_contract
    from wdc_orchestration.lakehouse.run_window import RunWindow
    from wdc_orchestration.lakehouse.wap import audit_schema, audited_tables, publish_window
    from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
    from wdc_orchestration.settings import get_settings

    lakehouse = lakehouse_from_settings(get_settings())
    nodes = load_manifest()["nodes"]
    window = RunWindow(day, day)
    descriptors = load_inputs().descriptors
    for domain in simulator_entities(domains):
        products = [p for p, d in descriptors.items() if d.domain == domain]
        inputs = load_inputs()  # as each dbt step's policy gate does
        published = {p: published_contract(lake, domain, descriptors[p].name) for p in products}
        with lakehouse.get_connection() as conn:
            found = evaluate(
                inputs,
                conn=conn,
                published=published,
                products=products,
                window=window,
                schemas=dict.fromkeys(products, audit_schema(domain)),
            )
            blocking = [v for v in found if v.product in products and v.policy in BLOCKING_POLICIES]
            if blocking:
                raise SystemExit(f"bare governance failed: {blocking}")
            models = [uid for uid, node in nodes.items() if node["resource_type"] == "model"]
            mine = [uid for uid in models if domain_of(nodes[uid]) == domain]
            publish_window(conn, domain, audited_tables(nodes, mine), window, "bench-bare")
            for product in products:
                publish(conn, lake, descriptors[product])


def stage_of(step_key: str) -> str:
    if "_ready_for_" in step_key:
        return "readiness checks (waiting for producers)"
    if (
        step_key.endswith(("__gate", "references_resolve"))
        or "check" in step_key
        or "source_tests" in step_key
    ):
        return "checks (raw gate)"
    if "__raw__" in step_key:
        return "generation (raw assets)"
    if step_key.endswith("_dbt_models"):
        return f"dbt {step_key.removesuffix('_dbt_models')}"
    if any(word in step_key for word in ("publish", "export", "product")):
        return "publishing (Parquet ports)"
    if "__kpi__" in step_key:
        return "KPI charts"
    return f"other: {step_key}"


def run_breakdown(dagster_home: Path, process_started: float, process_ended: float) -> dict:
    """Seconds per stage of the last run in the instance, from its event log."""
    timeline = last_run_timeline(dagster_home)
    stages: dict[str, float] = defaultdict(float)
    for key, start, end in timeline.steps:
        stages[stage_of(key)] += end - start
    return {
        "dagster start-up (process start -> run start)": timeline.started - process_started,
        **dict(stages),
        "dagster run overhead (between steps)": (timeline.ended - timeline.started)
        - sum(stages.values()),
        "process exit (run end -> exit)": process_ended - timeline.ended,
        **wap_parts(timeline.messages),
    }


WAP_LINE = re.compile(
    r"dbt (?P<dbt>[\d.]+)s, audit gates (?P<gates>[\d.]+)s, publish (?P<publish>[\d.]+)s"
)


def wap_parts(messages: list[str]) -> dict[str, float]:
    """What the dbt steps spent on dbt, on the audit gates and on publishing, from the line each
    logs (dbt/audited_build.py): parts of the `dbt <domain>` stages above, not added to them."""
    from wdc_orchestration.dbt.audited_build import WAP_LOG_PREFIX

    parts = {"dbt": 0.0, "gates": 0.0, "publish": 0.0}
    for message in messages:
        match = WAP_LINE.search(message) if WAP_LOG_PREFIX in message else None
        if match:
            for name in parts:
                parts[name] += float(match.group(name))
    return {
        "in the dbt steps: dbt (build + tests, into the audit schemas)": parts["dbt"],
        "in the dbt steps: audit gates (policies on the audited rows)": parts["gates"],
        "in the dbt steps: publish (write-audit-publish transaction)": parts["publish"],
    }


def measure(
    day: dt.date, scale_factor: float, seed: int, root: Path, domains: list[str] | None
) -> dict[str, Any]:
    timings = {}
    processes = {}
    for name, extra in (("bare", []), ("same_work", ["--same-work"])):
        wipe_lake(root)
        processes[name] = check(
            run_process(
                python_command(
                    "-m", "bench.orchestration", "--bare-only", "--date", day.isoformat(),
                    "--scale-factor", str(scale_factor), "--seed", str(seed),
                    *domains_arg(domains), *extra,
                )
            ),
            f"{name} path",
        )  # fmt: skip
        timings[name] = next(
            json.loads(line.removeprefix(BARE_PREFIX))
            for line in processes[name].stdout.splitlines()
            if line.startswith(BARE_PREFIX)
        )
    wipe_lake(root)
    wall_started = time.time()
    orchestrated = materialize_day(day, scale_factor, seed, domains, "wdc materialize")
    breakdown = run_breakdown(root / "dagster_home", wall_started, time.time())
    return {"bare": processes["bare"], "bare_timings": timings["bare"],
            "same_work": processes["same_work"], "same_work_timings": timings["same_work"],
            "orchestrated": orchestrated, "breakdown": breakdown}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--date", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=1, help="alternating bare/orchestrated")
    parser.add_argument(
        "--domains", type=comma_list, help="comma-separated subset (default: the whole mesh)"
    )
    parser.add_argument("--bare-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--same-work", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    setup_logging()
    day = dt.date.fromisoformat(args.date)
    if args.bare_only:  # the bare path, in its own process (what the parent times)
        sys.stdout.write(
            BARE_PREFIX
            + json.dumps(bare_day(day, args.scale_factor, args.seed, args.domains, args.same_work))
        )
        sys.stdout.write("\n")
        # Exit as `wdc` does (cli.run): without the interpreter's teardown, so that neither path
        # is timed on it.
        sys.stdout.flush()
        os._exit(0)

    with temp_lake("orchestration") as root:
        manifest_seconds = prepare_manifest()
        results = []
        for number in range(args.repeats):
            log.info("repeat %d/%d at SF %s", number + 1, args.repeats, args.scale_factor)
            results.append(measure(day, args.scale_factor, args.seed, root, args.domains))
    best = min(results, key=lambda r: r["orchestrated"].seconds)
    bare_best = min(results, key=lambda r: r["bare"].seconds)
    same_best = min(results, key=lambda r: r["same_work"].seconds)
    ratio = best["orchestrated"].seconds / bare_best["bare"].seconds
    same_ratio = best["orchestrated"].seconds / same_best["same_work"].seconds
    same_timings = same_best["same_work_timings"]
    rows = [
        {"path": "bare (simulators + one dbt build)", "stage": "whole process",
         "seconds": bare_best["bare"].seconds},
        {"path": "bare", "stage": "generation", "seconds": bare_best["bare_timings"]["generation"]},
        {"path": "bare", "stage": "dbt build (whole project)",
         "seconds": bare_best["bare_timings"]["dbt_build"]},
        {"path": "bare, same work (+ raw gate, governance, publishing)", "stage": "whole process",
         "seconds": same_best["same_work"].seconds},
        *({"path": "bare, same work", "stage": stage, "seconds": seconds}
          for stage, seconds in same_timings.items() if stage != "raw_rows"),
        {"path": "wdc materialize", "stage": "whole process",
         "seconds": best["orchestrated"].seconds},
        *({"path": "wdc materialize", "stage": stage, "seconds": seconds}
          for stage, seconds in best["breakdown"].items()),
    ]  # fmt: skip
    report(
        "orchestration",
        rows,
        scale_factor=args.scale_factor,
        raw_rows=bare_best["bare_timings"]["raw_rows"],
        manifest_prepare_seconds=round(manifest_seconds, 2),
        all_runs=[
            {
                "bare": r["bare"].seconds,
                "same_work": r["same_work"].seconds,
                "orchestrated": r["orchestrated"].seconds,
            }
            for r in results
        ],
        ratio_orchestrated_to_bare=round(ratio, 2),
        ratio_orchestrated_to_same_work=round(same_ratio, 2),
        targets={
            "wdc materialize <= 1.5x bare": target(ratio, 1.5, False),
            "wdc materialize <= 1.5x the same work done bare": target(same_ratio, 1.5, False),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
