"""dbt-duckdb plugin (profiles.yml `plugins:`): registers `wdc_pseudonymise(varchar) -> varchar`
on dbt's DuckDB connection, computing HMAC-SHA256 with the key from the environment.

The dbt macro `pseudonymise(column)` (macros/governance/pseudonymise.sql) calls it, so compiled
SQL only ever contains the function's name; the key stays in this process's memory."""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from wdc_orchestration.governance.pseudonymisation import pseudonymisation_key, pseudonymise

FUNCTION_NAME = "wdc_pseudonymise"


def register_pseudonymise(conn: DuckDBPyConnection) -> None:
    key = pseudonymisation_key()

    def _hmac(value: Any) -> str | None:
        return pseudonymise(value, key)

    conn.create_function(FUNCTION_NAME, _hmac, [VARCHAR], VARCHAR, side_effects=False)


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_pseudonymise(conn)
