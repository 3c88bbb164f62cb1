"""LakeStorage behaves the same on a local folder and on a real S3 API (moto's server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer

from wdc_orchestration.resources.lake import LakeKeyError, LakeStorage, LocalLakeStorage, check_key
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


ESCAPES = [
    "/etc/passwd",
    "../outside.json",
    "governance/access_requests/../../../outside.json",
    "raw/..",
    "raw\\..\\..\\outside.json",
    "raw/x\x00.json",
    "s3://other-bucket/key",
    "C:/Windows/win.ini",
]


@pytest.mark.parametrize("key", ESCAPES)
def test_no_key_leaves_the_lake_whatever_the_call(
    lake: LakeStorage, tmp_path: Path, key: str
) -> None:
    source = tmp_path / "payload.json"
    source.write_bytes(b"{}")
    calls = {
        "url": lambda: lake.url(key),
        "exists": lambda: lake.exists(key),
        "list_keys": lambda: lake.list_keys(key),
        "put_file": lambda: lake.put_file(source, key),
        "put_bytes": lambda: lake.put_bytes(b"{}", key, tmp_path / "scratch"),
        "read_bytes": lambda: lake.read_bytes(key),
        "move from": lambda: lake.move(key, "quarantine/x.json"),
        "move to": lambda: lake.move("raw/x.json", key),
    }
    for name, call in calls.items():
        with pytest.raises(LakeKeyError):
            call()
            pytest.fail(f"{name}({key!r}) was accepted")
    # nothing was written anywhere under the test's folder but the source itself
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["payload.json"]


def test_keys_inside_the_lake_still_work(lake: LakeStorage, tmp_path: Path) -> None:
    """Dots inside names, globs, trailing slashes and the root are ordinary keys."""
    lake.put_bytes(b"1", "products/sales/fct_orders/v1/current.json", tmp_path / "scratch")
    assert lake.list_keys("products/sales/") == ["products/sales/fct_orders/v1/current.json"]
    assert lake.url("raw/sales/orders/*/*.parquet").endswith("raw/sales/orders/*/*.parquet")
    assert lake.url("").rstrip("/") == lake.url()
    assert check_key("a/..b/c..d/.hidden") == "a/..b/c..d/.hidden"


def test_an_encoded_dot_dot_is_a_name_inside_the_lake(
    lake: LakeStorage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Neither a folder nor S3 decodes `%2e%2e`: it is a name like any other, and stays inside the
    lake (on S3 under the lake's prefix, as the bucket lists it)."""
    key = "governance/%2e%2e/%2E%2E/..%2f..%2fx.json"
    lake.put_bytes(b"{}", key, tmp_path / "scratch")
    assert lake.list_keys("governance/") == [key] and lake.read_bytes(key) == b"{}"
    if isinstance(lake, S3LakeStorage):
        endpoint = request.getfixturevalue("s3_endpoint")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        listed = s3.list_objects_v2(Bucket=lake.bucket)["Contents"]
        assert [o["Key"] for o in listed] == [f"{lake.prefix}/{key}"]
    else:
        root = Path(lake.root)
        (written,) = [p for p in tmp_path.rglob("*.json") if "scratch" not in p.parts]
        assert written.is_relative_to(root) and written == root / key


def test_the_lakes_root_lists_no_sibling_lake(
    lake: LakeStorage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A lake under `mesh` beside one under `mesh-staging` (a bucket's prefixes, a folder's
    siblings): listing the root of one reaches nothing of the other."""
    lake.put_bytes(b"{}", "governance/x.json", tmp_path / "scratch")
    if isinstance(lake, S3LakeStorage):
        endpoint = request.getfixturevalue("s3_endpoint")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.put_object(Bucket=lake.bucket, Key=f"{lake.prefix}-staging/secret.json", Body=b"{}")
    else:
        sibling = Path(lake.root + "-staging")
        sibling.mkdir(parents=True)
        (sibling / "secret.json").write_text("{}")
    assert lake.list_keys("") == ["governance/x.json"]
    assert lake.exists("")


def test_a_traversing_request_id_is_refused_before_any_write(tmp_path: Path) -> None:
    """The issue's case: a rejection of request `../../..` wrote decision.json outside the lake."""
    from wdc_orchestration.governance.access_requests import (
        AccessRequestError,
        check_request_id,
        decide,
        list_requests,
        load_request,
    )
    from wdc_orchestration.governance.descriptor import load_descriptors

    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    revenue = load_descriptors()["finance.fct_daily_revenue"]
    for bad in ("../../..", "../../../tmp/x", "20261101T000000-abcdef12/../..", "", "x" * 300):
        with pytest.raises(AccessRequestError):
            decide(lake, bad, revenue, revenue.team.owner, approve=False)
        with pytest.raises(AccessRequestError):
            load_request(lake, bad)
    assert check_request_id("20261101T000000-abcdef12") == "20261101T000000-abcdef12"
    # junk planted on the lake under the prefix is not listed as a request
    (tmp_path / "lake/governance/access_requests/evil").mkdir(parents=True)
    (tmp_path / "lake/governance/access_requests/evil/request.json").write_text("{}")
    assert list_requests(lake) == []
    assert sorted(p.name for p in tmp_path.rglob("decision.json")) == []
