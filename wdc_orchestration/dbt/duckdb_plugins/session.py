"""dbt-duckdb plugin (profiles.yml `plugins:`): what a run of the platform tells dbt, as DuckDB
session variables on every cursor dbt uses (session variables are per connection, and dbt-duckdb
gives every node its own cursor, hence `configure_cursor`):

- the run window (`wdc_min_date`, `wdc_max_date`), read by the window macros
  (dbt_project/macros/window.sql); see lakehouse/run_window.py for why it is not a dbt var;
- the raw read set: per raw source, the list of files its landed days' manifests list
  (`wdc_raw__<domain>__<entity>`), which the sources read instead of globbing the folders
  (raw/read_set.py says why). The orchestrator names the sources of the domain it runs
  (`WDC_RUN_SOURCES`); a plain `dbt` run outside the platform gets every source on the lake."""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from wdc_orchestration.lakehouse.run_window import (
    DUCKDB_VARIABLES,
    RunWindow,
    sources_from_env,
    window_from_env,
)


def set_run_window(conn: DuckDBPyConnection, window: RunWindow | None) -> None:
    if window is None:
        return
    for env_name, value in window.as_env().items():
        # ISO dates validated by RunWindow: safe to inline.
        conn.execute(f"SET VARIABLE {DUCKDB_VARIABLES[env_name]} = DATE '{value}'")


def set_read_sets(conn: DuckDBPyConnection, read_sets: dict[str, list[str]]) -> None:
    for variable, files in read_sets.items():
        conn.execute(f"SET VARIABLE {variable} = ?::VARCHAR[]", [files])


def prepare_session(conn: DuckDBPyConnection, window: RunWindow | None = None) -> None:
    """Give a plain connection what dbt's cursors get, so it can read a staging view outside
    dbt (every landed source's read set; the window when given)."""
    set_run_window(conn, window)
    set_read_sets(conn, _read_sets(window, everything=True))


def _read_sets(window: RunWindow | None, everything: bool = False) -> dict[str, list[str]]:
    from wdc_orchestration.raw.read_set import landed_sources, read_sets
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_orchestration.settings import get_settings

    lake = lake_storage_from_settings(get_settings())
    sources = None if everything else sources_from_env(os.environ)
    return read_sets(lake, sources if sources is not None else landed_sources(lake), window)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # Once per dbt invocation (the runner closes dbt-duckdb's database after each): a bad
        # window, or a raw day that no longer matches its manifest, fails it before any model.
        self._window = window_from_env(os.environ)
        self._read_sets = _read_sets(self._window)

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        self.configure_cursor(conn)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        set_run_window(cursor, self._window)
        set_read_sets(cursor, self._read_sets)
