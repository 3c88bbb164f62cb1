"""The benchmark scripts (bench/) run at a tiny scale factor: each must finish, print its table
and one well-formed BENCH_JSON line with the figures it promises. A smoke run, not a timed
assertion: the figures themselves are recorded in docs/benchmarks.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bench.common import PROJECT_ROOT, parse_report
from tests.conftest import TEST_INTERVALS

pytestmark = pytest.mark.e2e  # each bench runs the mesh at SF 0.01

TINY = "0.01"
BENCH_ROOT = Path(tempfile.gettempdir()) / f"wdc-bench-smoke-{os.getpid()}"


def run_bench(module: str, *args: str) -> dict[str, Any]:
    # The scripts make their own lake; nothing of the session's lake leaks in. One fixed folder
    # for all of them: the same lake paths, so the dbt manifest is prepared once for the module.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WDC_", "DAGSTER_HOME"))}
    env["WDC_BENCH_ROOT"] = str(BENCH_ROOT)
    env.update(TEST_INTERVALS)  # the tests' daemon intervals (conftest), not the lake's settings
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        # a guard against a hang, not a timing: the nightly smoke (dagster dev, five runs) took
        # 7.5 min alone and over 10 min beside another suite on 2 cores
        timeout=1800,
    )
    assert result.returncode == 0, (
        f"{module} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
    (document,) = parse_report(result.stdout)
    assert document["benchmark"] == module.removeprefix("bench.")
    assert document["machine"]["nproc"] >= 1 and document["machine"]["python"]
    assert document["rows"], "a benchmark without rows measured nothing"
    assert "targets" in document and document["targets"]
    # the human table is printed before the JSON line
    assert f"== {document['benchmark']} ==" in result.stdout
    return document


def positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


def test_generation_bench() -> None:
    doc = run_bench(
        "bench.generation", "--scale-factors", TINY, "--faker-rows", "200", "--skip-jafgen"
    )
    (row,) = doc["rows"]
    assert row["scale_factor"] == float(TINY)
    assert row["rows"] > 0 and positive(row["rows_per_s"])
    assert positive(row["duckdb_copy_rows_per_s"]) and positive(row["customers_vs_faker"])
    assert positive(doc["faker_rows_per_s"])
    # every entity of every domain landed, with its rows
    assert {e["domain"] for e in doc["entities"]} == {
        "customers", "catalog", "sales", "finance", "logistics",
    }  # fmt: skip
    assert sum(e["rows"] for e in doc["entities"]) == row["rows"]
    assert doc["jafgen"] == {"skipped": "--skip-jafgen"}


# One or two domains keep the smoke run short; the scripts take the whole mesh by default.
def test_orchestration_bench_breaks_the_run_down_per_stage() -> None:
    orchestration = run_bench(
        "bench.orchestration", "--scale-factor", TINY, "--domains", "customers,catalog"
    )
    stages = {row["stage"]: row["seconds"] for row in orchestration["rows"]}
    for domain in ("customers", "catalog"):
        assert positive(stages[f"dbt {domain}"]), f"no dbt stage for {domain}"
    assert "dbt sales" not in stages
    assert positive(stages["generation (raw assets)"])
    assert positive(stages["dagster start-up (process start -> run start)"])
    assert positive(stages["dbt build (whole project)"]) and positive(stages["generation"])
    assert positive(orchestration["ratio_orchestrated_to_bare"])
    assert orchestration["raw_rows"] > 0
    # the same work done bare: the raw gate and the governance steps, as plain function calls
    same_work = {
        row["stage"]: row["seconds"]
        for row in orchestration["rows"]
        if row["path"] == "bare, same work"
    }
    assert positive(same_work["raw gate (Python checks)"])
    assert positive(same_work["policies + write-audit-publish + Parquet ports"])
    assert positive(stages["publishing (Parquet ports)"])
    # the dbt steps' parts: dbt, the policies on the audited rows, the publication
    for part in ("dbt (build + tests", "audit gates", "publish (write-audit-publish"):
        (seconds,) = [
            v for k, v in stages.items() if k.startswith("in the dbt steps") and part in k
        ]
        assert positive(seconds), part
    assert positive(orchestration["ratio_orchestrated_to_same_work"])


def test_incremental_bench() -> None:
    doc = run_bench(
        "bench.incremental", "--scale-factor", TINY, "--days", "2", "--domains", "customers"
    )
    in_run = [row["seconds"] for row in doc["rows"] if row["stage"] == "in the run"]
    assert len(in_run) == 2 and all(positive(seconds) for seconds in in_run)
    assert doc["days"] == 2 and positive(doc["ratio_day_n_to_day_1"])
    # the per-stage comparison, read from both runs' event logs
    stages = {row["stage"] for row in doc["rows"]}
    assert {"dbt customers", "publishing (Parquet ports)", "checks (raw gate)"} <= stages


def test_memory_bench() -> None:
    doc = run_bench("bench.memory", "--scale-factors", TINY, "--domains", "customers")
    (row,) = doc["rows"]
    # a Dagster process with dbt loaded in it cannot fit in less than ~100 MiB
    assert row["peak_tree_gib"] > 0.1
    assert row["peak_tree_gib"] >= row["peak_dagster_process_gib"] > 0.1
    assert positive(row["peak_transformation_gib"]) and positive(row["peak_generation_gib"])


class TestNightlyBench:
    """The nightly bench (both paths): a class of its own, so xdist runs it beside the others."""

    def test_nightly_bench_runs_both_paths(self) -> None:
        """On a new lake (`--first-load`: one day-run less) and for three domains, a producer of
        each kind and their consumer (`--domains`): the bench's two paths and its report. The
        five daily jobs at once on a new lake are test_nightly.py's first night."""
        domains = ["customers", "catalog", "sales"]
        doc = run_bench(
            "bench.nightly", "--scale-factor", TINY, "--first-load", "--domains", ",".join(domains)
        )
        assert doc["day_before"] is None and doc["domains"] == domains
        seconds = {row["path"].split(":")[0]: row["seconds"] for row in doc["rows"]}
        assert positive(seconds["serial"]) and positive(seconds["daemon"])
        assert positive(doc["ratio"])
        assert {row["run"] for row in doc["runs"]} == {f"{d}_daily" for d in domains}
        assert all(row["status"] == "SUCCESS" for row in doc["runs"])
        # the producers have no readiness checks; sales', launched with them, waited for theirs
        waited = {row["run"]: row["waited_for_producers_s"] for row in doc["runs"]}
        assert waited["customers_daily"] == 0 and waited["catalog_daily"] == 0
        assert waited["sales_daily"] > 0


def test_load_time_bench() -> None:
    doc = run_bench("bench.load_time", "--skip-validate", "--locations", "sales")
    assert {row["location"] for row in doc["rows"]} == {"sales"}
    for row in doc["rows"]:
        assert row["assets"] > 0 and positive(row["import_seconds"])


def test_process_overhead_bench() -> None:
    doc = run_bench("bench.process_overhead", "--events", "100", "--repeat", "1")
    costs = {(row["cost"], row["what"]): row["cpu_s"] for row in doc["rows"]}
    assert set(costs) == {
        ("store 100 events", "Dagster's SQLite storage"),
        ("store 100 events", "engines kept per file"),
        ("a process's dbt manifest", "from the partial-parse state"),
        ("a process's dbt manifest", "the kept manifest"),
    }
    assert positive(costs[("store 100 events", "Dagster's SQLite storage")])
    assert positive(costs[("a process's dbt manifest", "from the partial-parse state")])
    assert isinstance(doc["event_log_saving_s"], float)


def teardown_module() -> None:
    shutil.rmtree(BENCH_ROOT, ignore_errors=True)
