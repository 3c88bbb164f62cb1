"""Domains writing a PostgreSQL DuckLake catalog at once, through the real daemon.

On a PostgreSQL catalog each domain's dbt step queues only behind its own domain's writers (the
pool `ducklake/<domain>`, domain.lakehouse_pool), so the nightly's five domains build and commit
at once (at SF 0.01 here; SF 1 in bench/catalogs.py). Each dbt step runs one thread: with four,
a thread's rename of its `__dbt_tmp` view failed now and then (duckdb/dbt-duckdb#748).

This is where DuckLake's concurrent-commit bugs would show (a commit that raced another and
lost rows or statistics: duckdb/ducklake#1094, where lost min/max statistics made filters miss
rows), so every data product is compared with the serial, embedded run of the same days (the
session's `two_days`), whole and through filters. One `dagster dev` (instance on PostgreSQL too)
and one local lake for the module, in this order:

  at once   the five daily jobs launched together, two days in a row: every run succeeds, two
            domains' dbt steps overlapped in time, and every product equals the serial run;
  overlap   a two-day backfill of sales, a daily run of sales and one of customers at once: all
            succeed, sales' two dbt steps queued one behind the other (one audit schema), the
            products still equal the serial run;
  sigkill   a daemon-launched run, then `wdc materialize`, killed with SIGKILL in their dbt step:
            nothing published, and once run again the products equal the serial run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster._core.events import DagsterEventType

from devtools.devserver import DagsterDev, launch_all
from tests.conftest import DAY_1, DAY_2, TEST_SCALE_FACTOR, MeshLake
from tests.infra import PostgresCluster
from tests.test_nightly import (
    DOMAINS,
    _audit_files,
    _step_pid,
    _wait_for,
    _wait_for_dbt_writing,
)
from tests.test_production_storage import PRODUCTS as PUBLIC_MODELS
from tests.test_production_storage import _differences
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.pseudonymisation import DEVELOPMENT_KEY, KEY_VARIABLE
from wdc_orchestration.mesh.domain import LAKEHOUSE_POOL, build_dbt_assets, lakehouse_pool
from wdc_orchestration.mesh.workspace import instance_yaml, load_domain_specs
from wdc_orchestration.settings import environment, get_settings, isolated_lake_env

pytestmark = pytest.mark.daemon  # dagster dev on PostgreSQL

CATALOG_DB = "wdc_concurrent_ducklake"
DAGSTER_DB = "wdc_concurrent_dagster"
DAYS = (DAY_1, DAY_2)
# product -> the key a filter looks up (DuckLake prunes data files by their min/max statistics)
KEYS = {
    "customers.dim_customers": "customer_id",
    "catalog.dim_products": "product_id",
    "sales.fct_orders": "order_id",
    "sales.fct_order_items": "order_id",
    "finance.fct_payments": "payment_id",
    "finance.fct_daily_revenue": "order_date",
    "logistics.fct_shipments": "shipment_id",
}

Interval = tuple[datetime, datetime]


# --- the pool follows the catalog (no server) ---------------------------------------------------


@pytest.mark.parametrize(
    ("catalog", "setting", "pool"),
    [
        ("sqlite:/tmp/wdc.sqlite", "", LAKEHOUSE_POOL),
        ("sqlite:/tmp/wdc.sqlite", "per_domain", LAKEHOUSE_POOL),
        ("postgres:dbname=wdc", "", "ducklake/sales"),
        ("postgres:dbname=wdc", "per_domain", "ducklake/sales"),
        ("postgres:dbname=wdc", "single", LAKEHOUSE_POOL),
    ],
)
def test_the_dbt_step_queues_per_domain_on_postgres_unless_told_single(
    catalog: str, setting: str, pool: str
) -> None:
    (sales,) = [spec for spec in load_domain_specs() if spec.name == "sales"]
    with environment({"WDC_DUCKLAKE_CATALOG": catalog, "WDC_DUCKLAKE_POOL": setting}):
        assert lakehouse_pool("sales") == pool
        assert build_dbt_assets(sales).op.pool == pool
        # one writer per pool either way: one in all on SQLite, one per domain on PostgreSQL
        limit = yaml.safe_load(instance_yaml(os.environ))["concurrency"]["pools"]["default_limit"]
    assert limit == 1


# --- one dagster dev on a PostgreSQL catalog and instance ---------------------------------------


@dataclass
class Concurrent:
    root: Path
    postgres: PostgresCluster
    server: DagsterDev
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # day -> domain -> status
    dbt_steps: dict[str, dict[str, Interval]] = field(default_factory=dict)  # day -> domain -> ..

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.get()

    @contextmanager
    def compare(self, serial: MeshLake) -> Iterator[duckdb.DuckDBPyConnection]:
        """The PostgreSQL lakehouse as `lakehouse` (through the platform's resource, read-only),
        the serial run's SQLite catalog as `serial`."""
        from wdc_orchestration.resources.lakehouse import lakehouse_from_settings

        resource = lakehouse_from_settings(get_settings()).model_copy(update={"read_only": True})
        with resource.get_connection() as con:
            con.execute(
                f"ATTACH 'ducklake:sqlite:{serial.root / 'catalog' / 'wdc.sqlite'}' AS serial "
                f"(DATA_PATH '{serial.root / 'lake' / 'lakehouse'}/', READ_ONLY)"
            )
            yield con


@pytest.fixture(scope="module")
def concurrent(
    two_days: MeshLake, postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Concurrent]:
    root = tmp_path_factory.mktemp("wdc-pg-concurrent")
    catalog = postgres.create_database(CATALOG_DB)
    postgres.create_database(DAGSTER_DB)
    env = {
        **isolated_lake_env(root),
        "WDC_DUCKLAKE_CATALOG": f"postgres:{catalog}",
        "WDC_DUCKLAKE_POOL": "",  # the default: per_domain on a PostgreSQL catalog
        "DAGSTER_PG_HOST": postgres.host,
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_DB": DAGSTER_DB,
        "DAGSTER_PG_USERNAME": "postgres",
        "WDC_SEED": "42",
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
        "WDC_DBT_THREADS": "",  # written back by the platform: restored with the rest
        # A PostgreSQL catalog is remote storage, where the public key is no fallback: named
        # here, so the products stay comparable with the serial (embedded) run's pseudonyms.
        KEY_VARIABLE: DEVELOPMENT_KEY,
    }
    with environment(env), DagsterDev(home=root / "dagster_home", env=env) as server:
        yield Concurrent(root, postgres, server)


def _dbt_interval(instance: dg.DagsterInstance, run_id: str, step: str) -> Interval | None:
    """When `step` of the run held its pool slot: its start and its success or failure."""
    start = end = None
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key != step:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            start = datetime.fromtimestamp(entry.timestamp)
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            end = datetime.fromtimestamp(entry.timestamp)
    return (start, end) if start and end else None


def _overlap(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.fixture(scope="module")
def at_once(concurrent: Concurrent) -> Concurrent:
    instance = concurrent.instance()
    for day in DAYS:
        runs = launch_all(concurrent.server, DOMAINS, day)
        done = concurrent.server.wait(runs.values())
        concurrent.statuses[day] = {domain: done[run] for domain, run in runs.items()}
        steps = {d: _dbt_interval(instance, runs[d], f"{d}_dbt_models") for d in DOMAINS}
        concurrent.dbt_steps[day] = {d: i for d, i in steps.items() if i is not None}
    return concurrent


def _equal_to_serial(con: duckdb.DuckDBPyConnection, product: str) -> None:
    rows, only_concurrent, only_serial = _differences(
        con, f"lakehouse.{product}", f"serial.{product}"
    )
    assert rows > 0
    assert (only_concurrent, only_serial) == (0, 0), (
        f"{product}: {only_concurrent} rows only in the concurrent run, {only_serial} only in "
        "the serial run"
    )


def test_five_daily_jobs_at_once_on_postgres_succeed(at_once: Concurrent) -> None:
    for day in DAYS:
        assert at_once.statuses[day] == dict.fromkeys(DOMAINS, "SUCCESS"), day
    pools = set(at_once.instance().event_log_storage.get_concurrency_keys())
    assert {f"ducklake/{domain}" for domain in DOMAINS} <= pools
    assert LAKEHOUSE_POOL not in pools


def test_two_domains_dbt_steps_ran_at_the_same_time(at_once: Concurrent) -> None:
    """On one `ducklake` pool of one slot no two dbt steps overlap: this proves they no longer
    queue behind each other (customers and catalog read no other domain: they start together)."""
    overlapping = [
        (day, a, b)
        for day, steps in at_once.dbt_steps.items()
        for i, a in enumerate(sorted(steps))
        for b in sorted(steps)[i + 1 :]
        if _overlap(steps[a], steps[b])
    ]
    assert all(len(at_once.dbt_steps[day]) == len(DOMAINS) for day in DAYS)
    assert overlapping, at_once.dbt_steps


@pytest.mark.parametrize("product", PUBLIC_MODELS)
def test_each_product_equals_the_serial_run_whole_and_through_filters(
    at_once: Concurrent, two_days: MeshLake, product: str
) -> None:
    """Every row, both ways; then point filters on the key and on each day, which DuckLake answers
    from the data files whose min/max statistics admit the value: a file whose statistics a raced
    commit lost or got wrong is skipped, and its rows go missing from the answer."""
    # a fact's day column; a state product's versions start on a day (docs/time_model.md)
    time_model = load_descriptors()[product].time_model
    key, day_column = KEYS[product], time_model.partition_column or "valid_from"
    with at_once.compare(two_days) as con:
        _equal_to_serial(con, product)
        # the first, the last and the quartiles of the key's values (in whichever data file)
        values = [
            v
            for (v,) in con.execute(
                f"select {key} from (select {key}, row_number() over (order by {key}) as r, "
                f"count(*) over () as n from serial.{product}) "
                "where r in (1, n // 4, n // 2, 3 * n // 4, n) order by r"
            ).fetchall()
        ]
        filters = [(f"{key} = ?", [v]) for v in values]
        filters += [(f"{day_column} = ?::date", [day]) for day in DAYS]
        counts = {
            f"{where} {params}": tuple(
                con.execute(
                    f"select count(*) from {db}.{product} where {where}", params
                ).fetchone()[0]
                for db in ("lakehouse", "serial")
            )
            for where, params in filters
        }
    assert values
    assert {k: v for k, v in counts.items() if v[0] != v[1]} == {}
    # every key value is there
    assert all(counts[f"{key} = ? {[v]}"][0] > 0 for v in values)
    assert sum(counts[f"{day_column} = ?::date {[day]}"][0] for day in DAYS) > 0


# --- overlap: two runs of one domain and another domain at once ----------------------------------


@dataclass(frozen=True)
class Overlap:
    statuses: dict[str, str]
    sales_dbt_steps: list[Interval]


@pytest.fixture(scope="module")
def overlap(at_once: Concurrent) -> Overlap:
    server, instance = at_once.server, at_once.instance()
    backfill = {
        "dagster/asset_partition_range_start": DAY_1,
        "dagster/asset_partition_range_end": DAY_2,
    }
    runs = {
        "sales (backfill)": server.launch_daily("sales", tags=backfill),
        "sales": server.launch_daily("sales", DAY_2),
        "customers": server.launch_daily("customers", DAY_2),
    }
    done = server.wait(runs.values())
    steps = [
        _dbt_interval(instance, runs[name], "sales_dbt_models") for name in runs if "sales" in name
    ]
    return Overlap({name: done[run] for name, run in runs.items()}, [s for s in steps if s])


def test_overlapping_runs_succeed_and_one_domains_writers_still_queue(
    overlap: Overlap, at_once: Concurrent, two_days: MeshLake
) -> None:
    assert overlap.statuses == dict.fromkeys(overlap.statuses, "SUCCESS")
    # two runs of sales build the one audit schema, sales__audit: one after the other
    first, second = overlap.sales_dbt_steps
    assert not _overlap(first, second), overlap.sales_dbt_steps
    with at_once.compare(two_days) as con:
        for product in PUBLIC_MODELS:
            _equal_to_serial(con, product)


# --- SIGKILL ------------------------------------------------------------------------------------


def _publication_runs(con: duckdb.DuckDBPyConnection, product: str) -> set[str]:
    from wdc_orchestration.governance.publications import list_publications

    domain, name = product.split(".")
    return {p.run_id for p in list_publications(con, domain, name)}


def test_a_run_killed_in_its_dbt_step_publishes_nothing_and_its_rerun_equals_serial(
    overlap: Overlap, at_once: Concurrent, two_days: MeshLake
) -> None:
    server, instance = at_once.server, at_once.instance()
    written = _audit_files("logistics")
    run_id = server.launch_daily("logistics", DAY_2)
    pid = _wait_for(lambda: _step_pid(instance, run_id, "logistics_dbt_models"))
    _wait_for_dbt_writing("logistics", written)
    os.kill(pid, signal.SIGKILL)
    assert server.wait([run_id])[run_id] == "FAILURE"
    with at_once.compare(two_days) as con:
        assert run_id not in _publication_runs(con, "logistics.fct_shipments")
        _equal_to_serial(con, "logistics.fct_shipments")
    again = server.launch_daily("logistics", DAY_2)
    assert server.wait([again])[again] == "SUCCESS"
    with at_once.compare(two_days) as con:
        assert again in _publication_runs(con, "logistics.fct_shipments")
        _equal_to_serial(con, "logistics.fct_shipments")


def test_wdc_materialize_killed_mid_run_on_postgres_then_run_again_equals_serial(
    overlap: Overlap, at_once: Concurrent, two_days: MeshLake
) -> None:
    from wdc_orchestration.cli import main

    instance = at_once.instance()
    before = {r.run_id for r in instance.get_runs()}
    written = _audit_files("finance")
    command = [sys.executable, "-m", "wdc_orchestration.cli", "materialize", "--start", DAY_2]
    command += ["--domains", "finance", "--log-level", "ERROR"]
    child = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL)
    try:
        run = _wait_for(
            lambda: next((r for r in instance.get_runs() if r.run_id not in before), None)
        )
        _wait_for(lambda: _step_pid(instance, run.run_id, "finance_dbt_models"))
        _wait_for_dbt_writing("finance", written)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    with at_once.compare(two_days) as con:
        for product in ("finance.fct_payments", "finance.fct_daily_revenue"):
            assert run.run_id not in _publication_runs(con, product)
    again = ["materialize", "--start", DAY_2, "--domains", "finance", "--log-level", "ERROR"]
    assert main(again) == 0
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    with at_once.compare(two_days) as con:
        for product in ("finance.fct_payments", "finance.fct_daily_revenue"):
            _equal_to_serial(con, product)
