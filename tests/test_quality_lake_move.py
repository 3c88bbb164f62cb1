"""Quarantine moves raw objects on the lake, locally and on a real S3 API (moto's server)."""

from __future__ import annotations

from pathlib import Path

from tests.test_lake_storage import lake, s3_endpoint  # noqa: F401 - fixtures
from wdc_orchestration.resources.lake import LakeStorage


def test_move_keeps_the_bytes_and_is_idempotent(lake: LakeStorage, tmp_path: Path) -> None:  # noqa: F811
    source = tmp_path / "orders.parquet"
    source.write_bytes(b"PAR1 bytes to keep")
    key = "raw/sales/orders/date=2026-11-01/orders.parquet"
    moved = "quarantine/sales/orders/date=2026-11-01/run-1/orders.parquet"
    lake.put_file(source, key)

    lake.move(key, moved)
    assert not lake.exists(key)
    assert lake.read_bytes(moved) == source.read_bytes()
    assert lake.list_keys("raw/sales") == []

    lake.move(key, moved)  # a second move (a retried quarantine) changes nothing
    assert lake.read_bytes(moved) == source.read_bytes()
