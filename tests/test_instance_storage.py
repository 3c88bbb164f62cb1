"""The instance's SQLite storage with its engines kept (mesh/instance_storage.py): Dagster's
files and behaviour, one engine per file per process, and a home that moves with its lake."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from wdc_orchestration.mesh import instance_storage
from wdc_orchestration.mesh.instance_storage import (
    EngineCache,
    EngineReusingSqliteEventLogStorage,
    EngineReusingSqliteStorage,
)
from wdc_orchestration.mesh.workspace import instance_yaml
from wdc_orchestration.settings import environment


@dg.asset(
    partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"),
    check_specs=[dg.AssetCheckSpec("three", asset="numbers")],
)
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"rows": 3}, check_results=[dg.AssetCheckResult(passed=True, check_name="three")]
    )


JOB = dg.define_asset_job("numbers_job", selection=[numbers])


def _home(root: Path) -> Path:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(instance_yaml({}))
    return home


def _materialize(day: str) -> str:
    defs = dg.Definitions(assets=[numbers], jobs=[JOB])
    instance = dg.DagsterInstance.get()
    result = defs.resolve_job_def("numbers_job").execute_in_process(
        partition_key=day, instance=instance
    )
    assert result.success
    return result.run_id


def test_a_run_is_stored_in_dagsters_files_with_one_engine_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instance_storage, "ENGINES", EngineCache())
    home = _home(tmp_path)
    with environment({"DAGSTER_HOME": str(home)}), dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, EngineReusingSqliteEventLogStorage)
        run_id = _materialize("2026-11-01")
        _materialize("2026-11-02")
        # what a reader of the instance sees: the run, its events, the asset's partitions
        assert instance.get_run_by_id(run_id).is_success
        assert any(e.dagster_event_type for e in instance.all_logs(run_id))
        assert instance.get_materialized_partitions(dg.AssetKey("numbers")) == {
            "2026-11-01",
            "2026-11-02",
        }
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("numbers"), "three")]
        )
        assert len(check) == 1
    # Dagster's own layout under DAGSTER_HOME
    assert (home / "history" / "runs.db").exists()
    assert (home / "history" / "runs" / f"{run_id}.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()
    assert (home / "schedules" / "schedules.db").exists()
    # one engine per file: runs, schedules, the index shard and the two runs' shards
    kept = list(instance_storage.ENGINES._engines)
    assert len(kept) == len(set(kept)) == 5, kept


def test_a_copied_home_is_read_where_it_now_is(tmp_path: Path) -> None:
    """dagster.yaml names DAGSTER_HOME by reference: a lake's copy (tests/lakes.py, a moved
    lake) reads its own files, not the original's."""
    original = _home(tmp_path / "a")
    with environment({"DAGSTER_HOME": str(original)}):
        first = _materialize("2026-11-01")
    copy = tmp_path / "b" / "dagster_home"
    shutil.copytree(original, copy)
    with environment({"DAGSTER_HOME": str(copy)}):
        second = _materialize("2026-11-02")
        with dg.DagsterInstance.get() as instance:
            assert {r.run_id for r in instance.get_runs()} == {first, second}
            assert instance.get_ref().storage_data.class_name == EngineReusingSqliteStorage.__name__
    with environment({"DAGSTER_HOME": str(original)}), dg.DagsterInstance.get() as instance:
        assert [r.run_id for r in instance.get_runs()] == [first]


def test_the_cache_keeps_the_most_recent_engines() -> None:
    cache = EngineCache(size=2)
    a = cache.get("sqlite:///:memory:")
    cache.get("sqlite:////tmp/b.db")
    assert cache.get("sqlite:///:memory:") is a  # a is now the most recent
    cache.get("sqlite:////tmp/c.db")  # b goes
    assert list(cache._engines) == ["sqlite:///:memory:", "sqlite:////tmp/c.db"]
