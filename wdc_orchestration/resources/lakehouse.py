"""The lakehouse: an in-memory DuckDB with the DuckLake catalog attached, as dbt sees it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from wdc_orchestration.duckdb_extensions import ensure_extensions
from wdc_orchestration.settings import Settings

LAKEHOUSE_ALIAS = "lakehouse"


class DuckLakeResource(DuckDBResource):
    """DuckDBResource whose connections see the DuckLake catalog as `lakehouse` (the same catalog
    and data path dbt's profile attaches), with extensions from the project-local directory."""

    ducklake_catalog: str
    data_path: str
    extension_dir: str
    read_only: bool = False

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        ensure_extensions(Path(self.extension_dir))
        if self.ducklake_catalog.startswith("sqlite:"):
            Path(self.ducklake_catalog.removeprefix("sqlite:")).parent.mkdir(
                parents=True, exist_ok=True
            )
        with super().get_connection() as conn:
            # Closed here whatever happens: dagster-duckdb's get_connection closes only when the
            # block ends normally, and a connection left open after an error keeps the SQLite
            # catalog locked for the next writer ("database is locked" at its COMMIT).
            try:
                options = f"DATA_PATH '{self.data_path}'" + (
                    ", READ_ONLY" if self.read_only else ""
                )
                catalog = f"ducklake:{self.ducklake_catalog}"
                conn.execute(f"ATTACH IF NOT EXISTS '{catalog}' AS {LAKEHOUSE_ALIAS} ({options})")
                conn.execute(f"USE {LAKEHOUSE_ALIAS}")
                yield conn
            finally:
                conn.close()


def lakehouse_from_settings(settings: Settings) -> DuckLakeResource:
    return DuckLakeResource(
        database=":memory:",
        connection_config={
            "extension_directory": str(settings.duckdb_extension_dir),
            "autoinstall_known_extensions": False,
        },
        ducklake_catalog=settings.ducklake_catalog,
        data_path=settings.ducklake_data_path,
        extension_dir=str(settings.duckdb_extension_dir),
    )
