"""A DuckDB connection that reaches the data products and nothing else: what a consumer-facing
reader (the portal, the KPI assets) is given instead of the platform's lakehouse connection.

Two locks, because DuckDB has no per-schema grants:
- DuckDB's own: the DuckLake catalog is attached READ_ONLY, file access is limited to the
  products' files (DuckDB's `allowed_directories` with `enable_external_access` off) and the
  configuration is locked. Raw files cannot be read, so neither can the staging views over them;
  nothing can be written, attached or copied out.
- The reader's: every query is parsed (sqlglot) and refused unless each relation it reads is a
  product's SQL port (`lakehouse.<domain>.<product>`), a CTE of the query, or a read of the file
  ports. It also keeps out what the file lock cannot: rows DuckLake inlined into its
  metadata catalog (small tables), and the metadata catalog itself.
DuckLake's data files are read through DuckDB's file system, so the first lock holds for them
too: only the folders of the products' tables are allowed (found in the DuckLake metadata before
the lock), and a private table's files cannot be read even by a query that got past the second.
The connection is rebuilt when the catalog moves on, so a new run's tables and rows are visible."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from sqlglot import exp, parse
from sqlglot.errors import SqlglotError

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.governance.publications import list_publications
from wdc_orchestration.lakehouse.connection import attach_ducklake, configure_s3
from wdc_orchestration.lakehouse.extensions import ensure_extensions
from wdc_orchestration.settings import S3Settings, Settings, is_remote

log = logging.getLogger(__name__)

ALIAS = "lakehouse"
# File-reading table functions a query may use, on the file ports only (DuckDB enforces where).
_FILE_FUNCTIONS = (exp.ReadParquet, exp.ReadCSV)
_FILE_FUNCTION_NAMES = {"read_parquet", "read_json", "read_json_auto", "parquet_scan"}


class ProductAccessError(PermissionError):
    """A query that reads something other than a data product."""


@dataclass(frozen=True)
class Snapshot:
    """A DuckLake snapshot that changed a product's table."""

    snapshot_id: int
    time: Any  # datetime with time zone
    changes: dict[str, list[str]]
    commit_message: str | None
    commit_extra_info: str | None


def product_table_folders(
    conn: duckdb.DuckDBPyConnection, data_path: str, products: Iterable[tuple[str, str]]
) -> list[str]:
    """The folders of the DuckLake data files of every table that ever had a product's name
    (dbt builds a table under a temporary name and renames it: its files stay in that folder)."""
    metadata = f"__ducklake_metadata_{ALIAS}"
    wanted = set(products)
    folders = set()
    for schema, table, schema_path, schema_relative, table_path, table_relative in conn.execute(
        f"SELECT s.schema_name, t.table_name, s.path, s.path_is_relative, t.path, "
        f"t.path_is_relative FROM {metadata}.ducklake_table t "
        f"JOIN {metadata}.ducklake_schema s USING (schema_id)"
    ).fetchall():
        if (schema, table) not in wanted:
            continue
        base = (data_path.rstrip("/") + "/" + schema_path) if schema_relative else schema_path
        folder = (base.rstrip("/") + "/" + table_path) if table_relative else table_path
        folders.add(folder.rstrip("/") + "/")
    return sorted(folders)


def products_connection(
    settings: Settings, products: Iterable[tuple[str, str]]
) -> duckdb.DuckDBPyConnection:
    """DuckDB with the lakehouse attached read-only and file access locked to the products'
    files: their DuckLake tables' folders and the file ports. `products`: (domain, name) pairs."""
    ensure_extensions(settings.duckdb_extension_dir)
    conn = duckdb.connect(
        config={
            "extension_directory": str(settings.duckdb_extension_dir),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
        }
    )
    if is_remote(settings.lake_url) or is_remote(settings.ducklake_data_path):
        # The platform's own S3 secret (endpoint, region, URL style, static credentials or the
        # AWS credential chain: roles work here as they do for dbt's DuckDB).
        configure_s3(conn, settings.s3 or S3Settings.from_env())
    attach_ducklake(
        conn,
        f"ATTACH 'ducklake:{settings.ducklake_catalog}' AS {ALIAS} "
        f"(DATA_PATH '{settings.ducklake_data_path}', READ_ONLY)",
    )
    # Values read as text the same on every host (the platform's dbt profile does the same).
    conn.execute("SET TimeZone = 'UTC'")
    file_ports = settings.lake_url.rstrip("/") + "/products/"
    folders = product_table_folders(conn, settings.ducklake_data_path, products)
    conn.execute("SET allowed_directories = ?", [[file_ports, *folders]])
    conn.execute("SET enable_external_access = false")
    conn.execute("SET lock_configuration = true")
    return conn


def _file_function_name(table: exp.Table) -> str | None:
    function = table.this
    if isinstance(function, _FILE_FUNCTIONS):
        return type(function).__name__.lower()
    if isinstance(function, exp.Anonymous):
        return str(function.name).lower()
    if isinstance(function, exp.Func):
        return function.sql_name().lower()
    return None


def check_product_query(sql: str, ports: Iterable[str]) -> None:
    """Raise ProductAccessError unless `sql` is one read-only query whose relations are all in
    `ports` (`lakehouse.<domain>.<product>`), its own CTEs, or file-port reads."""
    allowed = {port.lower() for port in ports}
    try:
        statements = [s for s in parse(sql, dialect="duckdb") if s is not None]
    except SqlglotError as error:
        raise ProductAccessError(f"not a query the portal can check: {error}") from error
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ProductAccessError("only one SELECT query is allowed on the products")
    query = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            name = _file_function_name(table)
            if name in _FILE_FUNCTION_NAMES or name in ("readparquet",):
                continue
            raise ProductAccessError(f"table function {table.this.sql('duckdb')} is not allowed")
        parts = [p.lower() for p in (table.catalog, table.db, table.name) if p]
        relation = ".".join(parts)
        if len(parts) == 1 and parts[0] in ctes:
            continue
        if relation not in allowed:
            raise ProductAccessError(
                f"{relation} is not a data product's port: only products can be read here"
            )


class ProductReader:
    """Queries on the products, thread-safe (one DuckDB connection behind a lock)."""

    def __init__(self, settings: Settings, descriptors: Mapping[str, ProductDescriptor]) -> None:
        self.settings = settings
        self.descriptors = dict(descriptors)
        self._lock = threading.RLock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._snapshot_seen: int | None = None

    @property
    def _products(self) -> list[tuple[str, str]]:
        return [(d.domain, d.name) for d in self.descriptors.values()]

    @property
    def ports(self) -> list[str]:
        return [d.sql_port for d in self.descriptors.values()]

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """The connection, reopened when DuckLake has a newer snapshot than the one it saw
        (DuckLake caches its catalog per attachment)."""
        if self._conn is None:
            self._conn = products_connection(self.settings, self._products)
        (latest,) = self._conn.execute(f"FROM {ALIAS}.current_snapshot()").fetchone()
        if self._snapshot_seen is not None and latest != self._snapshot_seen:
            self._conn.close()
            self._conn = products_connection(self.settings, self._products)
            (latest,) = self._conn.execute(f"FROM {ALIAS}.current_snapshot()").fetchone()
        self._snapshot_seen = latest
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def raw_connection(self) -> duckdb.DuckDBPyConnection:
        """The locked DuckDB connection itself, without the query check (tests prove the DuckDB
        lock holds on its own)."""
        with self._lock:
            return self._connection()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a checked query on the products."""
        check_product_query(sql, self.ports)
        with self._lock:
            return self._connection().execute(sql, params or []).df()

    def descriptor(self, product_id: str) -> ProductDescriptor:
        if product_id not in self.descriptors:
            raise ProductAccessError(f"{product_id} is not a data product")
        return self.descriptors[product_id]

    def preview(self, product_id: str, limit: int = 20, version: int | None = None) -> pd.DataFrame:
        """The first rows of a product through its SQL port (at a DuckLake snapshot if given)."""
        d = self.descriptor(product_id)
        order = ", ".join(f'"{c.name}"' for c in d.columns if c.primary_key) or "all"
        sql = f"SELECT * FROM {time_travel(d, version)} ORDER BY {order} LIMIT {int(limit)}"
        return self.query(sql)

    def row_count(self, product_id: str, version: int | None = None) -> int:
        d = self.descriptor(product_id)
        return int(self.query(f"SELECT count(*) AS n FROM {time_travel(d, version)}")["n"][0])

    def exists(self, product_id: str) -> bool:
        d = self.descriptor(product_id)
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    "SELECT 1 FROM information_schema.tables WHERE table_catalog = ? "
                    "AND table_schema = ? AND table_name = ?",
                    [ALIAS, d.domain, d.name],
                )
                .fetchall()
            )
        return bool(rows)

    def snapshots(self, product_id: str) -> list[Snapshot]:
        """DuckLake snapshots that changed the product's table, newest first."""
        d = self.descriptor(product_id)
        with self._lock:
            conn = self._connection()
            return product_snapshots(conn, d.domain, d.name)


def time_travel(d: ProductDescriptor, version: int | None = None) -> str:
    """The product's SQL port, at a DuckLake snapshot when `version` is given."""
    return d.sql_port + (f" AT (VERSION => {int(version)})" if version is not None else "")


def product_snapshots(conn: duckdb.DuckDBPyConnection, domain: str, name: str) -> list[Snapshot]:
    """The DuckLake snapshots that published `<domain>.<name>` (each run's write-audit-publish
    commit, governance/publications.py), newest first: what a consumer can time-travel to."""
    return [
        Snapshot(
            snapshot_id=p.snapshot_id,
            time=dt.datetime.fromisoformat(p.published_at),
            changes={"published": [f"{'..'.join(dict.fromkeys(p.window))}: {p.rows} rows"]},
            commit_message=f"run {p.run_id[:8]}, window {'..'.join(dict.fromkeys(p.window))}",
            commit_extra_info=None,
        )
        for p in list_publications(conn, domain, name)
    ]
