"""The quality machinery piece by piece, without a mesh run: defects, validators, the volume
anomaly, notifiers, freshness policies, and the automation condition on real Dagster runs."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy

from domains._shared.defects import DEFECTS, UnknownDefectError, resolve_defects
from domains.customers.simulator import ENTITIES as CUSTOMER_ENTITIES
from domains.sales.simulator import ENTITIES as SALES_ENTITIES
from wdc_orchestration.quality.evaluate import (
    SCHEMA,
    UnreadableRawFile,
    check_schema,
    check_volume,
    open_day,
    valid_cpf,
)
from wdc_orchestration.quality.freshness import DEFAULT_SLA, parse_duration, product_sla
from wdc_orchestration.quality.incidents import Incident
from wdc_orchestration.quality.notifier import LogFileNotifier, WebhookNotifier, notifier_from_env
from wdc_orchestration.quality.rules import RawRules
from wdc_orchestration.raw.generation.request import GenerationRequest
from wdc_orchestration.raw.generation.writer import write_chunks
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import get_settings

DAY = dt.date(2026, 11, 3)
REQUEST = GenerationRequest(date=DAY, scale_factor=0.01)


def _frame(entities: tuple, name: str, defects: frozenset[str] = frozenset()) -> pl.DataFrame:
    (entity,) = [e for e in entities if e.name == name]
    return pl.concat(
        list(entity.generate(GenerationRequest(date=DAY, scale_factor=0.01, defects=defects)))
    )


def test_defect_names_resolve_and_unknown_ones_are_refused() -> None:
    assert resolve_defects("all") == list(DEFECTS)
    assert resolve_defects("empty_file, null_keys") == ["null_keys", "empty_file"]
    with pytest.raises(UnknownDefectError, match="no_such_defect"):
        resolve_defects("null_keys,no_such_defect")


def test_a_defect_damages_only_its_entity_and_only_a_few_rows() -> None:
    clean = _frame(SALES_ENTITIES, "orders")
    damaged = _frame(SALES_ENTITIES, "orders", frozenset({"duplicate_ids", "null_keys"}))
    # null_keys belongs to finance.payments: the orders only get their duplicates
    assert damaged.height == clean.height + 3
    assert damaged["order_id"].null_count() == 0
    assert damaged["order_id"].n_unique() == clean.height
    items = _frame(SALES_ENTITIES, "order_items", frozenset({"duplicate_ids"}))
    assert items.equals(_frame(SALES_ENTITIES, "order_items"))


def test_generated_cpfs_are_valid_and_the_invalid_cpfs_defect_breaks_three() -> None:
    clean = _frame(CUSTOMER_ENTITIES, "customers")
    assert all(valid_cpf(c) for c in clean["cpf"])
    damaged = _frame(CUSTOMER_ENTITIES, "customers", frozenset({"invalid_cpfs"}))
    assert sum(not valid_cpf(c) for c in damaged["cpf"]) == 3
    assert not valid_cpf("111.111.111-11") and not valid_cpf("123")


def test_a_truncated_parquet_file_is_reported_unreadable(tmp_path: Path) -> None:
    (entity,) = [e for e in SALES_ENTITIES if e.name == "order_items"]
    request = GenerationRequest(
        date=DAY, scale_factor=0.01, defects=frozenset({"truncated_parquet"})
    )
    written = write_chunks(entity.generate(request), "parquet", tmp_path / "order_items.parquet")
    assert entity.generate.finish_file(request, written.path)
    with duckdb.connect() as con, pytest.raises(UnreadableRawFile, match="cannot be read"):
        open_day(con, "parquet", written.path)


def test_extra_columns_are_a_warning_missing_ones_an_error(tmp_path: Path) -> None:
    rules = RawRules("sales", "orders", expected_columns=("order_id", "total_amount"))
    with duckdb.connect() as con:
        con.execute("create temp view raw_day as select 1 as order_id, 2 as total, 3 as extra")
        missing = check_schema(con, rules, DAY.isoformat())
        con.execute(
            "create or replace temp view raw_day as "
            "select 1 as order_id, 2 as total_amount, 3 as extra"
        )
        extra = check_schema(con, rules, DAY.isoformat())
    assert (missing.check, missing.passed, missing.severity) == (
        SCHEMA,
        False,
        dg.AssetCheckSeverity.ERROR,
    )
    assert "['total_amount']" in missing.message
    assert (extra.passed, extra.severity) == (False, dg.AssetCheckSeverity.WARN)


def _land_manifests(lake: LocalLakeStorage, rows_by_day: dict[dt.date, int]) -> None:
    for day, rows in rows_by_day.items():
        path = Path(lake.url(f"raw/sales/orders/date={day.isoformat()}/_manifest.json"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rows": rows}))


def test_volume_is_judged_against_the_trailing_days(tmp_path: Path) -> None:
    lake = LocalLakeStorage(root=str(tmp_path))
    rules = RawRules("sales", "orders", expected_columns=())
    day = DAY.isoformat()
    assert check_volume(lake, rules, day, 5).passed  # no history: nothing to judge against
    _land_manifests(
        lake, {DAY - dt.timedelta(days=k): n for k, n in ((1, 480), (2, 520), (3, 500))}
    )
    assert check_volume(lake, rules, day, 560).passed  # an ordinary weekday swing
    low = check_volume(lake, rules, day, 40)
    assert not low.passed and low.severity == dg.AssetCheckSeverity.WARN
    assert "volume anomaly: 40 rows vs median 500" in low.message
    assert not check_volume(lake, rules, day, 2000).passed


INCIDENT = Incident(
    kind="check_failed",
    domain="sales",
    asset="sales/raw/orders",
    check="keys_not_null_and_unique",
    partitions=("2026-11-03",),
    severity="ERROR",
    rows_affected=3,
    description="3 duplicate order_id",
    run_id="run-1",
)


def test_the_default_notifier_appends_to_a_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WDC_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("WDC_LOG_DIR", str(tmp_path))
    notifier = notifier_from_env(get_settings().log_dir)
    assert isinstance(notifier, LogFileNotifier)
    notifier.send(INCIDENT)
    (line,) = (tmp_path / "alerts.log").read_text().splitlines()
    alert = json.loads(line)
    assert alert["incident_id"] == INCIDENT.incident_id
    assert "keys_not_null_and_unique on sales/raw/orders [2026-11-03]" in alert["text"]


def test_a_webhook_url_makes_the_notifier_post_json(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("WDC_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
        notifier = notifier_from_env(get_settings().log_dir)
        assert isinstance(notifier, WebhookNotifier)
        notifier.send(INCIDENT)
    finally:
        server.shutdown()
    (payload,) = received
    assert payload["incident"]["check"] == "keys_not_null_and_unique"
    assert "[ERROR]" in payload["text"]


def test_freshness_slas_come_from_the_product_descriptors() -> None:
    assert parse_duration("PT26H") == dt.timedelta(hours=26)
    assert parse_duration("P1DT2H") == dt.timedelta(hours=26)
    with pytest.raises(ValueError):
        parse_duration("26 hours")
    sla = product_sla("sales", "fct_orders")
    if (Path(__file__).parents[1] / "domains/sales/products/fct_orders.yaml").exists():
        assert sla.source == "fct_orders.yaml"
    assert sla.warn_after < sla.fail_after
    assert product_sla("sales", "no_such_product") == DEFAULT_SLA


def test_every_product_carries_a_freshness_policy_and_consumers_wait_for_what_they_read() -> None:
    from wdc_orchestration.mesh.workspace import mesh_definitions
    from wdc_orchestration.quality.upstream import readiness_check_name

    graph = mesh_definitions().resolve_asset_graph()
    products = [  # the dbt product tables, `<domain>/<product>`
        key
        for key in graph.get_all_asset_keys()
        if "wdc/data_product" in graph.get(key).tags and len(key.path) == 2
    ]
    assert len(products) >= 7
    for key in products:
        policy = graph.get(key).freshness_policy
        assert isinstance(policy, TimeWindowFreshnessPolicy), key
        assert policy.warn_window.to_timedelta() < policy.fail_window.to_timedelta()
    checks = graph.asset_check_keys
    # every product a domain reads carries that domain's blocking readiness check
    expected = {
        ("customers/dim_customers", "sales"),
        ("catalog/dim_products", "sales"),
        ("sales/fct_orders", "finance"),
        ("sales/fct_orders", "logistics"),
    }
    for product, consumer in expected:
        key = dg.AssetCheckKey(dg.AssetKey(product.split("/")), readiness_check_name(consumer))
        assert key in checks, key
        assert graph.get_check_spec(key).blocking
    for consumer in (["finance", "fct_payments"], ["logistics", "fct_shipments"]):
        node = graph.get(dg.AssetKey(consumer))
        assert dg.AssetKey(["sales", "fct_orders"]) in node.parent_keys
        # no automation on paper: the runs themselves wait for their producers
        assert node.automation_condition is None


def test_only_a_raw_assets_check_blames_the_raw_day() -> None:
    """A raw gate check or a dbt source test (checks of `[<d>, raw, <e>]`) quarantines its raw
    day; a dbt test of a model or a policy on a product (`[<d>, <model>]`) moves nothing."""
    from wdc_orchestration.quality.enforcement import blamed_raw

    assert blamed_raw(["sales", "raw", "orders"]) == [("sales", "orders")]
    assert blamed_raw(["sales", "fct_orders"]) == []
    assert blamed_raw(["sales", "published", "fct_orders"]) == []
