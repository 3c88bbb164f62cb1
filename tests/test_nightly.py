"""The nightly mesh as it really runs: `wdc dev` (= `dagster dev` on the workspace: webserver,
daemon, one code server per domain), every domain's daily job launched at once as the 02:00
schedules do, the runs executed by the daemon's run launcher. One server and one lake for the
module, in this order:

  nightly   all five daily jobs at once, two days in a row: every run succeeds (consumers wait for
            their producers in their readiness checks), and the products equal those of the
            serial `wdc materialize` of the same days (the session's lake);
  failure   day 3 with sales' landing made to fail: finance and logistics wait (in progress, not
            failed); the daemon's quarantine sensor takes sales' bad day out; sales is run again
            and publishes, and finance and logistics catch up by themselves;
  overlap   four runs at once: two domains' days, a two-day single-run backfill of sales, and a
            consumer of the first of those days: all succeed, with exact row counts;
  sigkill   a run killed with SIGKILL in its dbt step, then run again: exact products, no partial
            day, no duplicate rows; and the same for `wdc materialize` killed mid-run;
  ui        the Dagster UI's tests (tests/nightly_ui.py, imported here), once the two nights are
            built: chromium and GraphQL on this server, instead of a `dagster dev` of their own.

The first night runs on a new lake on purpose (not on a copy of the session's day-1 lake,
tests/lakes.py): it is the suite's one night of the five daily jobs at once on an empty embedded
lake through `dagster dev` and the platform's instance. bench.nightly's daemon path
(test_bench_smoke.py::TestNightlyBench) starts from the day before, TestTheThrowAwayDagsterDev
from a copy of day 1, test_grpc_workspace.py's new lake has its instance on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from devtools.devserver import DagsterDev, launch_all, spawn
from tests.conftest import DAY_1, DAY_2, TEST_SCALE_FACTOR, MeshLake
from tests.dagster_ui import wdc_executable
from tests.nightly_ui import (  # the UI's tests, on this module's deployment (tests/nightly_ui.py)
    browser_page,  # noqa: F401
    first_visit,  # noqa: F401
    page,  # noqa: F401
    test_a_data_product_page_shows_description_owner_columns_checks_and_row_count,  # noqa: F401
    test_a_new_instance_asks_to_join_the_community_once_and_skip_dismisses_it,  # noqa: F401
    test_materialize_a_raw_partition_in_the_ui_and_see_the_run_succeed_with_its_steps,  # noqa: F401
    test_the_global_asset_graph_shows_every_domain_and_the_cross_domain_edges,  # noqa: F401
    test_the_graphql_client_launches_a_domain_job_for_a_partition_and_reads_its_checks,  # noqa: F401
    test_wdc_dev_serves_every_domain_as_its_own_code_location,  # noqa: F401
    ui,  # noqa: F401
)
from tests.products import on_days
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.settings import PROJECT_ROOT, environment, get_settings, isolated_lake_env

pytestmark = pytest.mark.daemon  # dagster dev: webserver and daemon

T = TypeVar("T")
DOMAINS = ["customers", "catalog", "sales", "finance", "logistics"]
DAY_3, DAY_4, DAY_5 = "2026-11-03", "2026-11-04", "2026-11-05"
# every data product, each with where its rows of a day are (tests/products.py)
PRODUCTS = sorted(load_descriptors())
# product -> (raw entity whose rows it has one row per, its key)
ROW_PER = {
    "sales.fct_orders": ("sales/orders", "order_id"),
    "sales.fct_order_items": ("sales/order_items", "order_id, item_seq"),
    "finance.fct_payments": ("finance/payments", "payment_id"),
    "logistics.fct_shipments": ("logistics/shipments", "shipment_id"),
}


@dataclass
class Nightly:
    lake: MeshLake
    server: DagsterDev
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # day -> domain -> status

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.get()

    def raw_rows(self, entity: str, day: str) -> int:
        manifest = self.lake.root / "lake/raw" / entity / f"date={day}" / "_manifest.json"
        return json.loads(manifest.read_text())["rows"]

    def rows(self, product: str, day: str) -> tuple[int, int]:
        """(rows, distinct keys) of `product` on `day`."""
        entity, key = ROW_PER[product]
        with self.lake.connect() as con:
            return con.execute(
                f"select count(*), count(distinct ({key})) from ({on_days(product, [day])})"
            ).fetchone()


@dataclass
class WdcDev(DagsterDev):
    """`wdc dev -p PORT --host 127.0.0.1`, as an engineer starts the UI: the CLI writes the
    platform's dagster.yaml into the lake's DAGSTER_HOME and runs `dagster dev -w workspace.yaml`
    with the options passed on. The GraphQL calls are DagsterDev's."""

    def start(self, timeout: float = 600.0) -> WdcDev:
        os.environ["DAGSTER_HOME"] = str(self.home)  # this process's DagsterInstance.get()
        venv_bin = str(Path(sys.executable).parent)  # `wdc dev` runs `dagster` from the PATH
        env = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file = self.log_file or self.home / "dagster-dev.log"
        self.process = spawn(
            [wdc_executable(), "dev", "-p", str(self.port), "--host", "127.0.0.1"],
            cwd=PROJECT_ROOT,
            env=env,
            log_file=self.log_file,
        )
        self.wait_for_locations(timeout)
        return self


@pytest.fixture(scope="module")
def nightly(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nightly]:
    root = tmp_path_factory.mktemp("wdc-nightly")
    env = {
        **isolated_lake_env(root),
        "WDC_SEED": "42",
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
    }
    with environment(env), WdcDev(home=root / "dagster_home", env=env) as server:
        yield Nightly(MeshLake(root), server)


def _steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    kinds |= {DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED}
    found = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type in kinds:
            found[entry.step_key] = event.event_type.value
    return found


def _step_pid(instance: dg.DagsterInstance, run_id: str, step: str) -> int | None:
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START):
        if entry.step_key == step:
            return entry.dagster_event.pid
    return None


def _audit_files(domain: str) -> set[Path]:
    """The DuckLake data files of `domain`'s audit schema on the local lake: dbt writes them
    while it builds the day, before anything is published."""
    return set(Path(get_settings().ducklake_data_path).glob(f"{domain}__audit/**/*.parquet"))


def _wait_for_dbt_writing(domain: str, before: set[Path]) -> None:
    """Until the domain's dbt step has written its first audit data file since `before`: the
    moment a kill interrupts a build half-way (not a fixed sleep, which a slow machine
    outlasts before dbt starts writing)."""
    _wait_for(lambda: _audit_files(domain) - before, poll=0.05)


def _wait_for(condition: Callable[[], T | None], timeout: float = 600.0, poll: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"condition not met in {timeout}s")


# --- nightly: all five at once, two days -----------------------------------------------------


@pytest.fixture(scope="module")
def two_nights(nightly: Nightly) -> Nightly:
    for day in (DAY_1, DAY_2):
        runs = launch_all(nightly.server, DOMAINS, day)
        done = nightly.server.wait(runs.values())
        nightly.statuses[day] = {domain: done[run] for domain, run in runs.items()}
    return nightly


def test_all_five_daily_jobs_at_once_succeed_two_days_in_a_row(two_nights: Nightly) -> None:
    for day in (DAY_1, DAY_2):
        assert two_nights.statuses[day] == dict.fromkeys(DOMAINS, "SUCCESS"), day


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_products_equal_a_serial_wdc_materialize_of_the_same_days(
    two_nights: Nightly, two_days: MeshLake, product: str
) -> None:
    from wdc_orchestration.settings import get_settings

    settings = get_settings()
    serial_catalog = f"sqlite:{two_days.root / 'catalog' / 'wdc.sqlite'}"
    with two_nights.lake.connect() as con:
        con.execute(
            f"attach 'ducklake:{serial_catalog}' as serial "
            f"(data_path '{two_days.root / 'lake' / 'lakehouse'}/', read_only)"
        )
        nightly, serial = (on_days(product, [DAY_1, DAY_2], db) for db in ("lakehouse", "serial"))
        nightly_only, serial_only, rows = con.execute(
            f"select (select count(*) from ({nightly} except all {serial})), "
            f"(select count(*) from ({serial} except all {nightly})), "
            f"(select count(*) from ({nightly}))"
        ).fetchone()
    assert settings.lake_url != str(two_days.root / "lake")
    assert rows > 0 and (nightly_only, serial_only) == (0, 0)


# --- failure: a producer fails, its consumers wait, then catch up -----------------------------


@dataclass
class Failure:
    first_sales: str
    waiting: dict[str, str]  # consumer -> its run's status while sales was down
    waiting_steps: dict[str, dict[str, str]]
    quarantined: list[str]
    second_sales: str
    consumers: dict[str, str]  # consumer -> final status


@pytest.fixture(scope="module")
def producer_failure(two_nights: Nightly) -> Failure:
    server, instance = two_nights.server, two_nights.instance()
    runs = {d: server.launch_daily(d, DAY_3) for d in DOMAINS if d != "sales"}
    bad = {"ops": {"sales__raw__orders": {"config": {"defects": ["duplicate_ids"]}}}}
    first = server.launch_daily("sales", DAY_3, run_config=bad)
    first_status = server.wait([first])[first]
    # the daemon's quarantine sensor takes the bad day out of the read path (30 s interval)
    quarantine = two_nights.lake.root / "lake/quarantine/sales/orders" / f"date={DAY_3}"
    moved = _wait_for(lambda: sorted(p.name for p in quarantine.rglob("*")), timeout=300)
    waiting = {d: server.status(runs[d]) for d in ("finance", "logistics")}
    waiting_steps = {d: _steps(instance, runs[d]) for d in ("finance", "logistics")}
    second = server.launch_daily("sales", DAY_3)
    second_status = server.wait([second])[second]
    done = server.wait(runs.values())
    return Failure(
        first_sales=first_status,
        waiting=waiting,
        waiting_steps=waiting_steps,
        quarantined=moved,
        second_sales=second_status,
        consumers={d: done[runs[d]] for d in ("finance", "logistics")},
    )


def test_consumers_of_a_failed_producer_wait_without_failing(producer_failure: Failure) -> None:
    assert producer_failure.first_sales == "FAILURE"
    assert "orders.parquet" in producer_failure.quarantined
    for consumer in ("finance", "logistics"):
        assert producer_failure.waiting[consumer] == "STARTED", consumer
        steps = producer_failure.waiting_steps[consumer]
        # still in its readiness check on sales' product; its dbt step has not started
        assert steps.get(f"sales__fct_orders_ready_for_{consumer}") == "STEP_START", steps
        assert f"{consumer}_dbt_models" not in steps


def test_consumers_catch_up_by_themselves_once_the_producer_is_rerun(
    producer_failure: Failure, two_nights: Nightly
) -> None:
    assert producer_failure.second_sales == "SUCCESS"
    assert producer_failure.consumers == {"finance": "SUCCESS", "logistics": "SUCCESS"}
    for product, (entity, _) in ROW_PER.items():
        rows, distinct = two_nights.rows(product, DAY_3)
        assert rows == distinct == two_nights.raw_rows(entity, DAY_3) > 0, product


# --- overlap: four runs at once ---------------------------------------------------------------


@pytest.fixture(scope="module")
def overlap(producer_failure: Failure, two_nights: Nightly) -> dict[str, str]:
    server = two_nights.server
    server.wait([server.launch_daily(d, DAY_4) for d in ("customers", "catalog")])
    backfill = {
        "dagster/asset_partition_range_start": DAY_4,
        "dagster/asset_partition_range_end": DAY_5,
    }
    runs = {
        "customers": server.launch_daily("customers", DAY_5),
        "catalog": server.launch_daily("catalog", DAY_5),
        "sales (backfill)": server.launch_daily("sales", tags=backfill),
        "finance": server.launch_daily("finance", DAY_4),
    }
    done = server.wait(runs.values())
    return {name: done[run] for name, run in runs.items()}


def test_four_overlapping_runs_all_succeed_with_exact_row_counts(
    overlap: dict[str, str], two_nights: Nightly
) -> None:
    assert overlap == dict.fromkeys(overlap, "SUCCESS")
    for day in (DAY_4, DAY_5):
        for product in ("sales.fct_orders", "sales.fct_order_items"):
            rows, distinct = two_nights.rows(product, day)
            assert rows == distinct == two_nights.raw_rows(ROW_PER[product][0], day) > 0
    rows, distinct = two_nights.rows("finance.fct_payments", DAY_4)
    assert rows == distinct == two_nights.raw_rows("finance/payments", DAY_4) > 0


# --- SIGKILL ----------------------------------------------------------------------------------


def test_a_run_killed_in_its_dbt_step_and_run_again_leaves_exact_products(
    overlap: dict[str, str], two_nights: Nightly
) -> None:
    server, instance = two_nights.server, two_nights.instance()
    written = _audit_files("logistics")
    run_id = server.launch_daily("logistics", DAY_4)
    pid = _wait_for(lambda: _step_pid(instance, run_id, "logistics_dbt_models"))
    _wait_for_dbt_writing("logistics", written)
    os.kill(pid, signal.SIGKILL)
    assert server.wait([run_id])[run_id] == "FAILURE"
    again = server.launch_daily("logistics", DAY_4)
    assert server.wait([again])[again] == "SUCCESS"
    rows, distinct = two_nights.rows("logistics.fct_shipments", DAY_4)
    assert rows == distinct == two_nights.raw_rows("logistics/shipments", DAY_4) > 0


def test_wdc_materialize_killed_mid_run_then_run_again_leaves_exact_products(
    overlap: dict[str, str], two_nights: Nightly
) -> None:
    """The CLI runs in-process: nothing watches a killed `wdc`, its run stays STARTED and its
    pool slot claimed; the next `wdc` ends that run and frees the slot, then builds the day
    (finance's DAY_5, whose sales day the overlap fixture built)."""
    from wdc_orchestration.cli import main

    instance = two_nights.instance()
    before = {r.run_id for r in instance.get_runs()}
    written = _audit_files("finance")
    command = [sys.executable, "-m", "wdc_orchestration.cli", "materialize", "--start", DAY_5]
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
    again = ["materialize", "--start", DAY_5, "--domains", "finance", "--log-level", "ERROR"]
    assert main(again) == 0
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    rows, distinct = two_nights.rows("finance.fct_payments", DAY_5)
    assert rows == distinct == two_nights.raw_rows("finance/payments", DAY_5) > 0
