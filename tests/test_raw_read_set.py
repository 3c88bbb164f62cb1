"""What staging reads is exactly what the days' manifests list: the read set and the gate's view of
a day's folder, on a real local lake with real landed files (no Dagster, no dbt)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from domains.sales.simulator import ENTITIES
from wdc_orchestration.dbt.duckdb_plugins.session import set_read_sets
from wdc_orchestration.lakehouse.run_window import RunWindow
from wdc_orchestration.raw.assets import land_day
from wdc_orchestration.raw.generation.request import GenerationRequest
from wdc_orchestration.raw.read_set import (
    RawReadSetError,
    read_set,
    read_set_variable,
    verify_day,
)
from wdc_orchestration.resources.lake import INCOMING_DIR, LocalLakeStorage

ORDERS = next(e for e in ENTITIES if e.name == "orders")
DAYS = [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]


@pytest.fixture()
def lake(tmp_path: Path) -> LocalLakeStorage:
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    for day in DAYS:
        land_day(lake, "sales", ORDERS, GenerationRequest(date=day, scale_factor=0.01))
    return lake


def _folder(lake: LocalLakeStorage, day: dt.date) -> Path:
    return Path(lake.url(f"raw/sales/orders/date={day.isoformat()}"))


def test_a_landed_day_matches_its_manifest_and_leaves_nothing_in_flight(
    lake: LocalLakeStorage,
) -> None:
    state = verify_day(lake, "sales", "orders", DAYS[0])
    assert state.ok and state.problems() == []
    # the copy-then-rename of the landing happens outside the day's folder
    assert sorted(p.name for p in _folder(lake, DAYS[0]).iterdir()) == [
        "_manifest.json",
        "orders.parquet",
    ]
    assert list((Path(lake.root) / INCOMING_DIR).iterdir()) == []


def test_an_extra_file_is_unexpected_and_never_in_the_read_set(lake: LocalLakeStorage) -> None:
    extra = _folder(lake, DAYS[1]) / "orders-resent.parquet"
    duckdb.sql(f"copy (select 1 as order_id) to '{extra}' (format parquet)")
    state = verify_day(lake, "sales", "orders", DAYS[1])
    assert not state.ok
    (problem,) = state.problems()
    assert "unexpected file raw/sales/orders/date=2026-11-02/orders-resent.parquet" in problem
    files = read_set(lake, "sales", "orders")  # no window: nothing verified, listed files only
    assert files == [lake.url(f"raw/sales/orders/date={d}/orders.parquet") for d in DAYS]
    with pytest.raises(RawReadSetError, match="orders-resent.parquet"):
        read_set(lake, "sales", "orders", RunWindow(DAYS[1], DAYS[1]))
    # a window that does not cover the bad day still reads the earlier days
    assert len(read_set(lake, "sales", "orders", RunWindow(DAYS[0], DAYS[0]))) == 1


def test_a_replaced_file_is_tampered_and_a_removed_one_missing(lake: LocalLakeStorage) -> None:
    landed = _folder(lake, DAYS[0]) / "orders.parquet"
    data = landed.read_bytes()
    landed.write_bytes(data[: len(data) // 2])
    (problem,) = verify_day(lake, "sales", "orders", DAYS[0]).problems()
    assert problem.startswith("tampered file raw/sales/orders/date=2026-11-01/orders.parquet")
    os.remove(landed)
    (problem,) = verify_day(lake, "sales", "orders", DAYS[0]).problems()
    assert problem.startswith("missing file raw/sales/orders/date=2026-11-01/orders.parquet")


def test_a_day_without_manifest_is_not_landed_and_not_read(lake: LocalLakeStorage) -> None:
    os.remove(_folder(lake, DAYS[1]) / "_manifest.json")
    state = verify_day(lake, "sales", "orders", DAYS[1])
    assert not state.landed
    assert read_set(lake, "sales", "orders") == [
        lake.url("raw/sales/orders/date=2026-11-01/orders.parquet")
    ]


def test_a_source_reading_the_variable_reads_only_the_listed_files(
    lake: LocalLakeStorage,
) -> None:
    """The dbt source's reader, as the sources YAML spells it, over the plugin's variable."""
    extra = _folder(lake, DAYS[1]) / "orders-resent.parquet"
    duckdb.sql(
        f"copy (select * from read_parquet('{_folder(lake, DAYS[1]) / 'orders.parquet'}') "
        f"limit 5) to '{extra}' (format parquet)"
    )
    variable = read_set_variable("sales", "orders")
    con = duckdb.connect()
    set_read_sets(con, {variable: read_set(lake, "sales", "orders")})
    through_source = con.execute(
        f"select count(*) from read_parquet(getvariable('{variable}'), hive_partitioning = true)"
    ).fetchone()[0]
    glob = f"{lake.url('raw/sales/orders')}/date=*/*.parquet"
    through_glob = con.execute(f"select count(*) from read_parquet('{glob}')").fetchone()[0]
    manifests = sum(
        con.execute(
            f"select rows from read_json('{_folder(lake, d) / '_manifest.json'}')"
        ).fetchone()[0]
        for d in DAYS
    )
    assert through_source == manifests
    assert through_glob == manifests + 5  # what the old glob would have read
