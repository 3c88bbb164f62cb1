"""LakeStorage behaves the same on a local folder and on a real S3 API (moto's server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer

from wdc_orchestration.resources.lake import LakeStorage, LocalLakeStorage
from wdc_orchestration.resources.s3_lake import S3LakeStorage


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def lake(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> LakeStorage:
    if request.param == "local":
        return LocalLakeStorage(root=str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"wdc-{tmp_path.name.lower().replace('_', '-')}"[:63]
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return S3LakeStorage(
        bucket=bucket, prefix="mesh", s3=S3Resource(endpoint_url=endpoint, region_name="us-east-1")
    )


def test_put_list_read_and_exists(lake: LakeStorage, tmp_path: Path) -> None:
    source = tmp_path / "orders.parquet"
    source.write_bytes(b"PAR1 not really parquet")
    key = "raw/sales/orders/date=2026-11-01/orders.parquet"
    assert not lake.exists(key)
    lake.put_file(source, key)
    lake.put_bytes(b"{}", "raw/sales/orders/date=2026-11-01/_manifest.json", tmp_path / "scratch")
    assert lake.exists(key)
    assert lake.read_bytes(key) == source.read_bytes()
    assert lake.list_keys("raw/sales") == [
        "raw/sales/orders/date=2026-11-01/_manifest.json",
        key,
    ]
    assert lake.list_keys("raw/finance") == []
    assert lake.url(key).endswith(key)


def test_s3_urls_carry_bucket_and_prefix() -> None:
    lake = S3LakeStorage(bucket="wdc-lake", prefix="prod/", s3=S3Resource())
    assert lake.url("raw/x.parquet") == "s3://wdc-lake/prod/raw/x.parquet"
    assert lake.url() == "s3://wdc-lake/prod"
