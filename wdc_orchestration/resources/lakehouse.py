"""The lakehouse: an in-memory DuckDB with the DuckLake catalog attached, as dbt sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from wdc_orchestration.lakehouse.catalog_lock import catalog_writer
from wdc_orchestration.lakehouse.connection import (
    attach_ducklake,
    configure_duckdb,
    connection_config,
)
from wdc_orchestration.lakehouse.extensions import ensure_extensions
from wdc_orchestration.settings import (
    MASK,
    S3Settings,
    Settings,
    ducklake_catalog_from_env,
    is_s3,
    mask_secrets,
)

LAKEHOUSE_ALIAS = "lakehouse"


class DuckLakeResource(DuckDBResource):
    """DuckDBResource whose connections see the DuckLake catalog as `lakehouse` (the same catalog
    and data path dbt's profile attaches), with extensions from the project-local directory and,
    for an `s3://` lake or data path, the S3 access dbt's DuckDB gets (lakehouse/connection.py).

    No credential is a field (fields show in the UI and in run config): they are read from the
    environment when a connection opens, as dbt's plugin reads them. That includes a `password=`
    in WDC_DUCKLAKE_CATALOG: the field holds the catalog with its secrets masked
    (`mask_secrets`), and the connection takes the real one from the environment."""

    ducklake_catalog: str
    data_path: str
    extension_dir: str
    # The lake root, for readers of raw files through this connection (s3:// needs the secret).
    lake_url: str = ""
    read_only: bool = False
    # Where each connection's DuckDB spills (WDC_DUCKDB_TEMP_DIR; duckdb_setup.spill_directory).
    temp_dir: str

    def writer(self, pool: str, report: Callable[[str], None]) -> AbstractContextManager[float]:
        """The catalog's writer lock of `pool`, held by a step from its build to its publication
        (lakehouse/catalog_lock.py: why the code enforces what an instance's pool limit may not)."""
        return catalog_writer(self.catalog(), pool, report)

    def catalog(self) -> str:
        """The catalog to attach: the field itself, or, when the field is a masked catalog, the
        environment's WDC_DUCKLAKE_CATALOG it was masked from."""
        if MASK not in self.ducklake_catalog:
            return self.ducklake_catalog
        # A masked catalog came from WDC_DUCKLAKE_CATALOG (the default holds no secret): read
        # that variable alone, when connecting, like the S3 credentials (`_s3`).
        real = ducklake_catalog_from_env()
        if mask_secrets(real) != self.ducklake_catalog:
            raise ValueError(
                f"the lakehouse resource's catalog {self.ducklake_catalog} is masked and "
                "WDC_DUCKLAKE_CATALOG holds another one: set WDC_DUCKLAKE_CATALOG as it was"
            )
        return real

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
                real_catalog = self.catalog()
                configure_duckdb(
                    conn, catalog=real_catalog, s3=self._s3(), temp_root=Path(self.temp_dir)
                )
                options = f"DATA_PATH '{self.data_path}'" + (
                    ", READ_ONLY" if self.read_only else ""
                )
                catalog = f"ducklake:{real_catalog}"
                attach_ducklake(
                    conn, f"ATTACH IF NOT EXISTS '{catalog}' AS {LAKEHOUSE_ALIAS} ({options})"
                )
                conn.execute(f"USE {LAKEHOUSE_ALIAS}")
                yield conn
            finally:
                conn.close()


def lakehouse_from_settings(settings: Settings) -> DuckLakeResource:
    return DuckLakeResource(
        database=":memory:",
        connection_config=connection_config(settings),
        ducklake_catalog=mask_secrets(settings.ducklake_catalog),
        data_path=settings.ducklake_data_path,
        extension_dir=str(settings.duckdb_extension_dir),
        lake_url=settings.lake_url,
        temp_dir=str(settings.duckdb_temp_dir),
    )
