"""`wdc doctor`'s checks of what the platform talks to: the DuckLake catalog, Postgres and S3
when configured, and the UI's port. Short timeouts: a missing service costs seconds."""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path

import duckdb

from wdc_orchestration.lakehouse.connection import attach_ducklake
from wdc_orchestration.ops.doctor.findings import Finding, fail, first_line, ok, skip
from wdc_orchestration.ops.doctor.local import duckdb_connection, folder_problem
from wdc_orchestration.settings import Settings, mask_secrets

NETWORK_TIMEOUT_S = 3.0


# --- the DuckLake catalog -----------------------------------------------------------------------


def check_catalog(settings: Settings) -> Finding:
    item = "DuckLake catalog"
    catalog = settings.ducklake_catalog
    if catalog.startswith("sqlite:"):
        path = Path(catalog.removeprefix("sqlite:"))
        if not path.exists():
            problem = folder_problem(path.parent)
            if problem:
                return fail(item, problem, "point WDC_DUCKLAKE_CATALOG at a writable place")
            return ok(item, f"{catalog}: not created yet (the first `wdc materialize` does)")
    if catalog.startswith("postgres:") and "connect_timeout" not in catalog:
        # libpq waits for ever on a server that accepts the connection and never answers
        catalog = f"{catalog} connect_timeout={int(NETWORK_TIMEOUT_S)}"
    try:
        with duckdb_connection(settings.duckdb_extension_dir) as con:
            attach_ducklake(
                con,
                f"ATTACH 'ducklake:{catalog}' AS lakehouse "
                f"(DATA_PATH '{settings.ducklake_data_path}', READ_ONLY)",
            )
            tables = con.execute(
                "select count(*) from duckdb_tables() where database_name = 'lakehouse'"
            ).fetchone()[0]
    except (ImportError, RuntimeError):  # an extension's package is missing or broken
        return fail(item, "cannot attach it without the DuckDB extensions", "see above")
    except duckdb.Error as error:
        shown = mask_secrets(catalog)
        return fail(item, f"cannot attach {shown}: {first_line(error)}", _catalog_fix(catalog))
    return ok(item, f"{mask_secrets(catalog)}: attached read-only, {tables} tables")


def _catalog_fix(catalog: str) -> str:
    if catalog.startswith("postgres:"):
        return "check WDC_DUCKLAKE_CATALOG's host, port, database and credentials"
    return "check WDC_DUCKLAKE_CATALOG (or move the broken file away and materialise again)"


def check_postgres(settings: Settings) -> Finding:
    item = "Postgres"
    catalog = settings.ducklake_catalog
    if not catalog.startswith("postgres:"):
        return skip(item, "not configured (WDC_DUCKLAKE_CATALOG is not postgres:...)")
    params = dict(re.findall(r"(\w+)=(\S+)", catalog.removeprefix("postgres:")))
    host = params.get("host") or os.environ.get("PGHOST", "localhost")
    port = int(params.get("port") or os.environ.get("PGPORT", "5432"))
    if host.startswith("/"):  # a Unix socket folder
        address = str(Path(host) / f".s.PGSQL.{port}")
        reachable = _unix_socket_reachable(address)
    else:
        address = f"{host}:{port}"
        reachable = _tcp_reachable(host, port)
    if reachable is not None:
        return fail(item, f"{address} unreachable: {reachable}", "start Postgres or fix the host")
    return ok(item, f"{address} accepts connections")


def _tcp_reachable(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=NETWORK_TIMEOUT_S):
            return None
    except OSError as error:
        return error.strerror or str(error)


def _unix_socket_reachable(path: str) -> str | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(NETWORK_TIMEOUT_S)
        try:
            sock.connect(path)
        except OSError as error:
            return error.strerror or str(error)
    return None


# --- S3 -----------------------------------------------------------------------------------------


def check_s3(settings: Settings) -> Finding:
    if settings.lake_is_local:
        return skip("S3", "not configured (WDC_LAKE_URL is a folder)")
    return check_s3_lake(settings, item="S3")


def check_s3_lake(settings: Settings, item: str = "lake writable") -> Finding:
    """The bucket answers (S3 item) or takes a write (lake item): a probe object, put and
    deleted under the lake's prefix."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = settings.lake_url.removeprefix("s3://").partition("/")
    client = boto3.client(
        "s3",
        endpoint_url=os.environ.get("WDC_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or None,
        config=Config(
            connect_timeout=NETWORK_TIMEOUT_S,
            read_timeout=NETWORK_TIMEOUT_S,
            retries={"max_attempts": 1},
        ),
    )
    probe = "/".join(p for p in (prefix.strip("/"), "_doctor", "probe") if p)
    try:
        client.head_bucket(Bucket=bucket)
        if item != "S3":
            client.put_object(Bucket=bucket, Key=probe, Body=b"wdc doctor")
            client.delete_object(Bucket=bucket, Key=probe)
    except (BotoCoreError, ClientError) as error:
        return fail(
            item,
            f"{settings.lake_url}: {first_line(error)}",
            "check WDC_LAKE_URL, WDC_S3_ENDPOINT_URL and the AWS_* credentials",
        )
    endpoint = os.environ.get("WDC_S3_ENDPOINT_URL") or "AWS"
    return ok(
        item, f"{settings.lake_url} on {endpoint}: " + ("reachable" if item == "S3" else "writable")
    )


# --- ports --------------------------------------------------------------------------------------


def check_port(port: int, host: str = "127.0.0.1") -> Finding:
    item = f"port {port}"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return fail(
                    item,
                    f"{host}:{port} is in use (a Dagster UI already running?)",
                    f"stop it, or `wdc dev -p {port + 1}` (and `wdc doctor --port {port + 1}`)",
                )
            return fail(item, f"cannot bind {host}:{port}: {error.strerror}", "choose another port")
    return ok(item, f"{host}:{port} is free for the Dagster UI")
