"""What every DuckDB the platform opens needs to reach the lake and the DuckLake catalog.

dbt's DuckDB (through its storage plugin), the `DuckLakeResource` and the plain connections of
the raw gate all go through `configure_duckdb`, with the settings `settings.py` computes once:

- an `s3://` lake or data path: httpfs, and a DuckDB secret with the endpoint, region, URL style,
  SSL and credentials (`AWS_*` as given, else the AWS credential chain). A secret lives in the
  database instance's memory: every cursor of the connection uses it, and it never appears in
  dbt's compiled SQL, its manifest or a log; and more patient HTTP retries than DuckDB's own;
- a DuckLake catalog to attach: the extension of its database (sqlite_scanner, postgres_scanner)
  and DuckLake's commit retries raised (`ducklake_max_retry_count`), since concurrent writers of
  different pools race for each snapshot.

Extensions come from the project-local directory (lakehouse/extensions.py), never downloaded."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import duckdb

from wdc_orchestration.lakehouse.extensions import ensure_extensions
from wdc_orchestration.processes import process_alive
from wdc_orchestration.settings import (
    S3Settings,
    Settings,
    is_postgres_catalog,
    mask_secrets,
)

log = logging.getLogger(__name__)

SECRET_NAME = "wdc_lake_s3"
# DuckLake's default is 10 tries: with several domains committing to one PostgreSQL catalog a
# transaction can lose the race for the next snapshot id more often than that. A retried commit
# rewrites no data files (ducklake.select: conflict resolution), so many tries are cheap.
DUCKLAKE_MAX_RETRY_COUNT = 100
# httpfs retries each failed S3 request (a refused or reset connection, a 5xx) before the query
# fails: after 0.25, 0.5, 1, 2 and 4 s, so a blip of a few seconds costs no step. A longer outage
# fails the query, and the step is retried as a whole (lakehouse/faults.py). DuckDB's default: 3
# tries in
# 2.1 s.
HTTP_RETRIES = 5
HTTP_RETRY_WAIT_MS = 250
HTTP_RETRY_BACKOFF = 2


def connection_config(settings: Settings) -> dict[str, Any]:
    """Connect-time options: extensions only from the project-local directory, and a memory
    limit past which DuckDB spills (Settings says why; where: `configure_duckdb`)."""
    return {
        "extension_directory": str(settings.duckdb_extension_dir),
        "autoinstall_known_extensions": False,
        "memory_limit": settings.duckdb_memory_limit,
    }


def spill_directory(conn: duckdb.DuckDBPyConnection, temp_root: Path) -> None:
    """Give this DuckDB instance a spill folder of its own under `temp_root`. DuckDB names its
    spill files the same in every instance, so two instances spilling into one folder (two
    processes, or dbt's DuckDB and the lakehouse resource's in one) read each other's blocks,
    and the first to close deletes the other's (duckdb/duckdb#15173). DuckDB creates the folder
    when it first spills and removes it when the instance closes; a killed process's folders
    are removed by the next process that opens one."""
    (current,) = conn.execute("SELECT current_setting('temp_directory')").fetchone()
    if str(current).startswith(str(temp_root)):
        return  # set before; it cannot change once the instance has spilled
    temp_root.mkdir(parents=True, exist_ok=True)  # DuckDB creates the last level only
    _remove_orphans(temp_root)
    folder = temp_root / f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    conn.execute(f"SET GLOBAL temp_directory = {_literal(str(folder))}")


def _host() -> str:
    return socket.gethostname().replace("-", "_")


def _remove_orphans(temp_root: Path) -> None:
    """Remove the spill folders of this machine's processes that no longer run (killed before
    DuckDB closed). Another machine's are left alone: a shared folder cannot tell whether they
    are alive."""
    for folder in temp_root.iterdir():
        host, _, rest = folder.name.partition("-")
        pid = rest.partition("-")[0]
        if host == _host() and pid.isdigit() and not process_alive(int(pid)):
            log.info("removing the spill folder of ended process %s: %s", pid, folder)
            shutil.rmtree(folder, ignore_errors=True)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def s3_secret_sql(s3: S3Settings) -> str:
    """`CREATE SECRET` for the lake. Holds credentials: executed, never logged or stored."""
    options = [
        "TYPE s3",
        f"REGION {_literal(s3.region)}",
        f"URL_STYLE {_literal(s3.url_style)}",
        f"USE_SSL {'true' if s3.use_ssl else 'false'}",
    ]
    if s3.endpoint_host:
        options.append(f"ENDPOINT {_literal(s3.endpoint_host)}")
    if s3.has_static_credentials:
        options += [
            "PROVIDER config",
            f"KEY_ID {_literal(s3.access_key_id or '')}",
            f"SECRET {_literal(s3.secret_access_key or '')}",
        ]
        if s3.session_token:
            options.append(f"SESSION_TOKEN {_literal(s3.session_token)}")
    else:
        # profile files, SSO, web identity, ECS task or EC2 instance roles (the aws extension)
        options.append("PROVIDER credential_chain")
    return f"CREATE OR REPLACE SECRET {SECRET_NAME} ({', '.join(options)})"


def configure_s3(conn: duckdb.DuckDBPyConnection, s3: S3Settings) -> None:
    """httpfs, its retries and the lake's S3 secret (static credentials as given, else the AWS
    credential chain): every DuckDB of the platform that reads the lake, the portal's too."""
    conn.execute("LOAD httpfs")
    # Global settings: the cursors dbt-duckdb makes from this connection retry alike.
    conn.execute(f"SET GLOBAL http_retries = {HTTP_RETRIES}")
    conn.execute(f"SET GLOBAL http_retry_wait_ms = {HTTP_RETRY_WAIT_MS}")
    conn.execute(f"SET GLOBAL http_retry_backoff = {HTTP_RETRY_BACKOFF}")
    if not s3.has_static_credentials:
        conn.execute("LOAD aws")
    conn.execute(s3_secret_sql(s3))


def configure_duckdb(
    conn: duckdb.DuckDBPyConnection,
    *,
    catalog: str | None,
    s3: S3Settings | None,
    temp_root: Path,
) -> None:
    """Give `conn` what the lake and the catalog need, before any ATTACH or read. Idempotent.
    `catalog`: the DuckLake catalog the connection will attach (None: it attaches none, and
    loads no catalog extension; each LOAD costs 0.1-0.3 s of a new connection). `temp_root`:
    where its spill folder goes (the settings' WDC_DUCKDB_TEMP_DIR)."""
    spill_directory(conn, temp_root)
    if s3 is not None:
        configure_s3(conn, s3)
    if catalog is None:
        return
    conn.execute("LOAD ducklake")
    # A global setting: the cursors dbt-duckdb makes from this connection retry too. On either
    # catalog: the writers of one pool take turns (lakehouse/catalog_lock.py), but readers and
    # writers of other pools still commit beside them.
    conn.execute(f"SET GLOBAL ducklake_max_retry_count = {DUCKLAKE_MAX_RETRY_COUNT}")
    if is_postgres_catalog(catalog):
        conn.execute("LOAD postgres_scanner")
    elif catalog.startswith("sqlite:") or ":" not in catalog:
        conn.execute("LOAD sqlite_scanner")


def attach_ducklake(conn: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Run an `ATTACH 'ducklake:<catalog>' ...` statement. DuckDB's error for a catalog it cannot
    reach repeats the whole connection string, `password=...` included, and that message reaches
    a step's failure in the Dagster UI, the portal's pages and `wdc doctor`: it is raised again
    with the secrets masked, outside the handler, so no traceback chains the original."""
    try:
        conn.execute(statement)
        return
    except duckdb.Error as error:
        kind, message = type(error), mask_secrets(str(error))
    raise kind(message)


def connect_duckdb(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A plain in-memory DuckDB (no catalog attached) that reads the lake wherever it is."""
    ensure_extensions(settings.duckdb_extension_dir)
    conn = duckdb.connect(config=connection_config(settings))
    try:
        configure_duckdb(conn, catalog=None, s3=settings.s3, temp_root=settings.duckdb_temp_dir)
    except Exception:
        conn.close()
        raise
    return conn
