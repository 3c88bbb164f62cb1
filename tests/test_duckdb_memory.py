"""DuckDB's memory limit and spill folders (lakehouse/connection.py): each instance the platform
opens is capped and spills into a folder of its own, so two instances spilling at once get right
answers."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import duckdb
import pytest

from wdc_orchestration.lakehouse.connection import connect_duckdb
from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
from wdc_orchestration.settings import environment, get_settings, isolated_lake_env

# Sorting this many wide rows needs far more than the limit below: DuckDB has to spill.
ROWS = 3_000_000
QUERY = f"""
    SELECT sum(i * position) FROM (
        SELECT i, row_number() OVER (ORDER BY md5(i::VARCHAR)) AS position,
               md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS padding
        FROM range({ROWS}) t(i)
    )
"""


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return con.execute(f"SELECT current_setting('{name}')").fetchone()[0]


def test_the_limit_and_a_spill_folder_of_its_own_reach_every_connection(tmp_path: Path) -> None:
    env = {**isolated_lake_env(tmp_path), "WDC_DUCKDB_MEMORY_LIMIT": "300MB"}
    env["WDC_DUCKDB_TEMP_DIR"] = str(tmp_path / "spill")
    with environment(env):
        settings = get_settings()
        assert settings.dbt_env()["WDC_DUCKDB_MEMORY_LIMIT"] == "300MB"
        with (
            connect_duckdb(settings) as plain,
            lakehouse_from_settings(settings).get_connection() as lakehouse,
        ):
            folders = {_setting(plain, "temp_directory"), _setting(lakehouse, "temp_directory")}
            limits = {_setting(plain, "memory_limit"), _setting(lakehouse, "memory_limit")}
    assert len(folders) == 2, folders
    assert all(folder.startswith(str(tmp_path / "spill")) for folder in folders)
    assert limits == {"286.1 MiB"}, limits


def test_two_instances_spilling_at_once_both_get_the_right_answer(tmp_path: Path) -> None:
    with duckdb.connect() as reference:
        expected = reference.execute(QUERY).fetchone()[0]
    env = {**isolated_lake_env(tmp_path), "WDC_DUCKDB_MEMORY_LIMIT": "64MB"}
    env["WDC_DUCKDB_TEMP_DIR"] = str(tmp_path / "spill")
    results: dict[int, object] = {}

    def run(index: int) -> None:
        try:
            with connect_duckdb(get_settings()) as con:
                con.execute("SET threads = 1")
                results[index] = con.execute(QUERY).fetchone()[0]
        except Exception as error:  # the failure reaches the assertion below, with its message
            results[index] = error

    with environment(env):
        # the query does not fit in the limit: without a spill folder it fails
        with connect_duckdb(get_settings()) as con:
            con.execute("SET threads = 1")
            con.execute("SET temp_directory = ''")
            with pytest.raises(duckdb.OutOfMemoryException):
                con.execute(QUERY)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {0: expected, 1: expected}
    # each folder is removed when its instance closes
    assert not any((tmp_path / "spill").glob("*/*"))


def test_a_killed_process_s_spill_folder_goes_a_running_or_remote_one_s_stays(
    tmp_path: Path,
) -> None:
    spill = tmp_path / "spill"
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid runs nothing now
    dead.wait()
    host = socket.gethostname().replace("-", "_")
    orphan = spill / f"{host}-{dead.pid}-0123456789ab"
    alive = spill / f"{host}-{os.getpid()}-ba9876543210"
    elsewhere = spill / f"another_machine-{dead.pid}-0123456789ab"  # its pids are not ours
    for folder in (orphan, alive, elsewhere):
        folder.mkdir(parents=True)
        (folder / "duckdb_temp_storage_S32K-0.tmp").write_bytes(b"spilled")
    env = {**isolated_lake_env(tmp_path), "WDC_DUCKDB_TEMP_DIR": str(spill)}
    with environment(env), connect_duckdb(get_settings()):
        pass
    assert not orphan.exists()
    assert alive.exists() and elsewhere.exists()
