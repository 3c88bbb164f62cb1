"""The run window travels to dbt as environment variables -> DuckDB session variables (not dbt
--vars, which force a full re-parse). Bad windows fail clearly; the window macros still prune
hive partitions (DuckDB folds getvariable() to a constant), checked with EXPLAIN ANALYZE."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from wdc_orchestration.dbt.duckdb_plugins.session import set_run_window
from wdc_orchestration.lakehouse.run_window import (
    MAX_DATE_ENV,
    MIN_DATE_ENV,
    RunWindow,
    RunWindowError,
    run_window_environment,
    window_from_env,
)
from wdc_orchestration.settings import DBT_PROJECT_DIR

NOV = [dt.date(2026, 11, day) for day in range(1, 6)]


def test_no_window_means_everything() -> None:
    assert window_from_env({}) is None


def test_window_from_env() -> None:
    env = {MIN_DATE_ENV: "2026-11-01", MAX_DATE_ENV: "2026-11-03"}
    assert window_from_env(env) == RunWindow(NOV[0], NOV[2])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({MIN_DATE_ENV: "2026-11-01"}, "both"),
        ({MIN_DATE_ENV: "2026-11-01", MAX_DATE_ENV: "01/11/2026"}, "ISO dates"),
        ({MIN_DATE_ENV: "2026-11-03", MAX_DATE_ENV: "2026-11-01"}, "before it starts"),
    ],
)
def test_bad_window_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(RunWindowError, match=message):
        window_from_env(env)


def test_partition_window_is_inclusive_dates() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert RunWindow.from_time_window(start, start + dt.timedelta(days=2)) == RunWindow(
        NOV[0], NOV[1]
    )


def test_environment_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIN_DATE_ENV, "2026-01-01")
    monkeypatch.delenv(MAX_DATE_ENV, raising=False)
    with run_window_environment(RunWindow(NOV[0], NOV[0])):
        assert os.environ[MIN_DATE_ENV] == os.environ[MAX_DATE_ENV] == "2026-11-01"
    assert os.environ[MIN_DATE_ENV] == "2026-01-01"
    assert MAX_DATE_ENV not in os.environ


def _window_predicate(column: str) -> str:
    """The SQL the in_run_window macro renders with the default vars (dbt_project.yml)."""
    macro = (DBT_PROJECT_DIR / "macros" / "window.sql").read_text()
    assert "getvariable('wdc_min_date')" in macro and "getvariable('wdc_max_date')" in macro
    return (
        f"{column} between coalesce(getvariable('wdc_min_date'), date '1900-01-01') "
        f"and coalesce(getvariable('wdc_max_date'), date '2999-12-31')"
    )


def test_window_prunes_hive_partitions(tmp_path: Path) -> None:
    con = duckdb.connect()
    for day in NOV:
        folder = tmp_path / f"date={day.isoformat()}"
        folder.mkdir()
        con.execute(f"COPY (SELECT range AS id FROM range(1000)) TO '{folder}/x.parquet'")
    query = (
        f"SELECT count(*) FROM read_parquet('{tmp_path}/date=*/*.parquet', hive_partitioning=true)"
        f" WHERE {_window_predicate('CAST(date AS DATE)')}"
    )

    def files_read() -> str:
        plan = con.execute(f"EXPLAIN ANALYZE {query}").fetchall()[0][1]
        return next(line for line in plan.splitlines() if "Total Files Read" in line)

    # no window (a plain `dbt build`): everything
    assert con.execute(query).fetchone() == (5000,)
    assert "Total Files Read: 5" in files_read()
    # the orchestrator's window, set the way the dbt-duckdb plugin sets it: one day's files only
    set_run_window(con, RunWindow(NOV[1], NOV[1]))
    assert con.execute(query).fetchone() == (1000,)
    assert "Total Files Read: 1" in files_read()
