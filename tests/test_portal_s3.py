"""The portal's reads on an `s3://` lake (moto's S3 server): the session's products, file ports
and DuckLake data files copied into a bucket, the DuckLake catalog told its data is there. The
products-only reader reads through DuckDB's httpfs with a secret from the environment, and the
raw files on S3 stay out of reach."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import duckdb
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import MeshLake
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.product_reader import ProductReader
from wdc_orchestration.resources.lake import lake_storage_from_settings
from wdc_orchestration.settings import environment, get_settings
from wdc_portal.data.products import preview, versions_table

BUCKET = "wdc-portal-lake"


@dataclass(frozen=True)
class S3Lake:
    url: str
    first_orders: list[tuple[str, str]]  # (order_id, customer_id) of the local lake's first rows
    payments: int


@pytest.fixture(scope="module")
def s3_lake(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Lake]:
    # what the local lake holds, read before the settings point at S3
    with two_days.connect() as con:
        first_orders = con.execute(
            "SELECT CAST(order_id AS VARCHAR), customer_id FROM lakehouse.sales.fct_orders "
            "ORDER BY order_id LIMIT 5"
        ).fetchall()
    payments = two_days.scalar("select count(*) from lakehouse.finance.fct_payments")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "WDC_S3_ENDPOINT_URL": endpoint,
    }
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    lake = two_days.root / "lake"
    for folder in ("lakehouse", "products", "raw/sales/orders"):
        for path in (lake / folder).rglob("*"):
            if path.is_file():
                client.upload_file(str(path), BUCKET, f"mesh/{path.relative_to(lake).as_posix()}")
    root = tmp_path_factory.mktemp("wdc-s3")
    shutil.copytree(two_days.root / "catalog", root / "catalog")
    data_path = f"s3://{BUCKET}/mesh/lakehouse/"
    with sqlite3.connect(root / "catalog" / "wdc.sqlite") as catalog:
        catalog.execute(
            "update ducklake_metadata set value = ? where key = 'data_path'", (data_path,)
        )
    settings = {
        **credentials,
        "WDC_LAKE_URL": f"s3://{BUCKET}/mesh",
        "WDC_DUCKLAKE_CATALOG": f"sqlite:{root / 'catalog' / 'wdc.sqlite'}",
        "WDC_DUCKLAKE_DATA_PATH": data_path,
    }
    with environment(settings):
        yield S3Lake(f"s3://{BUCKET}/mesh", first_orders, payments)
    server.stop()


def test_the_reader_works_on_an_s3_lake_and_keeps_raw_out(s3_lake: S3Lake) -> None:
    settings = get_settings()
    assert settings.lake_url == s3_lake.url
    descriptors = load_descriptors()
    reader = ProductReader(settings, descriptors)
    try:
        orders = descriptors["sales.fct_orders"]
        rows = preview(reader, orders, limit=5)
        assert [tuple(r) for r in rows[["order_id", "customer_id"]].values] == s3_lake.first_orders
        assert reader.row_count("finance.fct_payments") == s3_lake.payments
        assert reader.snapshots("sales.fct_orders")
        # the file port on S3, read by following its pointer
        port = f"{s3_lake.url}/products/sales/fct_orders/v1/"
        (files,) = reader.query(f"SELECT files FROM read_json('{port}current.json')")["files"]
        on_s3 = reader.query(
            "SELECT count(*) AS n FROM read_parquet(["
            + ", ".join(f"'{port}{f}'" for f in files)
            + "])"
        )
        assert int(on_s3["n"][0]) == reader.row_count("sales.fct_orders")
        raw = f"SELECT count(*) FROM read_parquet('{s3_lake.url}/raw/sales/orders/*/*.parquet')"
        with pytest.raises(duckdb.PermissionException):
            reader.raw_connection().execute(raw).fetchall()
        # the lake's own objects (file ports) through the S3 LakeStorage, as the pages read them
        versions = versions_table(lake_storage_from_settings(settings), orders)
        assert list(versions["major"]) == ["v1"]
    finally:
        reader.close()
