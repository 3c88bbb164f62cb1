"""The production storage, by configuration only: the whole mesh for two days on an `s3://` lake
(a real S3 API server that checks signatures), a DuckLake catalog on PostgreSQL and a Dagster
instance on PostgreSQL — and then every table and every Parquet port equals the embedded run of
the same days (the session's `two_days`: local folder, SQLite catalog, SQLite instance)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DAY_1, DAY_2, MeshLake
from tests.infra import PostgresCluster, S3Server
from tests.production import DayOne, production_env
from wdc_orchestration.dbt.duckdb_plugins.session import prepare_session
from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
from wdc_orchestration.settings import DBT_PROJECT_DIR, environment, get_settings

BUCKET = "wdc-production-lake"
CATALOG_DB = "wdc_ducklake"
DAGSTER_DB = "wdc_dagster"


@dataclass(frozen=True)
class ProductionMesh:
    env: dict[str, str]
    root: Path
    postgres: PostgresCluster
    s3: S3Server

    @contextmanager
    def settings_applied(self) -> Iterator[None]:
        with environment(self.env):
            yield


@pytest.fixture(scope="module")
def production(
    two_days: MeshLake,
    s3_postgres_day_one: DayOne,
    postgres: PostgresCluster,
    s3: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> ProductionMesh:
    """`wdc materialize` for the same two days as `two_days`, on S3 and PostgreSQL: the first
    day is the session's (built once by `wdc materialize` with these settings, restored here into
    this module's bucket and databases: tests/production.py), the second is run here."""
    from wdc_orchestration.cli import main

    root = tmp_path_factory.mktemp("production")
    catalog = s3_postgres_day_one.restore(postgres, s3, BUCKET, "mesh/", CATALOG_DB, DAGSTER_DB)
    env = {
        **production_env(root, postgres, s3, catalog, f"s3://{BUCKET}/mesh"),
        "DAGSTER_PG_DB": DAGSTER_DB,
    }
    mesh = ProductionMesh(env, root, postgres, s3)
    with mesh.settings_applied():
        code = main(["materialize", "--start", DAY_2, "--log-level", "WARNING"])
    assert code == 0, "wdc materialize on S3 + PostgreSQL failed: see the log above"
    return mesh


@contextmanager
def both_lakehouses(embedded: MeshLake, production: ProductionMesh) -> Iterator[duckdb.Connection]:
    """The production lakehouse through the platform's own resource (S3 secret, PostgreSQL
    catalog, read-only) as `lakehouse`, with the embedded run's catalog attached as `embedded`."""
    embedded_settings = get_settings()
    with production.settings_applied():
        resource = lakehouse_from_settings(get_settings()).model_copy(update={"read_only": True})
        with resource.get_connection() as con:
            con.execute(
                f"ATTACH 'ducklake:{embedded_settings.ducklake_catalog}' AS embedded "
                f"(DATA_PATH '{embedded_settings.ducklake_data_path}', READ_ONLY)"
            )
            yield con


def _relations(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = ? "
        "union all "
        "select schema_name || '.' || view_name from duckdb_views() where database_name = ?",
        [database, database],
    ).fetchall()
    return {name for (name,) in rows}


def _views(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || view_name from duckdb_views() where database_name = ?",
        [database],
    ).fetchall()
    return {name for (name,) in rows}


def _differences(con: duckdb.DuckDBPyConnection, left: str, right: str) -> tuple[int, int, int]:
    """(rows, rows only in left, rows only in right): multiset difference both ways."""
    (rows,) = con.execute(f"select count(*) from {left}").fetchone()
    (only_left,) = con.execute(
        f"select count(*) from (select * from {left} except all select * from {right})"
    ).fetchone()
    (only_right,) = con.execute(
        f"select count(*) from (select * from {right} except all select * from {left})"
    ).fetchone()
    return rows, only_left, only_right


def _products() -> list[str]:
    """`<domain>.<model>` of every data product (public dbt model)."""
    return sorted(
        f"{node['fqn'][1]}.{node['name']}"
        for node in load_manifest()["nodes"].values()
        if node["resource_type"] == "model" and node.get("access") == "public"
    )


PRODUCTS = _products()


def test_the_comparison_covers_every_data_product() -> None:
    assert len(PRODUCTS) == 7 and "sales.fct_orders" in PRODUCTS


@pytest.mark.parametrize("product", PRODUCTS)
def test_each_product_equals_the_embedded_run(
    two_days: MeshLake, production: ProductionMesh, product: str
) -> None:
    with both_lakehouses(two_days, production) as con:
        rows, only_production, only_embedded = _differences(
            con, f"lakehouse.{product}", f"embedded.{product}"
        )
    assert rows > 0
    assert (only_production, only_embedded) == (0, 0), (
        f"{product}: {only_production} rows only on S3+PostgreSQL, "
        f"{only_embedded} only in the embedded run"
    )


def test_every_table_and_view_equals_the_embedded_run(
    two_days: MeshLake, production: ProductionMesh
) -> None:
    with both_lakehouses(two_days, production) as con:
        relations = _relations(con, "lakehouse")
        assert relations == _relations(con, "embedded")
        # The staging views read the raw files their session names (the read set, in session
        # variables of the same names on both lakes): each side's views are read with its own
        # lake's read set, the production side copied first.
        views = _views(con, "lakehouse")
        with production.settings_applied():
            prepare_session(con)
        for name in views:
            con.execute(f'create temp table "prod_{name}" as select * from lakehouse.{name}')
        prepare_session(con)
        differing = {
            name: diff
            for name in sorted(relations)
            if (
                diff := _differences(
                    con,
                    f'temp.main."prod_{name}"' if name in views else f"lakehouse.{name}",
                    f"embedded.{name}",
                )
            )[1:]
            != (0, 0)
        }
    # products, and the staging views (which re-read the raw files from each lake)
    assert set(PRODUCTS) <= relations and any(".stg_" in name for name in relations)
    assert differing == {}


def _port_rows(con: duckdb.DuckDBPyConnection, lake_url: str, product: str) -> str:
    """A relation over the current version of the product's Parquet port (docs/governance.md)."""
    port = f"{lake_url}/{load_descriptors()[product].file_port_prefix}"
    (files,) = con.execute(
        f"select list_transform(files, f -> '{port}' || f) from read_json('{port}current.json')"
    ).fetchone()
    assert files, f"{product}: the port lists no files"
    return "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"


@pytest.mark.parametrize("product", PRODUCTS)
def test_each_parquet_port_equals_the_embedded_run(
    two_days: MeshLake, production: ProductionMesh, product: str
) -> None:
    embedded_lake = get_settings().lake_url
    with both_lakehouses(two_days, production) as con:
        production_port = _port_rows(con, f"s3://{BUCKET}/mesh", product)
        embedded_port = _port_rows(con, embedded_lake, product)
        rows, only_production, only_embedded = _differences(con, production_port, embedded_port)
        (table_rows,) = con.execute(f"select count(*) from lakehouse.{product}").fetchone()
    assert rows == table_rows > 0
    assert (only_production, only_embedded) == (0, 0)


def test_everything_the_run_wrote_is_on_s3_and_in_postgres(production: ProductionMesh) -> None:
    keys = production.s3.keys(BUCKET)
    tops = {key.split("/")[1] for key in keys}
    assert {"raw", "lakehouse", "products"} <= tops
    assert any(k.endswith("date=2026-11-02/_manifest.json") for k in keys)
    # no lake folder and no SQLite catalog on this machine
    assert not (production.root / "lake").exists()
    assert list(production.root.rglob("*.sqlite")) == []
    # DuckLake's metadata lives in PostgreSQL, its data files in the bucket
    with production.settings_applied():
        resource = lakehouse_from_settings(get_settings()).model_copy(update={"read_only": True})
        with resource.get_connection() as con:
            files = con.execute(
                "select data_file from ducklake_list_files('lakehouse', 'fct_orders', "
                "schema => 'sales')"
            ).fetchall()
    assert files and all(f.startswith(f"s3://{BUCKET}/mesh/lakehouse/") for (f,) in files)
    tables = production.postgres.query(
        CATALOG_DB, "select count(*) from ducklake_table where end_snapshot is null"
    )
    assert tables[0][0] >= len(PRODUCTS)


def test_the_dagster_instance_is_on_postgres(production: ProductionMesh) -> None:
    runs = production.postgres.query(
        DAGSTER_DB, "select status, count(*) from runs group by status"
    )
    assert runs == [("SUCCESS", 2)]
    (events,) = production.postgres.query(DAGSTER_DB, "select count(*) from event_logs")[0]
    assert events > 100
    home = Path(production.env["DAGSTER_HOME"])
    config = (home / "dagster.yaml").read_text()
    assert "postgres_db" in config and "env: DAGSTER_PG_HOST" in config
    assert production.postgres.host not in config  # values stay in the environment
    assert list(home.rglob("*.db")) == []  # no SQLite run or event storage


def test_s3_credentials_never_reach_dbt_artifacts_or_logs(
    production: ProductionMesh, tmp_path: Path
) -> None:
    """dbt (a separate `dbt` process, as a developer would run it) reads the lake through the
    storage plugin's DuckDB secret; the server checks the signature, so the credentials did
    reach DuckDB — and they appear in none of dbt's output, artifacts or logs."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    secret = production.env["AWS_SECRET_ACCESS_KEY"]
    with production.settings_applied():
        env = {**os.environ, **get_settings().dbt_env()}
    raw = f"s3://{BUCKET}/mesh/raw/sales/orders/date={DAY_1}/orders.parquet"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "show",
            "--inline",
            f"select count(*) as n from read_parquet('{raw}')",
            "--output",
            "json",
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    landed = json.loads(
        production.s3.client()
        .get_object(Bucket=BUCKET, Key=f"mesh/raw/sales/orders/date={DAY_1}/_manifest.json")["Body"]
        .read()
    )["rows"]
    assert f'\\"n\\": {landed}' in output or f'"n": {landed}' in output
    assert secret not in output
    written = [p for p in project.rglob("*") if p.is_file() and p.stat().st_size < 50_000_000]
    assert any(p.name == "dbt.log" for p in written)
    assert [str(p) for p in written if secret.encode() in p.read_bytes()] == []
