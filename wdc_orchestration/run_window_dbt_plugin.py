"""dbt-duckdb plugin (profiles.yml `plugins:`): sets the run window the orchestrator put in the
environment as DuckDB session variables on every cursor dbt uses, where the window macros
(dbt_project/macros/window.sql) read them with getvariable(). Session variables are per DuckDB
connection, and dbt-duckdb gives every node its own cursor, hence `configure_cursor`."""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from wdc_orchestration.run_window import DUCKDB_VARIABLES, RunWindow, window_from_env


def set_run_window(conn: DuckDBPyConnection, window: RunWindow | None) -> None:
    if window is None:
        return
    for env_name, value in window.as_env().items():
        # ISO dates validated by RunWindow: safe to inline.
        conn.execute(f"SET VARIABLE {DUCKDB_VARIABLES[env_name]} = DATE '{value}'")


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # Read once per dbt process: a bad window fails the invocation before any model runs.
        self._window = window_from_env(os.environ)

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        set_run_window(conn, self._window)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        set_run_window(cursor, self._window)
