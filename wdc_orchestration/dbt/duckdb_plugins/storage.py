"""dbt-duckdb plugin (profiles.yml `plugins:`, listed first): gives dbt's DuckDB the lake and the
catalog it needs before dbt-duckdb ATTACHes the DuckLake catalog (plugins configure the connection
first): the S3 secret for an `s3://` lake or data path, the postgres_scanner extension and
DuckLake's commit retries for a PostgreSQL catalog. The same `configure_duckdb` as the Python
resources, with the same settings (settings.py): one setting, two users.

The secret is created on the connection dbt-duckdb opens, in the database instance's secret
manager, so every cursor dbt makes from it (one per node and thread) uses it."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from wdc_orchestration.lakehouse.connection import configure_duckdb
from wdc_orchestration.settings import get_settings


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        # Read when dbt opens its database (once per invocation: dbt/runner.py closes it after).
        settings = get_settings()
        configure_duckdb(
            conn,
            catalog=settings.ducklake_catalog,
            s3=settings.s3,
            temp_root=settings.duckdb_temp_dir,
        )
