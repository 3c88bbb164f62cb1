"""The defect matrix: every defect kind, planted in a real day of the mesh, stops at the raw gate.

On a copy of the session's lake (two clean days), day 3 is run in three stages, each domain's
defects first, then the same day clean (the quarantine made it land afresh):

  A  `wdc materialize` (the CLI), every domain, defects on customers + catalog: the gates fail,
     so no dbt step runs anywhere (sales, finance, logistics consume those products). The CLI
     quarantines and records incidents itself (no daemon).          then customers+catalog clean
  C  sales (+ finance, logistics landing clean), defects on sales, through the job: the sales gate
     fails; finance/logistics cannot verify their order references, nothing builds. The
     quarantine SENSOR acts (evaluated with Dagster's sensor test utilities).   then sales clean
  E  finance + logistics, defects planted over their landed day (overwrite), sensor again.
                                                                    then finance+logistics clean
What each stage runs: the raw assets and gates of its domains, one `dbt test` of the sources per
domain, and for the clean reruns the domains' `dbt build`. Before and after every defective run
every product table is fingerprinted (rows + hash) and the published file ports listed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from domains._shared.defects import DEFECTS
from tests.conftest import DAY_1, DAY_2, MeshLake, copy_lake, started_run
from tests.products import on_days
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.quality.evaluate import KEYS, REFERENCES, SCHEMA, VALUES
from wdc_orchestration.quality.incidents import Incident, list_incidents
from wdc_orchestration.quality.notifier import ALERT_LOG_NAME
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import environment, get_settings, isolated_lake_env

DAY_3 = "2026-11-03"

# every data product (where its rows of a day are: tests/products.py)
PRODUCTS = sorted(load_descriptors())

# defect kind -> (raw asset, the check that must fail, words its message must contain)
EXPECTED = {
    "null_keys": ("finance/raw/payments", KEYS, "null payment_id"),
    "duplicate_ids": ("sales/raw/orders", KEYS, "duplicate order_id"),
    "negative_amounts": ("finance/raw/payments", VALUES, "negative or non-numeric amount"),
    "invalid_cpfs": ("customers/raw/customers", VALUES, "invalid cpf in cpf"),
    "unknown_customers": ("sales/raw/orders", REFERENCES, "customer_id not in customers.raw"),
    "dates_outside_partition": ("sales/raw/orders", VALUES, "order_ts outside 2026-11-03"),
    "renamed_column": ("catalog/raw/products", SCHEMA, "missing columns staging reads: ['preco']"),
    "missing_column": ("logistics/raw/shipments", SCHEMA, "['promised_date']"),
    "malformed_json": ("logistics/raw/carrier_slas", SCHEMA, "file unreadable"),
    "truncated_parquet": ("sales/raw/order_items", SCHEMA, "file unreadable"),
    "empty_file": ("catalog/raw/categories", SCHEMA, "categories.csv is empty (0 bytes)"),
}
# A domain's products, and the domains that consume them (directly or not).
AFFECTED = {
    "customers": ["customers", "sales", "finance", "logistics"],
    "catalog": ["catalog", "sales", "finance", "logistics"],
    "sales": ["sales", "finance", "logistics"],
    "finance": ["finance"],
    "logistics": ["logistics"],
}
# The kinds the raw gate stops (the others pass it and are stopped before publishing: test_wap.py).
RAW_GATE_KINDS = [kind for kind, d in DEFECTS.items() if d.caught_by == "raw gate"]
STAGE_A = ["invalid_cpfs", "renamed_column", "empty_file"]
STAGE_C = ["duplicate_ids", "unknown_customers", "dates_outside_partition", "truncated_parquet"]
STAGE_E = ["null_keys", "negative_amounts", "missing_column", "malformed_json"]


@dataclass
class Stage:
    """What a defective run reported, and the lake before and after it."""

    kinds: list[str]
    run_id: str
    evaluations: list[dg.AssetCheckEvaluation]
    steps: dict[str, str]  # step key -> STEP_SUCCESS | STEP_FAILURE | ... (absent: never ran)
    products_before: dict[str, tuple[int, str]]
    products_after: dict[str, tuple[int, str]]
    published_before: list[str]
    published_after: list[str]
    day_rows_after: dict[str, int]
    quarantined_after: dict[str, list[str]] = field(default_factory=dict)
    raw_left_after: dict[str, list[str]] = field(default_factory=dict)
    incidents_after: list[Incident] = field(default_factory=list)
    sensor: dict[str, object] = field(default_factory=dict)


@dataclass
class Matrix:
    lake: MeshLake
    stages: dict[str, Stage]
    clean_day_rows: dict[str, int]
    raw_rows: dict[str, int]
    published_final: list[str]


@pytest.fixture(scope="module")
def defect_lake(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshLake]:
    root = tmp_path_factory.mktemp("wdc-defects")
    copy_lake(two_days, root)
    with environment(isolated_lake_env(root)):
        yield MeshLake(root)


def _fingerprints(lake: MeshLake) -> dict[str, tuple[int, str]]:
    with lake.connect() as con:
        return {
            table: tuple(
                con.execute(
                    f"select count(*), coalesce(sum(hash(t)), 0)::varchar from lakehouse.{table} t"
                ).fetchone()
            )
            for table in PRODUCTS
        }


def _day_rows(lake: MeshLake, day: str) -> dict[str, int]:
    """Rows of `day` in each product."""
    with lake.connect() as con:
        return {
            table: con.execute(f"select count(*) from ({on_days(table, [day])})").fetchone()[0]
            for table in PRODUCTS
        }


def _published(lake: MeshLake) -> list[str]:
    root = lake.root / "lake" / "products"
    if not root.exists():
        return []
    return sorted(
        f"{p.relative_to(root)}:{p.read_text() if p.name == 'current.json' else ''}"
        for p in root.rglob("*")
        if p.is_file()
    )


def _storage() -> LocalLakeStorage:
    return LocalLakeStorage(root=get_settings().lake_url)


def _sensor_resources() -> dict[str, object]:
    """What the quality sensors take: the lake, and the settings (the alert log's folder)."""
    return {"lake": _storage(), "settings": get_settings()}


def _raw_state(kinds: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    lake = _storage()
    quarantined, left = {}, {}
    for kind in kinds:
        d = DEFECTS[kind]
        quarantined[kind] = lake.list_keys(f"quarantine/{d.domain}/{d.entity}/date={DAY_3}/")
        left[kind] = lake.list_keys(f"raw/{d.domain}/{d.entity}/date={DAY_3}/")
    return quarantined, left


def _run(
    domains: list[str], defects: list[str] = (), overwrite: bool = False
) -> dg.ExecuteInProcessResult:
    """One day of `domains` through the mesh job, as `wdc materialize` runs it."""
    from wdc_orchestration.mesh.workspace import MESH_JOB, mesh_definitions
    from wdc_orchestration.quality.cli_support import defects_run_config

    job = mesh_definitions(domains).resolve_job_def(MESH_JOB)
    ops = defects_run_config(job, list(defects)) if defects else {}
    if overwrite:
        for config in ops.values():
            config["config"]["overwrite"] = True
    return job.execute_in_process(
        partition_key=DAY_3,
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
        run_config={"ops": ops, "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )


def _steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    from dagster._core.events import DagsterEventType as T

    kinds = (T.STEP_SUCCESS, T.STEP_FAILURE, T.STEP_SKIPPED, T.STEP_UP_FOR_RETRY)
    steps = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type in kinds:
            steps[entry.step_key] = event.event_type.value
    return steps


def _evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    from wdc_orchestration.quality.enforcement import check_evaluations_of_run

    return [e.dagster_event.event_specific_data for e in check_evaluations_of_run(instance, run_id)]


def _tick_quarantine(domains: list[str], cursors: dict[str, str | None]) -> dict[str, object]:
    """Evaluate each domain's quarantine sensor as the daemon would: twice with its cursor, and
    once more from the stored cursor in a fresh context (a restart) and once with no cursor (a
    lost one). Returns the alerts written at each step."""
    from wdc_orchestration.quality.sensors import build_quarantine_sensor

    alerts = Path(os.environ["WDC_LOG_DIR"]) / ALERT_LOG_NAME

    def count() -> int:
        return len(alerts.read_text().splitlines()) if alerts.exists() else 0

    instance = dg.DagsterInstance.get()
    seen: dict[str, object] = {"before": count()}
    for domain in domains:
        sensor = build_quarantine_sensor(domain)
        with dg.build_sensor_context(
            instance=instance, cursor=cursors.get(domain), resources=_sensor_resources()
        ) as context:
            sensor.evaluate_tick(context)
            cursors[domain] = context.cursor
    seen["first_tick"] = count()
    quarantine_listing = sorted(_storage().list_keys("quarantine"))
    for domain in domains:
        sensor = build_quarantine_sensor(domain)
        for cursor in (cursors[domain], cursors[domain], None):  # again, restart, lost cursor
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=_sensor_resources()
            ) as context:
                sensor.evaluate_tick(context)
    seen["after_restarts"] = count()
    seen["quarantine_unchanged"] = sorted(_storage().list_keys("quarantine")) == quarantine_listing
    return seen


def _stage(lake: MeshLake, kinds: list[str], run: callable) -> Stage:
    before, published = _fingerprints(lake), _published(lake)
    run_id, extra = run()
    instance = dg.DagsterInstance.get()
    quarantined, left = _raw_state(kinds)
    return Stage(
        kinds=kinds,
        run_id=run_id,
        evaluations=_evaluations(instance, run_id),
        steps=_steps(instance, run_id),
        products_before=before,
        products_after=_fingerprints(lake),
        published_before=published,
        published_after=_published(lake),
        day_rows_after=_day_rows(lake, DAY_3),
        quarantined_after=quarantined,
        raw_left_after=left,
        incidents_after=list_incidents(_storage()),
        sensor=extra,
    )


@pytest.fixture(scope="module")
def matrix(defect_lake: MeshLake, caplog_module: list[logging.LogRecord]) -> Matrix:
    from wdc_orchestration.cli import main

    stages: dict[str, Stage] = {}
    cursors: dict[str, str | None] = {}

    def stage_a() -> tuple[str, dict[str, object]]:
        with started_run() as run:
            exit_code = main(
                [
                    "materialize",
                    "--start",
                    DAY_3,
                    "--defects",
                    ",".join(STAGE_A),
                    "--log-level",
                    "ERROR",
                ]
            )
        return run.run_id, {"exit_code": exit_code}

    stages["A"] = _stage(defect_lake, STAGE_A, stage_a)
    assert _run(["customers", "catalog"]).success, "customers+catalog clean rerun failed"

    def stage_c() -> tuple[str, dict[str, object]]:
        result = _run(["sales", "finance", "logistics"], STAGE_C, overwrite=True)
        seen = _tick_quarantine(["sales", "finance", "logistics"], cursors)
        seen["consumers_quarantined"] = [
            *_storage().list_keys(f"quarantine/finance/payments/date={DAY_3}/"),
            *_storage().list_keys(f"quarantine/logistics/shipments/date={DAY_3}/"),
        ]
        return result.run_id, seen

    stages["C"] = _stage(defect_lake, STAGE_C, stage_c)
    assert _run(["sales"]).success, "sales clean rerun failed"

    def stage_e() -> tuple[str, dict[str, object]]:
        result = _run(["finance", "logistics"], STAGE_E, overwrite=True)
        return result.run_id, _tick_quarantine(["finance", "logistics"], cursors)

    stages["E"] = _stage(defect_lake, STAGE_E, stage_e)
    assert _run(["finance", "logistics"]).success, "finance+logistics clean rerun failed"

    raw = _storage()
    raw_rows = {
        f"{d}.{e}": json.loads(raw.read_bytes(f"raw/{d}/{e}/date={DAY_3}/_manifest.json"))["rows"]
        for d, e in (("sales", "orders"), ("sales", "order_items"), ("finance", "payments"))
    }
    return Matrix(
        defect_lake, stages, _day_rows(defect_lake, DAY_3), raw_rows, _published(defect_lake)
    )


@pytest.fixture(scope="module")
def caplog_module() -> Iterator[list[logging.LogRecord]]:
    """The CLI's log records during the matrix (pytest's caplog is function-scoped)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.INFO)
    logger = logging.getLogger("wdc_orchestration.cli")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _stage_of(kind: str, matrix: Matrix) -> Stage:
    return next(stage for stage in matrix.stages.values() if kind in stage.kinds)


@pytest.mark.parametrize("kind", RAW_GATE_KINDS)
def test_the_run_reports_the_failing_check_by_name_with_a_clear_message(
    matrix: Matrix, kind: str
) -> None:
    asset, check, words = EXPECTED[kind]
    failed = [
        e
        for e in _stage_of(kind, matrix).evaluations
        if not e.passed and e.asset_key.to_user_string() == asset and e.check_name == check
    ]
    assert failed, f"{kind}: no failed {check} on {asset}"
    assert failed[0].severity == dg.AssetCheckSeverity.ERROR
    assert words in failed[0].description, failed[0].description


@pytest.mark.parametrize("kind", RAW_GATE_KINDS)
def test_no_bad_row_reaches_a_product_or_a_consumer_and_the_last_version_stays(
    matrix: Matrix, kind: str
) -> None:
    stage = _stage_of(kind, matrix)
    assert stage.products_after == stage.products_before, "a product changed"
    assert stage.published_after == stage.published_before, "a published file port changed"
    domain = DEFECTS[kind].domain
    reached = {
        table: rows
        for table, rows in stage.day_rows_after.items()
        if table.split(".")[0] in AFFECTED[domain] and rows
    }
    assert not reached, f"rows of {DAY_3} in {reached}"
    assert stage.steps.get(f"{domain}_dbt_models") != "STEP_SUCCESS"
    assert not any(
        step.endswith("_dbt_models") and status == "STEP_SUCCESS"
        for step, status in stage.steps.items()
    ), f"a dbt step ran: {stage.steps}"


@pytest.mark.parametrize("kind", RAW_GATE_KINDS)
def test_the_raw_files_are_still_there_quarantined(matrix: Matrix, kind: str) -> None:
    stage = _stage_of(kind, matrix)
    moved = stage.quarantined_after[kind]
    assert not stage.raw_left_after[kind], "the defective raw day is still in raw/"
    assert any(k.endswith("_manifest.json") for k in moved)
    assert any(not k.endswith("_manifest.json") for k in moved), "the data file was not kept"
    manifest = json.loads(
        _storage().read_bytes(next(k for k in moved if k.endswith("_manifest.json")))
    )
    assert kind in manifest["defects"]


@pytest.mark.parametrize("kind", RAW_GATE_KINDS)
def test_the_incident_is_recorded(matrix: Matrix, kind: str) -> None:
    asset, check, _ = EXPECTED[kind]
    stage = _stage_of(kind, matrix)
    incidents = [
        i
        for i in stage.incidents_after
        if i.asset == asset and i.check == check and i.run_id == stage.run_id
    ]
    assert len(incidents) == 1
    (incident,) = incidents
    assert incident.partitions == (DAY_3,)
    assert incident.alerted_at and incident.quarantined
    if DEFECTS[kind].frame is not None and check != SCHEMA:
        assert incident.rows_affected > 0


def test_consuming_domains_dbt_steps_are_skipped(matrix: Matrix) -> None:
    # Stage A ran every domain: customers' and catalog's gates failed, so no dbt step ran, not
    # even sales' (it consumes their products) nor finance's and logistics' (they consume sales').
    steps = matrix.stages["A"].steps
    for domain in ("customers", "catalog", "sales", "finance", "logistics"):
        assert steps.get(f"{domain}_dbt_models") in (None, "STEP_SKIPPED"), steps
    assert steps["sales__raw__orders__gate"] == "STEP_SUCCESS"  # sales' own data was fine


def test_consumers_wait_for_their_producer_and_are_not_blamed(matrix: Matrix) -> None:
    # Stage C: sales' gate failed, so finance's and logistics' reference checks (which wait for
    # sales' products in the run) never ran, nor did their dbt steps; their raw days are intact.
    stage = matrix.stages["C"]
    for step in ("finance__raw__payments_references_resolve", "finance_dbt_models"):
        assert stage.steps.get(step) in (None, "STEP_SKIPPED"), stage.steps
    assert stage.sensor["consumers_quarantined"] == []


def test_a_consumer_alone_fails_at_once_on_a_day_its_producer_has_not_published(
    matrix: Matrix,
) -> None:
    """finance alone (the CLI's way: no waiting, the domains run in order in one process) on a
    day sales has not published: its readiness check on sales' product fails at once, naming
    what is missing; nothing of finance is built, and its raw day is not quarantined (nothing
    is wrong with it)."""
    day = "2026-11-05"
    from wdc_orchestration.mesh.workspace import MESH_JOB, mesh_definitions
    from wdc_orchestration.quality.upstream import readiness_check_name

    result = (
        mesh_definitions(["finance"])
        .resolve_job_def(MESH_JOB)
        .execute_in_process(
            partition_key=day, instance=dg.DagsterInstance.get(), raise_on_error=False
        )
    )
    (late,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == readiness_check_name("finance")
        and e.asset_key.to_user_string() == "sales/fct_orders"
    ]
    assert not late.passed
    assert f"sales/fct_orders is not published for {day}" in late.description
    succeeded = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert "finance_dbt_models" not in succeeded
    assert not any(
        e.check_name == REFERENCES and e.passed for e in result.get_asset_check_evaluations()
    )
    from wdc_orchestration.quality.cli_support import enforce_quality

    enforce_quality(dg.DagsterInstance.get(), result.run_id)
    assert _storage().list_keys(f"raw/finance/payments/date={day}/")
    assert not _storage().list_keys(f"quarantine/finance/payments/date={day}/")
    assert not _storage().list_keys(f"quarantine/sales/orders/date={day}/")


def test_wdc_materialize_exits_non_zero_and_says_which_checks_failed(
    matrix: Matrix, caplog_module: list[logging.LogRecord]
) -> None:
    assert matrix.stages["A"].sensor["exit_code"] == 1
    text = "\n".join(r.getMessage() for r in caplog_module)
    assert "check failed: values_in_range on customers/raw/customers (ERROR)" in text
    assert "invalid cpf in cpf" in text
    assert "check failed: raw_schema_matches_staging on catalog/raw/products (ERROR)" in text


@pytest.mark.parametrize("stage", ["C", "E"])
def test_quarantine_and_alert_fire_once_not_again_after_a_restart(
    matrix: Matrix, stage: str
) -> None:
    seen = matrix.stages[stage].sensor
    assert seen["first_tick"] > seen["before"], "the sensor raised no alert"
    assert seen["after_restarts"] == seen["first_tick"], "alerts repeated after a restart"
    assert seen["quarantine_unchanged"]


def test_a_clean_day_afterwards_publishes_normally(matrix: Matrix) -> None:
    rows = matrix.clean_day_rows
    assert rows["sales.fct_orders"] == matrix.raw_rows["sales.orders"]
    assert rows["sales.fct_order_items"] == matrix.raw_rows["sales.order_items"]
    assert matrix.raw_rows["sales.orders"] > 0
    assert matrix.published_final != matrix.stages["E"].published_after
    for day in (DAY_1, DAY_2):
        assert _day_rows(matrix.lake, day)["sales.fct_orders"] > 0


def test_the_run_failure_sensor_records_a_failed_landing_once(matrix: Matrix) -> None:
    """A landing that crashes (an unknown defect name): the run fails; the run-failure sensor,
    evaluated twice as after a restart, records one incident and alerts once."""
    from dagster._core.events import DagsterEventType

    from wdc_orchestration.mesh.workspace import MESH_JOB, mesh_definitions
    from wdc_orchestration.quality.sensors import build_run_failure_sensor

    job = mesh_definitions(["sales"]).resolve_job_def(MESH_JOB)
    raw_ops = {"sales__raw__orders": {"config": {"defects": ["no_such_defect"]}}}
    instance = dg.DagsterInstance.get()
    result = job.execute_in_process(
        partition_key="2026-11-04",
        instance=instance,
        raise_on_error=False,
        run_config={"ops": raw_ops},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    sensor = build_run_failure_sensor("sales")
    alerts = Path(os.environ["WDC_LOG_DIR"]) / ALERT_LOG_NAME

    def alerted() -> list[str]:
        return [line for line in alerts.read_text().splitlines() if result.run_id in line]

    for _ in range(2):  # a second evaluation of the same failure (a restarted daemon)
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=failure,
            resources=_sensor_resources(),
        ).for_run_failure()
        sensor(context)
    (line,) = alerted()
    assert "sales__raw__orders" in line and "no_such_defect" in line
    (incident,) = [i for i in list_incidents(_storage()) if i.run_id == result.run_id]
    assert incident.kind == "run_failed" and incident.partitions == ("2026-11-04",)
