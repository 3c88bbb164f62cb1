"""Write-audit-publish, recovery and time travel, on a copy of the session's lake (two clean days):

  day 3  `unknown_channel` in sales' orders: the raw gate only warns (a new channel is news), the
         product's accepted_values test fails in the audit schema: nothing of sales is published,
         every public table keeps its DuckLake snapshot and rows, the audit rows stay to inspect,
         and the raw day stays where it landed (a test of a model blames the model or its
         contract, not the source: it passed its gate), byte for byte;
  day 4  clean: runs and publishes, the bad day does not block it;
  retry  `wdc quarantine retry --domain sales --day <day 3>` with nothing fixed builds the same
         raw day again and fails again, moving nothing;
  retry  `... --reland`: the source re-sent the day ("fixed": no defect this time), so the landed
         day is moved aside and landed again, and sales and its consumers are rebuilt;
then every product holds all four days with exact row counts, and each publication is a DuckLake
snapshot a consumer can read the product at."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from domains._shared.defects import UNKNOWN_CHANNEL
from tests.conftest import DAY_1, DAY_2, MeshLake, copy_lake
from wdc_orchestration.settings import environment, isolated_lake_env

DAY_3, DAY_4 = "2026-11-03", "2026-11-04"
PUBLIC = [
    "customers.dim_customers",
    "catalog.dim_products",
    "sales.fct_orders",
    "sales.fct_order_items",
    "finance.fct_payments",
    "finance.fct_daily_revenue",
    "logistics.fct_shipments",
]
SALES = ["sales.fct_orders", "sales.fct_order_items"]


@dataclass
class Scenario:
    lake: MeshLake
    snapshot_before: int
    fingerprints_before: dict[str, tuple[int, str]]
    exit_bad_day: int
    after_bad_day: dict[str, object]
    exit_clean_day: int
    exit_retry_unfixed: int
    raw_after_unfixed_retry: dict[str, str]
    exit_retry: int
    retry_records: list[dict]
    bad_day_incidents: list[object]
    still_open: list[str]


def _fingerprints(lake: MeshLake, tables: list[str]) -> dict[str, tuple[int, str]]:
    with lake.connect() as con:
        return {
            t: tuple(
                con.execute(
                    f"select count(*), coalesce(sum(hash(x)), 0)::varchar from lakehouse.{t} x"
                ).fetchone()
            )
            for t in tables
        }


def _snapshot(lake: MeshLake) -> int:
    with lake.connect() as con:
        return con.execute("select id from lakehouse.current_snapshot()").fetchone()[0]


def _changes_since(lake: MeshLake, table: str, snapshot: int) -> int:
    """Rows DuckLake records as changed in `table` after `snapshot` (its change feed)."""
    schema, name = table.split(".")
    with lake.connect() as con:
        now = con.execute("select id from lakehouse.current_snapshot()").fetchone()[0]
        if now == snapshot:
            return 0
        return con.execute(
            "select count(*) from ducklake_table_changes('lakehouse', ?, ?, ?, ?)",
            [schema, name, snapshot + 1, now],
        ).fetchone()[0]


def _raw_files(root: Path, domain: str, day: str) -> dict[str, str]:
    """Every file of `domain`'s raw day (all entities) -> its sha256: where the day landed."""
    import hashlib

    base = root / "lake/raw" / domain
    return {
        p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.glob(f"*/date={day}/*"))
    }


def _raw_rows(lake: MeshLake, domain: str, entity: str, day: str) -> int:
    manifest = lake.root / "lake/raw" / domain / entity / f"date={day}" / "_manifest.json"
    return json.loads(manifest.read_text())["rows"]


@pytest.fixture(scope="module")
def scenario(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    from wdc_orchestration.cli import main

    root = tmp_path_factory.mktemp("wdc-wap")
    lake = copy_lake(two_days, root)
    with environment(isolated_lake_env(root)):
        before = _snapshot(lake)
        fingerprints = _fingerprints(lake, PUBLIC)
        from wdc_orchestration.quality.incidents import list_incidents
        from wdc_orchestration.resources.lake import LocalLakeStorage

        storage = LocalLakeStorage(root=str(root / "lake"))
        known = {i.incident_id for i in list_incidents(storage)}
        bad = main(
            [
                "materialize",
                "--start",
                DAY_3,
                "--defects",
                "unknown_channel",
                "--log-level",
                "ERROR",
            ]
        )
        with lake.connect() as con:
            audit_channels = dict(
                con.execute(
                    "select channel, count(*) from lakehouse.sales__audit.fct_orders group by 1"
                ).fetchall()
            )
        after_bad = {
            "fingerprints": _fingerprints(lake, PUBLIC),
            "changes": {t: _changes_since(lake, t, before) for t in PUBLIC},
            "audit_channels": audit_channels,
            "quarantined": sorted(
                p.relative_to(root / "lake").as_posix()
                for p in (root / "lake/quarantine").rglob("*")
                if p.is_file()
            ),
            "raw_left": _raw_files(root, "sales", DAY_3),
        }
        incidents = [i for i in list_incidents(storage) if i.incident_id not in known]
        clean = main(["materialize", "--start", DAY_4, "--log-level", "ERROR"])
        unfixed = main(["quarantine", "retry", "--domain", "sales", "--day", DAY_3])
        raw_after_unfixed = _raw_files(root, "sales", DAY_3)
        retry = main(["quarantine", "retry", "--domain", "sales", "--day", DAY_3, "--reland"])
        from wdc_orchestration.quality.retry import list_quarantined

        still_open = [q.prefix for q in list_quarantined(storage) if not q.resolved]
        records = [
            json.loads(p.read_text()) for p in (root / "lake/quality/retries").rglob("*.json")
        ]
        yield Scenario(
            lake,
            before,
            fingerprints,
            bad,
            after_bad,
            clean,
            unfixed,
            raw_after_unfixed,
            retry,
            records,
            incidents,
            still_open,
        )


def test_a_failed_test_publishes_nothing_and_leaves_every_public_table_as_it_was(
    scenario: Scenario,
) -> None:
    assert scenario.exit_bad_day == 1
    after = scenario.after_bad_day
    for table in SALES + ["finance.fct_payments", "logistics.fct_shipments"]:
        # the same DuckLake snapshot of the table: no change recorded after the one before
        assert after["changes"][table] == 0, table
        assert after["fingerprints"][table] == scenario.fingerprints_before[table], table


def test_the_audit_rows_stay_for_inspection_in_a_schema_that_is_not_a_port(
    scenario: Scenario,
) -> None:
    channels = scenario.after_bad_day["audit_channels"]
    assert channels.get(UNKNOWN_CHANNEL, 0) > 0
    with scenario.lake.connect() as con:
        public = con.execute(
            "select count(*) from lakehouse.sales.fct_orders where channel = ?", [UNKNOWN_CHANNEL]
        ).fetchone()[0]
    assert public == 0


def test_a_failed_test_of_a_model_leaves_the_raw_day_where_it_landed(scenario: Scenario) -> None:
    after = scenario.after_bad_day
    raw = after["raw_left"]
    # both entities of the day, data file and manifest, unmoved and unchanged
    assert {name.split("/")[0] for name in raw} == {"orders", "order_items"}
    assert f"orders/date={DAY_3}/orders.parquet" in raw
    assert f"orders/date={DAY_3}/_manifest.json" in raw
    assert after["quarantined"] == []
    assert scenario.raw_after_unfixed_retry == raw


def test_the_failure_names_the_test_and_moves_nothing(scenario: Scenario) -> None:
    failed = [i for i in scenario.bad_day_incidents if i.domain == "sales"]
    tests = [i for i in failed if i.kind == "check_failed" and i.asset == "sales/fct_orders"]
    assert any("accepted_values" in i.check and "channel" in i.check for i in tests), failed
    assert all(i.quarantined == () for i in scenario.bad_day_incidents)


def test_a_retry_with_nothing_fixed_fails_again_and_moves_nothing(scenario: Scenario) -> None:
    assert scenario.exit_retry_unfixed == 1
    failed = [r for r in scenario.retry_records if not r["success"]]
    assert len(failed) == 1 and failed[0]["quarantined"] == []


def test_the_next_clean_day_publishes(scenario: Scenario) -> None:
    assert scenario.exit_clean_day == 0
    with scenario.lake.connect() as con:
        day_4 = con.execute(
            f"select count(*) from lakehouse.sales.fct_orders where order_date = '{DAY_4}'"
        ).fetchone()[0]
    assert day_4 == _raw_rows(scenario.lake, "sales", "orders", DAY_4) > 0


def test_the_retry_lands_and_rebuilds_the_day_and_records_it(scenario: Scenario) -> None:
    assert scenario.exit_retry == 0
    (record,) = [r for r in scenario.retry_records if r["success"]]
    assert record["domain"] == "sales" and record["day"] == DAY_3
    # --reland moved the landed day aside (kept) before landing the re-sent export
    assert {Path(q).parts[2] for q in record["quarantined"]} == {"orders", "order_items"}
    assert record["domains"] == ["sales", "finance", "logistics"]
    from wdc_orchestration.quality.incidents import list_incidents
    from wdc_orchestration.resources.lake import LocalLakeStorage

    lake = LocalLakeStorage(root=str(scenario.lake.root / "lake"))
    resolved = [i for i in list_incidents(lake) if i.incident_id in record["incidents"]]
    assert resolved and all(i.resolved_at and record["run_id"] in i.resolution for i in resolved)
    manifest = json.loads(
        (scenario.lake.root / f"lake/raw/sales/orders/date={DAY_3}/_manifest.json").read_text()
    )
    assert manifest["defects"] == []  # landed again from the fixed source
    # the day moved aside belongs to the resolved incidents: nothing is left open
    assert scenario.still_open == []


@pytest.mark.parametrize(
    ("table", "day_column", "domain", "entity"),
    [
        ("sales.fct_orders", "order_date", "sales", "orders"),
        ("sales.fct_order_items", "order_date", "sales", "order_items"),
        ("finance.fct_payments", "payment_date", "finance", "payments"),
        ("logistics.fct_shipments", "shipment_date", "logistics", "shipments"),
    ],
)
def test_the_products_hold_every_day_with_exact_row_counts(
    scenario: Scenario, table: str, day_column: str, domain: str, entity: str
) -> None:
    with scenario.lake.connect() as con:
        per_day = dict(
            con.execute(
                f"select {day_column}::varchar, count(*) from lakehouse.{table} group by 1"
            ).fetchall()
        )
    expected = {
        day: _raw_rows(scenario.lake, domain, entity, day) for day in (DAY_1, DAY_2, DAY_3, DAY_4)
    }
    assert per_day == expected


def test_each_publication_is_a_snapshot_a_consumer_can_time_travel_to(scenario: Scenario) -> None:
    from wdc_orchestration.governance.publications import list_publications

    with scenario.lake.connect() as con:
        found = list_publications(con, "sales", "fct_orders")
        windows = [p.window for p in found]
        assert windows[:3] == [(DAY_3, DAY_3), (DAY_4, DAY_4), (DAY_2, DAY_2)]
        first = next(p for p in found if p.window == (DAY_1, DAY_1))
        then = dict(
            con.execute(
                "select order_date::varchar, count(*) from lakehouse.sales.fct_orders "
                f"at (version => {first.snapshot_id}) group by 1"
            ).fetchall()
        )
        assert first.time_travel_sql.endswith(f"AT (VERSION => {first.snapshot_id});")
    assert then == {DAY_1: _raw_rows(scenario.lake, "sales", "orders", DAY_1)}


def test_wdc_catalog_shows_the_snapshots(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wdc_orchestration.cli import main

    output = tmp_path / "catalog.json"
    with environment(isolated_lake_env(scenario.lake.root)):
        assert main(["catalog", "--format", "json", "--output", str(output)]) == 0
        assert main(["catalog", "--format", "markdown"]) == 0
    entries = {e["id"]: e for e in json.loads(output.read_text())}
    snapshots = entries["sales.fct_orders"]["snapshots"]
    assert len(snapshots) >= 4
    assert snapshots[0]["window"] == [DAY_3, DAY_3]
    assert "AT (VERSION =>" in snapshots[0]["read"]
    markdown = capsys.readouterr().out
    assert f"AT (VERSION => {snapshots[0]['snapshot_id']})" in markdown
    assert dt.date.fromisoformat(snapshots[0]["published_at"][:10])


def test_a_first_publication_of_a_few_rows_creates_the_partitioned_table(tmp_path: Path) -> None:
    """A new product's first day at a small scale: DuckLake inlines a few rows into its catalog
    and refuses to ALTER a table holding rows inlined in the same transaction, so the public
    table is created empty, partitioned, then filled."""
    import duckdb

    from wdc_orchestration.lakehouse.extensions import ensure_extensions
    from wdc_orchestration.lakehouse.run_window import RunWindow
    from wdc_orchestration.lakehouse.wap import AuditedTable, publish_window
    from wdc_orchestration.settings import get_settings

    extensions = ensure_extensions(get_settings().duckdb_extension_dir)
    config = {"extension_directory": str(extensions), "autoinstall_known_extensions": False}
    with duckdb.connect(config=config) as con:
        con.execute(
            f"ATTACH 'ducklake:sqlite:{tmp_path / 'catalog.sqlite'}' AS lakehouse "
            f"(DATA_PATH '{tmp_path / 'data'}/')"
        )
        con.execute("create schema lakehouse.tiny__audit")
        con.execute(
            "create table lakehouse.tiny__audit.fct_tiny as "
            "select range as id, date '2026-11-01' as tiny_date from range(3)"
        )
        table = AuditedTable("fct_tiny", date_column="tiny_date", partitioned_by=("tiny_date",))
        day = dt.date(2026, 11, 1)
        publication = publish_window(con, "tiny", [table], RunWindow(day, day), "run-1")
        rows = con.execute("select count(*) from lakehouse.tiny.fct_tiny").fetchone()[0]
        partition_keys = con.execute(
            "select count(*) from __ducklake_metadata_lakehouse.ducklake_partition_column c "
            "join __ducklake_metadata_lakehouse.ducklake_table t using (table_id) "
            "where t.table_name = 'fct_tiny' and t.end_snapshot is null"
        ).fetchone()[0]
    assert publication.tables == {"fct_tiny": 3}
    assert rows == 3
    assert partition_keys == 1
