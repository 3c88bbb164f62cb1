"""The production storage the S3 + PostgreSQL tests share: the settings an operator sets, and the
first day of the mesh on S3 + PostgreSQL, materialised once for the whole session.

`test_production_storage.py` (two clean days) and `test_faults.py::TestPostgresRestart` (a clean
first day, then PostgreSQL restarts during the second) both start from the same clean first day,
through `wdc materialize` with the same settings: that day is built once and each of them gets a
copy in its own bucket prefix, DuckLake catalog and Dagster database, then runs its own second day.

xdist's workers each run their own PostgreSQL cluster and S3 server (tests/infra.py), which live
only as long as the worker's session: a built day cannot be shared as a server's state. It is
shared as files instead, under a file lock in the session's folder (as the time model's `serial`
reference): the first worker to need it builds it on its own servers and saves its S3 objects and
a `pg_dump` of its two databases; every user (that worker too) restores them into its own servers
(seconds, against about a minute for the day's run). DuckLake keeps its data files relative to
the catalog's `data_path`, which the restore points at the copy's prefix, as `copy_lake` does for
a local lake; the build asserts that no other value names where the day was built.

What is not shared, and why: the S3 outage test's first day is the run the fault is injected into;
`test_postgres_concurrency.py`'s days are the daemon's concurrent runs it asserts on."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from tests.conftest import DAY_1, TEST_SCALE_FACTOR
from tests.infra import POSTGRES_USER, PostgresCluster, S3Server
from wdc_orchestration.governance.pseudonymisation import pseudonymisation_key
from wdc_orchestration.settings import environment, get_settings

# Where the day is built (on the building worker's servers), and what is saved of it.
_BUILD_BUCKET = "wdc-shared-day-one"
_BUILD_PREFIX = "build-day-one/"
_DATABASES = ("ducklake", "dagster")


def production_env(
    root: Path, postgres: PostgresCluster, s3: S3Server, catalog: str, lake_url: str
) -> dict[str, str]:
    """What an operator sets (README, "Running in production"); every variable the platform
    writes back (DAGSTER_HOME; bench's export_dbt_env) is listed too, so `environment` restores it.
    `catalog` is the DuckLake catalog's libpq string; the Dagster database is DAGSTER_PG_DB."""
    return {
        "WDC_LAKE_URL": lake_url,
        # empty = unset: the data path follows the lake (s3://.../<prefix>/lakehouse/)
        "WDC_DUCKLAKE_DATA_PATH": "",
        "WDC_DUCKLAKE_CATALOG": f"postgres:{catalog}",
        "WDC_S3_ENDPOINT_URL": s3.endpoint_url,
        **s3.credentials,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DAGSTER_PG_HOST": postgres.host,
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USERNAME": "postgres",
        "WDC_LOG_DIR": str(root / "logs"),
        # The embedded run's key, so that its pseudonymised customer keys are comparable.
        "WDC_PSEUDONYMISATION_KEY": pseudonymisation_key().decode(),
        "WDC_SEED": "42",
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
        "WDC_DBT_THREADS": "",
        "WDC_DUCKDB_EXTENSION_DIR": str(get_settings().duckdb_extension_dir),
    }


@dataclass(frozen=True)
class DayOne:
    """The saved first day: `objects/` (the lake's S3 objects, by key under its prefix) and one
    custom-format `pg_dump` per database (`ducklake.dump`, `dagster.dump`)."""

    folder: Path

    def restore(
        self,
        postgres: PostgresCluster,
        s3: S3Server,
        bucket: str,
        prefix: str,
        catalog_db: str,
        dagster_db: str,
    ) -> str:
        """The day into `s3://<bucket>/<prefix>` and two new databases of `postgres`; the DuckLake
        catalog's libpq connection string."""
        if bucket not in s3.buckets():
            s3.create_bucket(bucket)
        client = s3.client()
        objects = self.folder / "objects"
        for path in sorted(p for p in objects.rglob("*") if p.is_file()):
            client.upload_file(str(path), bucket, prefix + path.relative_to(objects).as_posix())
        for name, database in zip(_DATABASES, (catalog_db, dagster_db), strict=True):
            postgres.create_database(database)
            _pg(postgres, "pg_restore", "--no-owner", "-d", database, str(self.folder / name))
        data_path = f"s3://{bucket}/{prefix}lakehouse/"
        _execute(
            postgres,
            catalog_db,
            "update ducklake_metadata set value = %s where key = 'data_path'",
            (data_path,),
        )
        return postgres.libpq(catalog_db)


def _pg(postgres: PostgresCluster, tool: str, *args: str) -> None:
    command = [str(postgres.bin_dir / tool), "-h", postgres.host, "-p", str(postgres.port)]
    command += ["-U", POSTGRES_USER, *args]
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def _execute(postgres: PostgresCluster, dbname: str, sql: str, params: tuple[object, ...]) -> None:
    import psycopg2

    con = psycopg2.connect(postgres.libpq(dbname))
    try:
        with con, con.cursor() as cur:
            cur.execute(sql, params)
    finally:
        con.close()


def _build(folder: Path, postgres: PostgresCluster, s3: S3Server) -> None:
    """`wdc materialize` of DAY_1 on this worker's servers, saved under `folder`."""
    from wdc_orchestration.cli import main

    root = folder / "build"
    s3.create_bucket(_BUILD_BUCKET)
    databases = {name: f"wdc_day_one_{name}" for name in _DATABASES}
    catalog = postgres.create_database(databases["ducklake"])
    postgres.create_database(databases["dagster"])
    lake_url = f"s3://{_BUILD_BUCKET}/{_BUILD_PREFIX.rstrip('/')}"
    env = {
        **production_env(root, postgres, s3, catalog, lake_url),
        "DAGSTER_PG_DB": databases["dagster"],
    }
    with environment(env):
        code = main(["materialize", "--start", DAY_1, "--log-level", "WARNING"])
    assert code == 0, "wdc materialize of the first day on S3 + PostgreSQL failed: see the log"
    client = s3.client()
    for key in s3.keys(_BUILD_BUCKET, _BUILD_PREFIX):
        target = folder / "objects" / key.removeprefix(_BUILD_PREFIX)
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(_BUILD_BUCKET, key, str(target))
    for name, database in databases.items():
        _pg(postgres, "pg_dump", "-Fc", "-f", str(folder / name), database)
    # A copy is only faithful if the data path is the one place the build's location is named.
    (data_path,) = postgres.query(
        databases["ducklake"], "select value from ducklake_metadata where key = 'data_path'"
    )[0]
    assert data_path == f"{lake_url}/lakehouse/", data_path
    named = [
        table
        for (table,) in postgres.query(
            databases["ducklake"],
            "select table_name from information_schema.tables where table_schema = 'public'",
        )
        if table != "ducklake_metadata"
        and postgres.query(
            databases["ducklake"],
            f"select count(*) from \"{table}\" t where t::text like '%{_BUILD_BUCKET}%'",
        )[0][0]
    ]
    assert named == [], f"catalog tables that name the build's bucket: {named}"
    documents = [p for p in (folder / "objects").rglob("*.json") if _BUILD_BUCKET in p.read_text()]
    assert documents == [], f"lake files that name the build's bucket: {documents}"
    (folder / "built.json").write_text(json.dumps({"day": DAY_1, "databases": databases}))


def day_one(shared: Path, postgres: PostgresCluster, s3: S3Server) -> DayOne:
    """The first day, built once under `shared` (a folder every xdist worker of the session
    sees) by whichever worker asks first."""
    folder = shared / "s3-postgres-day-one"
    with FileLock(str(folder) + ".lock"):
        if not (folder / "built.json").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker killed half-way
            folder.mkdir(parents=True)
            _build(folder, postgres, s3)
    return DayOne(folder)
