"""What the portal stands on, without a browser: the products-only DuckDB reader on the session's
materialised lake, access requests and the security policy's grants, and the KPI assets' PNGs
in the Dagster instance after `wdc materialize`."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import io
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from matplotlib.image import imread

from tests.conftest import MeshLake
from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.access_requests import (
    APPROVED,
    PENDING,
    REJECTED,
    AccessRequestError,
    approved_grants,
    decide,
    file_request,
    list_requests,
)
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.policies import load_inputs, static_violations
from wdc_orchestration.governance.product_reader import ProductAccessError, ProductReader
from wdc_orchestration.kpis.assets import CHART_KEY, kpi_key
from wdc_orchestration.kpis.spec import load_kpis
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import PROJECT_ROOT, get_settings

DOMAINS = PROJECT_ROOT / "domains"
MESH_DOMAINS = {"customers", "catalog", "sales", "finance", "logistics"}


@pytest.fixture(scope="module")
def reader(two_days: MeshLake) -> ProductReader:
    reader = ProductReader(get_settings(), load_descriptors())
    yield reader
    reader.close()


def test_the_reader_reads_every_product_through_its_sql_port(
    two_days: MeshLake, reader: ProductReader
) -> None:
    for product in reader.descriptors:
        expected = two_days.scalar(f"select count(*) from lakehouse.{product}")
        assert expected > 0
        assert reader.row_count(product) == expected


def test_staging_relations_and_raw_files_are_out_of_reach(
    two_days: MeshLake, reader: ProductReader
) -> None:
    raw_file = next((two_days.root / "lake" / "raw" / "sales" / "orders").rglob("*.parquet"))
    staging = "select * from lakehouse.sales__audit.stg_sales__orders"
    raw = f"select * from read_parquet('{raw_file}')"
    # the reader's check refuses both...
    with pytest.raises(ProductAccessError, match="not a data product"):
        reader.query(staging)
    with pytest.raises(ProductAccessError):
        reader.query("select * from __ducklake_metadata_lakehouse.ducklake_table")
    # ...and DuckDB's own lock stops them without it: the raw files are out of reach, and the
    # staging view (which reads the raw files the platform's dbt session names) fails too
    conn = reader.raw_connection()
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        conn.execute(raw).fetchall()
    with pytest.raises(duckdb.Error):
        conn.execute(staging).fetchall()
    # and the lock cannot be lifted, nor anything written
    with pytest.raises(duckdb.Error):
        conn.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.Error):
        conn.execute(f"COPY (select 1) TO '{two_days.root / 'leak.csv'}'")
    assert not (two_days.root / "leak.csv").exists()


def test_snapshots_read_the_product_as_it_was(two_days: MeshLake, reader: ProductReader) -> None:
    snapshots = reader.snapshots("sales.fct_orders")
    assert len(snapshots) >= 2  # created on day 1, rows of day 2 inserted later
    newest, first_insert = snapshots[0], snapshots[-1]
    days_now = reader.query(
        "select count(distinct order_date) as n from lakehouse.sales.fct_orders"
    )
    days_then = reader.query(
        "select count(distinct order_date) as n from lakehouse.sales.fct_orders "
        f"AT (VERSION => {first_insert.snapshot_id})"
    )
    assert int(days_now["n"][0]) == 2
    assert int(days_then["n"][0]) < 2
    assert reader.row_count("sales.fct_orders", version=newest.snapshot_id) == reader.row_count(
        "sales.fct_orders"
    )


def test_access_requests_are_decided_by_the_owner_once(tmp_path: Path) -> None:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    revenue = load_descriptors()["finance.fct_daily_revenue"]
    with pytest.raises(AccessRequestError, match="purpose"):
        file_request(lake, revenue, "logistics", "ana@wdc.example", " ", MESH_DOMAINS)
    with pytest.raises(AccessRequestError, match="not another domain"):
        file_request(lake, revenue, "finance", "ana@wdc.example", "why", MESH_DOMAINS)
    request = file_request(
        lake, revenue, "logistics", "ana@wdc.example", "freight vs revenue", MESH_DOMAINS
    )
    assert [r.status for r in list_requests(lake)] == [PENDING]
    assert approved_grants(lake) == {}
    with pytest.raises(AccessRequestError, match="owner"):
        decide(lake, request.request_id, revenue, "ana@wdc.example", approve=True)
    decided = decide(lake, request.request_id, revenue, revenue.team.owner, approve=True)
    assert decided.status == APPROVED and decided.decided_by == revenue.team.owner
    with pytest.raises(AccessRequestError, match="already approved"):
        decide(lake, request.request_id, revenue, revenue.team.owner, approve=False)
    assert approved_grants(lake) == {"finance.fct_daily_revenue": frozenset({"logistics"})}
    other = file_request(lake, revenue, "sales", "bia@wdc.example", "curiosity", MESH_DOMAINS)
    decide(lake, other.request_id, revenue, revenue.team.owner, approve=False, note="no need")
    stored = {r.request_id: r for r in list_requests(lake)}
    assert stored[other.request_id].status == REJECTED
    assert stored[other.request_id].note == "no need"
    assert stored[request.request_id].purpose == "freight vs revenue"
    assert approved_grants(lake) == {"finance.fct_daily_revenue": frozenset({"logistics"})}


def test_an_approved_request_lets_the_consumers_models_read_the_product(tmp_path: Path) -> None:
    manifest = copy.deepcopy(load_manifest())
    shipments = next(n for n in manifest["nodes"].values() if n["name"] == "fct_shipments")
    shipments["depends_on"]["nodes"].append("model.wdc.fct_daily_revenue")
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    before = static_violations(load_inputs(DOMAINS, manifest, grants=approved_grants(lake)))
    assert {(v.product, v.rule) for v in before} == {
        ("logistics.fct_shipments", "security.consumer_not_allowed")
    }
    revenue = load_descriptors()["finance.fct_daily_revenue"]
    request = file_request(lake, revenue, "logistics", "ana@wdc.example", "SLA", MESH_DOMAINS)
    decide(lake, request.request_id, revenue, revenue.team.owner, approve=True)
    assert static_violations(load_inputs(DOMAINS, manifest, grants=approved_grants(lake))) == []


def test_kpi_assets_hold_valid_png_charts_after_a_materialisation(two_days: MeshLake) -> None:
    kpis = load_kpis(load_descriptors())
    assert {k.id for k in kpis} == {
        "sales.revenue_by_uf_channel",
        "finance.payment_mix_and_refunds",
        "logistics.delivery_time_vs_sla",
        "customers.new_customers_by_cohort",
    }
    instance = dg.DagsterInstance.from_config(str(get_settings().dagster_home))
    for kpi in kpis:
        event = instance.get_latest_materialization_event(kpi_key(kpi))
        assert event is not None, f"{kpi.id} was not materialised"
        metadata = event.asset_materialization.metadata
        assert metadata["dagster/row_count"].value > 0
        markdown = metadata[CHART_KEY].value
        match = re.fullmatch(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
        assert match, markdown[:80]
        image = base64.b64decode(match.group(1))
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = imread(io.BytesIO(image), format="png")
        height, width = pixels.shape[:2]
        assert (width, height) == (640, 360)
        assert pixels.std() > 0.05  # a chart, not a blank canvas


# --- a state product's history (issue 19) --------------------------------------------------------


@pytest.mark.parametrize("product", ["customers.dim_customers", "catalog.dim_products"])
def test_a_state_products_history_reads_alike_through_the_portal_and_both_ports(
    two_days: MeshLake, reader: ProductReader, product: str
) -> None:
    from tests.conftest import DAY_1, DAY_2
    from wdc_portal.data import history

    d = reader.descriptors[product]
    assert history.is_state_product(d)
    day_1, day_2 = dt.date.fromisoformat(DAY_1), dt.date.fromisoformat(DAY_2)
    days = history.history_days(reader, d).set_index("day")
    predicate = history.as_of_predicate(day_1)
    held_on_day_1 = two_days.scalar(f"select count(*) from lakehouse.{product} where {predicate}")
    assert held_on_day_1 > 0
    assert days.index[0] == DAY_1  # the history begins with the first day built
    assert days.loc[DAY_1, "keys that held"] == held_on_day_1
    assert days.loc[DAY_1, "versions that began"] == held_on_day_1
    assert days.loc[DAY_1, "versions that ended"] == 0
    current = two_days.scalar(f"select count(*) from lakehouse.{product} where is_current")
    assert days["keys that held"].iloc[-1] == current
    assert history.current_flag_agrees(reader, d)

    shown = history.state_as_of(reader, d, day_1, limit=5)
    assert len(shown) == 5
    assert all(v <= DAY_1 for v in shown["valid_from"])
    assert all(v == "NULL" or v > DAY_1 for v in shown["valid_to"])

    # the snippet's two queries read the same rows on day 2 through the SQL and the file port
    sql_part, file_part = history.as_of_snippets(d, day_2, get_settings().lake_url).split("\n\n")
    with two_days.connect() as con:
        sql_rows = sorted(con.execute(sql_part.split("\n", 1)[1]).fetchall(), key=repr)
        code = "\n".join(line for line in file_part.splitlines() if not line.startswith("--"))
        *setup, query = code.split(";\n")
        for statement in setup:
            con.execute(statement)
        file_rows = sorted(con.execute(query.rstrip(";")).fetchall(), key=repr)
    assert sql_rows and sql_rows == file_rows
