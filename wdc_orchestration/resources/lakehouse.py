"""The lakehouse: an in-memory DuckDB with the DuckLake catalog attached, as dbt sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from wdc_orchestration.catalog_lock import catalog_writer
from wdc_orchestration.duckdb_extensions import ensure_extensions
from wdc_orchestration.duckdb_setup import configure_duckdb, connection_config
from wdc_orchestration.settings import S3Settings, Settings, is_s3

LAKEHOUSE_ALIAS = "lakehouse"


class DuckLakeResource(DuckDBResource):
    """DuckDBResource whose connections see the DuckLake catalog as `lakehouse` (the same catalog
    and data path dbt's profile attaches), with extensions from the project-local directory and,
    for an `s3://` lake or data path, the S3 access dbt's DuckDB gets (duckdb_setup.py).

    No credential is a field (fields show in the UI and in run config): they are read from the
    environment when a connection opens, as dbt's plugin reads them."""

    ducklake_catalog: str
    data_path: str
    extension_dir: str
    # The lake root, for readers of raw files through this connection (s3:// needs the secret).
    lake_url: str = ""
    read_only: bool = False

    def writer(self, pool: str, report: Callable[[str], None]) -> AbstractContextManager[float]:
        """The catalog's writer lock of `pool`, held by a step from its build to its publication
        (catalog_lock.py: why the code enforces what an instance's pool limit may not)."""
        return catalog_writer(self.ducklake_catalog, pool, report)

    def _s3(self) -> S3Settings | None:
        return S3Settings.from_env() if is_s3(self.data_path) or is_s3(self.lake_url) else None

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
                configure_duckdb(conn, catalog=self.ducklake_catalog, s3=self._s3())
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
        connection_config=connection_config(settings),
        ducklake_catalog=settings.ducklake_catalog,
        data_path=settings.ducklake_data_path,
        extension_dir=str(settings.duckdb_extension_dir),
        lake_url=settings.lake_url,
    )
