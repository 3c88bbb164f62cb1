"""The file port (Parquet snapshots behind an atomic pointer, the contract beside them), major
versions and their deprecation, the generated IAM policies and the raw purge — on a real local
lake folder and a real DuckDB, without the whole mesh."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest

from wdc_orchestration.governance.descriptor import ProductDescriptor, load_descriptors
from wdc_orchestration.governance.iam import all_policies
from wdc_orchestration.governance.policies.compliance import load_raw_retention
from wdc_orchestration.governance.publishing import (
    consumer_sql,
    mark_previous_major,
    publish,
    published_contract,
    published_majors,
    read_pointer,
)
from wdc_orchestration.governance.purge import purge_raw, retention_cutoff
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import PROJECT_ROOT

DOMAINS = PROJECT_ROOT / "domains"


@pytest.fixture
def orders() -> ProductDescriptor:
    return load_descriptors(DOMAINS)["sales.fct_orders"]


@pytest.fixture
def lakehouse() -> duckdb.DuckDBPyConnection:
    """A stand-in for the DuckLake catalog: an attached database called `lakehouse`."""
    conn = duckdb.connect()
    conn.execute("attach ':memory:' as lakehouse")
    conn.execute("create schema lakehouse.sales")
    conn.execute(
        "create table lakehouse.sales.fct_orders as select range as order_id, "
        "'site' as channel, cast(range * 1.5 as decimal(18, 2)) as total_amount from range(1000)"
    )
    return conn


def _read_as_consumer(lake: LocalLakeStorage, d: ProductDescriptor, major: int) -> list[Any]:
    consumer = duckdb.connect()
    *setup, query = consumer_sql(lake.url(), d.domain, d.name, major).split(";\n")
    for statement in setup:
        consumer.execute(statement)
    return sorted(consumer.execute(query).fetchall())


def test_a_publication_is_a_complete_snapshot_behind_a_pointer(
    tmp_path: Path, orders: ProductDescriptor, lakehouse: duckdb.DuckDBPyConnection
) -> None:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    publication = publish(lakehouse, lake, orders, snapshot_id="s1")
    prefix = "products/sales/fct_orders/v1/"
    assert lake.list_keys(prefix) == [
        prefix + "current.json",
        prefix + "snapshots/s1/contract.yaml",
        prefix + "snapshots/s1/data_0.parquet",
    ]
    assert publication.rows == 1000
    assert read_pointer(lake, "sales", "fct_orders", 1)["files"] == ["snapshots/s1/data_0.parquet"]
    # the contract beside the data is the descriptor it was published under
    assert published_contract(lake, "sales", "fct_orders") == orders
    expected = sorted(lakehouse.execute("select * from lakehouse.sales.fct_orders").fetchall())
    assert _read_as_consumer(lake, orders, 1) == expected


def test_a_failed_publication_leaves_the_previous_version_current(
    tmp_path: Path, orders: ProductDescriptor, lakehouse: duckdb.DuckDBPyConnection
) -> None:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    publish(lakehouse, lake, orders, snapshot_id="s1")
    before = _read_as_consumer(lake, orders, 1)
    lakehouse.execute("drop table lakehouse.sales.fct_orders")
    with pytest.raises(duckdb.CatalogException):
        publish(lakehouse, lake, orders, snapshot_id="s2")
    assert read_pointer(lake, "sales", "fct_orders", 1)["snapshot"] == "snapshots/s1/"
    assert _read_as_consumer(lake, orders, 1) == before


def test_the_previous_major_stays_until_its_deprecation_date(
    tmp_path: Path, orders: ProductDescriptor, lakehouse: duckdb.DuckDBPyConnection
) -> None:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    publish(lakehouse, lake, orders, snapshot_id="s1")
    data = orders.as_dict()
    data["version"] = "2.0.0"
    data["customProperties"].append(
        {"property": "deprecation", "value": {"previousMajor": 1, "until": "2027-01-31"}}
    )
    next(s for s in data["servers"] if s["server"] == "files")["path"] = (
        ".lake/products/sales/fct_orders/v2/"
    )
    v2 = ProductDescriptor.model_validate(data)
    publish(lakehouse, lake, v2, snapshot_id="s2")
    assert published_majors(lake, "sales", "fct_orders") == [1, 2]
    assert published_contract(lake, "sales", "fct_orders").version == "2.0.0"

    assert mark_previous_major(lake, v2, dt.date(2027, 1, 31), tmp_path) == []
    notice = json.loads(lake.read_bytes("products/sales/fct_orders/v1/deprecation.json"))
    assert notice["until"] == "2027-01-31" and notice["successor_version"] == "2.0.0"
    assert _read_as_consumer(lake, orders, 1)  # v1 still readable on its last day

    removed = mark_previous_major(lake, v2, dt.date(2027, 2, 1), tmp_path)
    assert "products/sales/fct_orders/v1/current.json" in removed
    assert lake.list_keys("products/sales/fct_orders/v1/") == []
    assert published_majors(lake, "sales", "fct_orders") == [2]


def test_iam_policies_follow_the_consumer_lists() -> None:
    descriptors = load_descriptors(DOMAINS)
    policies = all_policies(
        ["customers", "catalog", "sales", "finance", "logistics"], descriptors, "wdc", "mesh"
    )

    def readable(domain: str) -> set[str]:
        return {
            arn
            for statement in policies[domain]["Statement"]
            if "s3:GetObject" in statement["Action"]
            for arn in statement["Resource"]
        }

    sales = readable("sales")
    assert "arn:aws:s3:::wdc/mesh/raw/sales/*" in sales
    assert "arn:aws:s3:::wdc/mesh/products/customers/dim_customers/*" in sales
    assert "arn:aws:s3:::wdc/mesh/products/catalog/dim_products/*" in sales
    assert not any("/raw/customers/" in arn or "/finance/" in arn for arn in sales)
    finance = readable("finance")
    assert "arn:aws:s3:::wdc/mesh/products/sales/fct_orders/*" in finance
    assert not any("customers" in arn or "fct_order_items" in arn for arn in finance)
    # nobody lists customers as a consumer: it reads nothing but its own data
    own = readable("customers")
    assert own and all("/customers/" in arn for arn in own), own


def test_raw_personal_data_past_retention_is_purged_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    source = tmp_path / "f"
    source.write_text("x")
    for day in ("2023-12-31", "2024-01-02", "2026-01-01"):
        lake.put_file(source, f"raw/customers/customers/date={day}/customers.parquet")
    retention = load_raw_retention(DOMAINS)["customers"]
    assert retention["customers"].retention == "P2Y"
    assert retention_cutoff("P2Y", dt.date(2026, 1, 1)) == dt.date(2024, 1, 1)

    dry = purge_raw(lake, "customers", retention, dt.date(2026, 1, 1), dry_run=True)
    assert dry == ["raw/customers/customers/date=2023-12-31/customers.parquet"]
    assert lake.exists(dry[0])
    with caplog.at_level(logging.INFO):
        removed = purge_raw(lake, "customers", retention, dt.date(2026, 1, 1))
    assert removed == dry and not lake.exists(dry[0])
    assert f"removed {lake.url(dry[0])}" in caplog.text
    assert lake.list_keys("raw/customers/") == [
        "raw/customers/customers/date=2024-01-02/customers.parquet",
        "raw/customers/customers/date=2026-01-01/customers.parquet",
    ]


def test_non_personal_raw_data_is_never_purged(tmp_path: Path) -> None:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    source = tmp_path / "f"
    source.write_text("x")
    lake.put_file(source, "raw/catalog/products/date=2001-01-01/products.csv")
    retention = load_raw_retention(DOMAINS)["catalog"]
    assert purge_raw(lake, "catalog", retention, dt.date(2026, 1, 1)) == []
    assert lake.exists("raw/catalog/products/date=2001-01-01/products.csv")


def test_the_domain_purge_job_removes_and_logs_expired_personal_raw_days(tmp_path: Path) -> None:
    import dagster as dg

    from wdc_orchestration.governance.assets import build_purge_job

    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    source = tmp_path / "f"
    source.write_text("x")
    old = "raw/customers/customers/date=2020-01-01/customers.parquet"
    recent = f"raw/customers/customers/date={dt.date.today().isoformat()}/customers.parquet"
    for key in (old, recent):
        lake.put_file(source, key)
    job = build_purge_job("customers", {"customers": "sensitive"})
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(resources={"lake": lake}, instance=instance)
    assert result.success
    assert lake.list_keys("raw/") == [recent]
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert f"removed {old}" in logged
