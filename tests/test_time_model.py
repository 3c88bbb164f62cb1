"""The mesh in time (docs/time_model.md): whatever order days are built in — in order, reversed,
with gaps filled later, old days rerun, days overlapping in separate processes, a domain's day
arriving late — the products equal, port by port and row by row, one serial run of the same days.

Every case runs for real on a lake of its own at SF 0.01 (`wdc materialize` processes, dbt,
DuckLake), and is compared with the module's serial reference: the three days in order, one
`wdc materialize` after another. Cases that need the first days built as a start copy the
session's shared lake of those days (tests/lakes.py) instead of building them again."""

from __future__ import annotations

import random
from pathlib import Path

import dagster as dg
import pytest

from tests.lakes import PARTS, PREFIX_DAYS, copy_lake, prefix_root
from tests.mesh_compare import Lake, assert_same_products, attached, file_port_files
from wdc_orchestration.settings import environment

pytestmark = pytest.mark.e2e  # every case materialises lakes of its own

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
DOMAINS = ["customers", "catalog", "sales", "finance", "logistics"]


# xdist (--dist loadscope) sends each class of this module to a worker of its own: the cases
# build lakes of their own and only read the serial reference and the shorter prefixes of it,
# which the first worker to need each builds once, into a folder every worker sees, under a file
# lock (tests/lakes.py).


@pytest.fixture(scope="session")
def serial(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Lake:
    """The reference: the three days in order, one `wdc materialize` after the other, each on
    the lake of the days before (read-only for every test)."""
    assert DAYS == PREFIX_DAYS
    return Lake(prefix_root(tmp_path_factory, worker_id, len(DAYS)))


def _copy(source: Lake | Path, target: Path, parts: tuple[str, ...] = PARTS) -> Lake:
    """`source`'s lake, catalog and instance (or `parts` of them) under `target`."""
    return copy_lake(Lake(source) if isinstance(source, Path) else source, target, parts)


# --- what a state product is -------------------------------------------------------------------


def test_a_state_product_is_a_history_of_versions_with_one_current_per_key(serial: Lake) -> None:
    with attached(mesh=serial) as con:
        for product, key in (
            ("customers.dim_customers", "customer_id"),
            ("catalog.dim_products", "product_id"),
        ):
            versions, keys, current, closed = con.execute(
                f"select count(*), count(distinct {key}), count(*) filter (where is_current), "
                f"count(*) filter (where valid_to is not null) from mesh.{product}"
            ).fetchone()
            assert current == keys > 0, product
            assert versions == keys + closed, product  # every closed version has a successor
        # prices change from day to day: the catalogue's history has versions of earlier days
        (older,) = con.execute(
            "select count(*) from mesh.catalog.dim_products where valid_to is not null"
        ).fetchone()
        assert older > 0


def test_both_ports_of_a_state_product_serve_its_whole_history(serial: Lake) -> None:
    """The SQL port and the file port (plain Parquet, read without the catalog) hold the same
    versions, and a consumer asks either "as of day D" with the same predicate."""
    as_of = f"valid_from <= date '{DAYS[0]}' and (valid_to is null or date '{DAYS[0]}' < valid_to)"
    with attached(mesh=serial) as con:
        for product in ("customers.dim_customers", "catalog.dim_products"):
            files = (
                "read_parquet(["
                + ", ".join(f"'{f}'" for f in file_port_files(serial, product))
                + "])"
            )
            sql_rows, file_rows, sql_as_of, file_as_of, only_sql = con.execute(
                f"select (select count(*) from mesh.{product}), (select count(*) from {files}), "
                f"(select count(*) from mesh.{product} where {as_of}), "
                f"(select count(*) from {files} where {as_of}), "
                f"(select count(*) from (from mesh.{product} except all from {files}))"
            ).fetchone()
            assert sql_rows == file_rows > 0 and only_sql == 0, product
            assert sql_as_of == file_as_of > 0, product


def test_an_order_line_joins_the_price_of_its_own_day_not_the_current_one(serial: Lake) -> None:
    """The OMS charges the catalogue's price of the day: the as-of version of the product has it
    for every line, and the current version does not for the lines of older days."""
    with attached(mesh=serial) as con:
        lines, as_of_mismatch, current_mismatch = con.execute(
            """
            select
                count(*),
                count(*) filter (where as_of.current_price is distinct from i.unit_price),
                count(*) filter (where now.current_price is distinct from i.unit_price)
            from mesh.sales.fct_order_items as i
            left join mesh.catalog.dim_products as as_of
                on as_of.product_id = i.product_id
                and i.order_date >= as_of.valid_from
                and (as_of.valid_to is null or i.order_date < as_of.valid_to)
            left join mesh.catalog.dim_products as now
                on now.product_id = i.product_id and now.is_current
            """
        ).fetchone()
    assert lines > 0
    assert as_of_mismatch == 0
    assert current_mismatch > 0


# --- reruns and overlaps ------------------------------------------------------------------------


class TestAnOldDayRerun:
    """An old day rerun after newer ones."""

    def test_rerunning_an_old_day_after_newer_ones_changes_no_product(
        self, serial: Lake, tmp_path: Path
    ) -> None:
        lake = _copy(serial, tmp_path / "rerun")
        assert lake.materialize_at_once(DAYS[0]) == [0], lake.output()
        assert_same_products(lake, serial)


class TestOverlappingDays:
    """Three days at once on a new lake."""

    def test_three_days_overlapping_on_a_new_lake_equal_the_serial_run(
        self, serial: Lake, tmp_path: Path
    ) -> None:
        lake = Lake(tmp_path / "overlap")
        assert lake.materialize_at_once(*DAYS) == [0, 0, 0], lake.output()
        assert_same_products(lake, serial)


def plan(seed: int) -> list[list[str]]:
    """A random order of the days as steps of days run at once (separate processes): the days
    shuffled, some neighbours overlapping, and one day run again later (overlapping another day
    or alone). Every plan has at least one overlap and one rerun."""
    rng = random.Random(seed)
    days = list(DAYS)
    rng.shuffle(days)
    steps: list[list[str]] = []
    while days:
        size = min(len(days), rng.choice([1, 2]))
        steps.append(days[:size])
        days = days[size:]
    if all(len(step) == 1 for step in steps):
        steps = [steps[0] + steps[1], *steps[2:]]
    rerun = rng.choice(DAYS)
    first = next(i for i, step in enumerate(steps) if rerun in step)
    at = rng.randint(first + 1, len(steps))
    if at < len(steps) and rerun not in steps[at] and rng.random() < 0.5:
        steps[at] = [*steps[at], rerun]
    else:
        steps.insert(at, [rerun])
    return steps


def test_every_plan_has_an_overlap_a_rerun_and_every_day() -> None:
    for seed in range(50):
        steps = plan(seed)
        runs = [day for step in steps for day in step]
        assert set(runs) == set(DAYS) and len(runs) == len(DAYS) + 1, steps
        assert any(len(step) > 1 for step in steps), steps
        assert all(len(set(step)) == len(step) for step in steps), steps


# The plans a session may run; each has passed on its own. A session runs one of them, picked by
# pytest-randomly's seed (printed; `--randomly-seed=<n>` replays it), so successive runs take
# turns: each plan costs four day-runs of the whole mesh, the suite's longest single scope.
PLAN_SEEDS = (7, 2026)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "plan_seed" not in metafunc.fixturenames:
        return
    if metafunc.config.getoption("plan_seeds", None) == "all":
        seeds = list(PLAN_SEEDS)
    else:
        # every xdist worker sees the controller's seed, so all collect the same test
        session_seed = metafunc.config.getoption("randomly_seed", None)
        seeds = [PLAN_SEEDS[session_seed % len(PLAN_SEEDS) if isinstance(session_seed, int) else 0]]
    metafunc.parametrize("plan_seed", seeds)


class TestRandomOrders:
    """Seeded random orders with reruns and overlaps."""

    def test_a_random_order_with_reruns_and_overlaps_equals_the_serial_run(
        self, serial: Lake, tmp_path: Path, plan_seed: int
    ) -> None:
        seed = plan_seed
        steps = plan(seed)
        lake = Lake(tmp_path / f"plan-{seed}")
        for step in steps:
            assert lake.materialize_at_once(*step) == [0] * len(step), (steps, lake.output())
        assert_same_products(lake, serial)


# --- late data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_customers_day(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Lake:
    """Days 1 and 2 of the whole mesh (a copy of the session's two-day lake: `wdc materialize`
    of each, its instance included); day 3 of every domain but customers (its CRM export is
    late: sales, finance and logistics cannot build day 3); then day 3 of customers alone."""
    lake = _copy(prefix_root(tmp_path_factory, worker_id, 2), tmp_path_factory.mktemp("late"))
    others = ",".join(d for d in DOMAINS if d != "customers")
    assert lake.materialize_at_once(DAYS[2], extra=["--domains", others]) == [1], lake.output()
    return lake


class TestALateCustomersDay:
    """A customers day that arrives after the later days of the others."""

    def test_without_its_customers_day_sales_publishes_nothing_of_it(
        self, late_customers_day: Lake
    ) -> None:
        with attached(mesh=late_customers_day) as con:
            published = dict(
                con.execute(
                    "select order_date::varchar, count(*) from mesh.sales.fct_orders group by 1"
                ).fetchall()
            )
        assert set(published) == set(DAYS[:2])

    def test_the_late_day_rebuilds_its_consumers_downstream_and_the_mesh_equals_serial(
        self, late_customers_day: Lake, serial: Lake, tmp_path: Path
    ) -> None:
        lake = _copy(late_customers_day, tmp_path / "late")
        child = lake.start("materialize", "--start", DAYS[2], "--domains", "customers")
        assert child.wait(timeout=1800) == 0, lake.output()
        output = lake.output()
        assert "rebuilding sales 2026-11-03" in output
        assert (
            "rebuilding finance 2026-11-03" in output
            and "rebuilding logistics 2026-11-03" in output
        )
        assert_same_products(lake, serial)

    def test_the_late_upstream_sensor_requests_the_consumers_day_once_its_producer_published(
        self, late_customers_day: Lake, tmp_path: Path
    ) -> None:
        """The daemon's path: customers' day 3 published by a run of its own; sales' sensor then
        requests sales' daily job for day 3; finance's waits until sales published it."""
        from wdc_orchestration.mesh.workspace import load_domain_specs

        lake = _copy(late_customers_day, tmp_path / "sensor")
        with environment(lake.env()):
            from wdc_orchestration.mesh.domain import build_domain_definitions

            specs = {spec.name: spec for spec in load_domain_specs()}
            defs = {
                name: build_domain_definitions(specs[name])
                for name in ("customers", "sales", "finance")
            }
            instance = dg.DagsterInstance.get()
            sales_sensor = defs["sales"].get_sensor_def("sales_late_upstream")
            finance_sensor = defs["finance"].get_sensor_def("finance_late_upstream")

            def requests(
                sensor: dg.SensorDefinition, cursor: str | None
            ) -> tuple[list, str | None]:
                result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
                return list(result.run_requests or []), result.cursor

            sales_requests, sales_cursor = requests(sales_sensor, None)
            assert sales_requests == []  # every publication so far was read, or is still missing
            finance_requests, finance_cursor = requests(finance_sensor, None)
            assert finance_requests == []

            customers = defs["customers"].resolve_job_def("customers_daily")
            assert customers.execute_in_process(partition_key=DAYS[2], instance=instance).success
            sales_requests, sales_cursor = requests(sales_sensor, sales_cursor)
            assert [(r.job_name, r.partition_key) for r in sales_requests] == [(None, DAYS[2])]
            assert requests(finance_sensor, finance_cursor)[0] == []

            sales = defs["sales"].resolve_job_def("sales_daily")
            assert sales.execute_in_process(partition_key=DAYS[2], instance=instance).success
            assert requests(sales_sensor, sales_cursor)[0] == []  # handled: not requested twice
            finance_requests, _ = requests(finance_sensor, finance_cursor)
            assert [r.partition_key for r in finance_requests] == [DAYS[2]]


# --- the throw-away `dagster dev` of the README, ten daily jobs at once -------------------------


def _dbt_steps(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[float, float]]:
    """(start, end) of each run's dbt step."""
    from dagster._core.events import DagsterEventType

    steps = []
    for run_id in run_ids:
        times = {
            entry.dagster_event.event_type: entry.timestamp
            for entry in instance.all_logs(run_id)
            if entry.dagster_event is not None
            and entry.step_key is not None
            and entry.step_key.endswith("_dbt_models")
            and entry.dagster_event.event_type
            in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
        }
        steps.append((times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]))
    return steps


class TestTheThrowAwayDagsterDev:
    """The README's `dagster dev -w workspace.yaml`, two days' daily jobs at once."""

    def test_the_nightly_pattern_on_dagster_devs_own_instance_equals_the_serial_run(
        self, serial: Lake, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str
    ) -> None:
        """The README's `dagster dev -w workspace.yaml`, on an instance with Dagster's defaults (no
        `dagster.yaml`, so no pool has a limit), over a lake that holds day 1 (a copy of the
        session's one-day lake and catalog, not its instance: the instance is dagster dev's own,
        new). The next two days' ten daily jobs at once (a backfill beside the nightly, as the
        02:00 schedules launch a night's five). Every run succeeds: the dbt steps, not queued by
        any pool, take turns at the writer lock (lakehouse/catalog_lock.py); the mesh equals the
        serial run.

        Nothing of the runs needs day 1's history in the instance: the readiness checks wait for
        the producers' publications of the run's own days (quality/upstream.py), the sensors
        judge the publications and finished runs of this instance. The first night on a new
        lake, five at once, is test_nightly.py's and test_grpc_workspace.py's."""
        from devtools.devserver import DagsterDev, launch_at_once

        lake = _copy(
            prefix_root(tmp_path_factory, worker_id, 1),
            tmp_path / "throwaway",
            parts=("lake", "catalog"),
        )
        home = lake.root / "dagster_home"
        with (
            environment(lake.env()),
            DagsterDev(home=home, env=lake.env(), platform_instance=False) as dev,
        ):
            assert not (home / "dagster.yaml").exists()
            days = [DAYS[1], DAYS[2]]
            runs = [run for day in days for run in launch_at_once(dev, DOMAINS, day).values()]
            done = dev.wait(runs)
            assert len(runs) == 10 and set(done.values()) == {"SUCCESS"}, (done, dev.log_file)
            steps = _dbt_steps(dg.DagsterInstance.get(), runs)
        # no pool queued them: some dbt steps were running at the same time (waiting for the lock)
        assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(steps) for b in steps[i + 1 :])
        assert_same_products(lake, serial)
