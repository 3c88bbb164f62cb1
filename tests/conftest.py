"""Shared fixtures: a temporary lake, catalog and Dagster instance for the whole session, and the
mesh materialised into it for real at a tiny scale factor."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from wdc_orchestration.settings import environment, get_settings, isolated_lake_env

TEST_SCALE_FACTOR = 0.01
DAY_1 = "2026-11-01"
DAY_2 = "2026-11-02"
DAY_3_DEFECT = "2026-11-03"  # a day a test plants defects in (on its own copy of the lake)


@dataclass(frozen=True)
class MeshLake:
    root: Path

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Plain DuckDB with the lakehouse attached read-only, as a consumer sees it."""
        settings = get_settings()
        con = duckdb.connect(
            config={
                "extension_directory": str(settings.duckdb_extension_dir),
                "autoinstall_known_extensions": False,
            }
        )
        con.execute(
            f"ATTACH 'ducklake:{settings.ducklake_catalog}' AS lakehouse "
            f"(DATA_PATH '{settings.ducklake_data_path}', READ_ONLY)"
        )
        return con

    def scalar(self, sql: str) -> object:
        with self.connect() as con:
            return con.execute(sql).fetchone()[0]


def copy_lake(source: MeshLake, target: Path) -> MeshLake:
    """The lake, catalog and instance of `source`, copied under `target`; DuckLake's catalog is
    told its data now lives in the copy (its data files are stored relative to that path)."""
    shutil.copytree(source.root / "lake", target / "lake")
    shutil.copytree(source.root / "catalog", target / "catalog")
    shutil.copytree(source.root / "dagster_home", target / "dagster_home")
    with sqlite3.connect(target / "catalog" / "wdc.sqlite") as catalog:
        catalog.execute(
            "update ducklake_metadata set value = ? where key = 'data_path'",
            (str(target / "lake" / "lakehouse") + "/",),
        )
    return MeshLake(target)


@pytest.fixture(scope="session")
def test_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshLake]:
    """Everything a run writes goes to the session's temporary folder; the extension directory
    stays project-local (it is a cache of the PyPI wheels, not state)."""
    root = tmp_path_factory.mktemp("wdc")
    settings = {
        **isolated_lake_env(root),
        "WDC_SEED": "42",
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
    }
    with environment(settings):
        yield MeshLake(root)


@pytest.fixture(scope="session")
def two_days(test_lake: MeshLake) -> MeshLake:
    """The whole mesh materialised for two consecutive days through `wdc materialize`."""
    from wdc_orchestration.cli import main

    exit_code = main(["materialize", "--start", DAY_1, "--end", DAY_2, "--log-level", "WARNING"])
    assert exit_code == 0, "wdc materialize failed: see the log above"
    return test_lake
