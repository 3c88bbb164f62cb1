"""The whole mesh, for real: two days materialised through Dagster into a temporary lake."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.conftest import DAY_1, DAY_2, MeshLake
from wdc_orchestration.mesh.workspace import load_domain_specs
from wdc_orchestration.raw.generation.request import GenerationRequest
from wdc_orchestration.raw.generation.writer import EXTENSIONS, write_chunks

PRODUCTS = {
    "customers": ["dim_customers"],
    "catalog": ["dim_products"],
    "sales": ["fct_orders", "fct_order_items"],
    "finance": ["fct_payments", "fct_daily_revenue"],
    "logistics": ["fct_shipments"],
}


def _raw_rows(lake: MeshLake, domain: str, entity: str, day: str) -> int:
    manifest = lake.root / "lake" / "raw" / domain / entity / f"date={day}" / "_manifest.json"
    return json.loads(manifest.read_text())["rows"]


@pytest.mark.parametrize(
    ("domain", "product"), [(d, p) for d, products in PRODUCTS.items() for p in products]
)
def test_every_product_is_published_with_rows(
    two_days: MeshLake, domain: str, product: str
) -> None:
    assert two_days.scalar(f"select count(*) from lakehouse.{domain}.{product}") > 0


def test_products_are_ducklake_tables_with_parquet_files(two_days: MeshLake) -> None:
    with two_days.connect() as con:
        files = con.execute(
            "select data_file from "
            "ducklake_list_files('lakehouse', 'fct_orders', schema => 'sales')"
        ).fetchall()
    assert files and all(path.endswith(".parquet") for (path,) in files)
    assert all(Path(path).is_relative_to(two_days.root / "lake" / "lakehouse") for (path,) in files)


@pytest.mark.parametrize(
    ("child", "key", "parent"),
    [
        ("sales.fct_orders", "customer_id", "customers.dim_customers"),
        ("sales.fct_order_items", "product_id", "catalog.dim_products"),
        ("sales.fct_order_items", "order_id", "sales.fct_orders"),
        ("finance.fct_payments", "order_id", "sales.fct_orders"),
        ("logistics.fct_shipments", "order_id", "sales.fct_orders"),
    ],
)
def test_cross_domain_keys_resolve(two_days: MeshLake, child: str, key: str, parent: str) -> None:
    orphans = two_days.scalar(
        f"select count(*) from lakehouse.{child} c "
        f"anti join lakehouse.{parent} p on c.{key} = p.{key}"
    )
    assert orphans == 0, f"{orphans} {child}.{key} values have no row in {parent}"


def test_day_two_adds_its_rows_without_duplicating_day_one(two_days: MeshLake) -> None:
    with two_days.connect() as con:
        per_day = dict(
            con.execute(
                "select order_date::varchar, count(*) from lakehouse.sales.fct_orders group by 1"
            ).fetchall()
        )
        distinct = con.execute("select count(distinct order_id) from lakehouse.sales.fct_orders")
        distinct_orders = distinct.fetchone()[0]
    expected = {day: _raw_rows(two_days, "sales", "orders", day) for day in (DAY_1, DAY_2)}
    assert per_day == expected
    assert distinct_orders == sum(expected.values())


def test_rerunning_a_day_replaces_it_instead_of_appending(two_days: MeshLake) -> None:
    from wdc_orchestration.cli import main

    def counts() -> tuple[int, ...]:
        return tuple(
            two_days.scalar(f"select count(*) from lakehouse.{table}")
            for table in ("sales.fct_orders", "finance.fct_payments", "logistics.fct_shipments")
        )

    before = counts()
    manifest = two_days.root / "lake/raw/sales/orders" / f"date={DAY_2}" / "_manifest.json"
    landed_before = manifest.read_text()
    assert main(["materialize", "--start", DAY_2, "--log-level", "WARNING"]) == 0
    assert counts() == before
    assert manifest.read_text() == landed_before, "a landed raw day must be left as it is"


def test_regenerating_a_day_yields_identical_raw_files(two_days: MeshLake) -> None:
    import datetime as dt

    from tests.conftest import TEST_SCALE_FACTOR

    request = GenerationRequest(date=dt.date.fromisoformat(DAY_1), scale_factor=TEST_SCALE_FACTOR)
    for spec in load_domain_specs():
        for entity in spec.raw_entities:
            folder = two_days.root / "lake/raw" / spec.name / entity.name / f"date={DAY_1}"
            landed = json.loads((folder / "_manifest.json").read_text())
            name = f"{entity.name}.{EXTENSIONS[entity.file_format]}"
            with tempfile.TemporaryDirectory() as scratch:
                again = write_chunks(
                    entity.generate(request), entity.file_format, Path(scratch) / name
                )
            assert landed["files"] == {name: again.sha256}, f"{spec.name}.{entity.name} changed"


def test_landing_a_day_again_with_other_parameters_is_refused(
    two_days: MeshLake, caplog: pytest.LogCaptureFixture
) -> None:
    from wdc_orchestration.cli import main

    args = ["materialize", "--start", DAY_1, "--domains", "customers", "--scale-factor", "0.02"]
    assert main([*args, "--log-level", "CRITICAL"]) == 1
    assert "Raw data is immutable" in caplog.text
