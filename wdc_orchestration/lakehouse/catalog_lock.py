"""One writer per pool of the DuckLake catalog, enforced by the code whatever instance runs it.

A domain's dbt step builds the run's window into the domain's one audit schema and publishes it
(lakehouse/wap.py); a state product is recomputed from what was published before (its versions and
kept snapshots, state_history.sql). So
two writers of one domain at once would build into each other's audit tables, and the second to
publish would drop the first one's day from a history; on a SQLite catalog, two writers of any
domains at once fail at commit ("Failed to commit DuckLake transaction", "database is locked").

Dagster's pools (`pool=` on the dbt step, domain.lakehouse_pool) queue those writers before they
start, but a pool's limit is instance configuration: `wdc` writes it into its `dagster.yaml`,
while `dagster dev -w workspace.yaml`'s throw-away instance, a hand-written instance or a run
launcher's may have none. So the step also takes a lock named after its pool, held from the
build to the publication's commit:

- SQLite (a file catalog, one machine): an exclusive `flock` on a file beside the catalog;
- PostgreSQL: a session advisory lock on the catalog's own server, so writers on other machines
  (a container per run) queue too.

Either is released when its holder ends, killed included (the kernel drops the flock, PostgreSQL
the session). With the instance's pool the lock is always free when the step asks for it; without
one, the step waits for it here, saying so in the run's log."""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wdc_orchestration.settings import is_postgres_catalog

POLL_SECONDS = 0.5
REPORT_EVERY_SECONDS = 30.0


class CatalogLockError(RuntimeError):
    """The lock's backing store (the catalog's folder, its PostgreSQL) cannot be reached."""


def _advisory_key(pool: str) -> int:
    """A stable signed 64-bit key for `pool` (PostgreSQL's advisory locks take a bigint)."""
    digest = hashlib.sha256(f"wdc/catalog-writer/{pool}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(catalog: str, pool: str) -> Path:
    """The file whose flock is `pool`'s writer lock on a file catalog (SQLite, DuckDB)."""
    path = Path(catalog.split(":", 1)[1] if catalog.startswith("sqlite:") else catalog)
    return path.with_name(f".{path.name}.{pool.replace('/', '--')}.lock")


def _wait(try_acquire: Callable[[], bool], pool: str, report: Callable[[str], None]) -> float:
    started = time.monotonic()
    reported = started
    while not try_acquire():
        now = time.monotonic()
        if now - reported >= REPORT_EVERY_SECONDS:
            report(
                f"waiting for the catalog's other writer in pool {pool} ({now - started:.0f}s so "
                "far): another run of the same pool is building or publishing"
            )
            reported = now
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


@contextmanager
def _file_lock(path: Path, pool: str, report: Callable[[str], None]) -> Iterator[float]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:

        def try_acquire() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        waited = _wait(try_acquire, pool, report)
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(conninfo: str, pool: str, report: Callable[[str], None]) -> Iterator[float]:
    import psycopg2  # dagster-postgres's driver; only a PostgreSQL catalog needs it

    try:
        connection = psycopg2.connect(conninfo, connect_timeout=10)
    except psycopg2.OperationalError as error:
        raise CatalogLockError(
            f"cannot reach the catalog's PostgreSQL for the writer lock of {pool}: "
            f"{str(error).strip()}"
        ) from error
    connection.autocommit = True
    key = _advisory_key(pool)
    try:
        with connection.cursor() as cursor:

            def try_acquire() -> bool:
                cursor.execute("select pg_try_advisory_lock(%s)", (key,))
                return bool(cursor.fetchone()[0])

            waited = _wait(try_acquire, pool, report)
            yield waited
    finally:
        # closing the session releases the lock (and would, had this process been killed)
        connection.close()


@contextmanager
def catalog_writer(catalog: str, pool: str, report: Callable[[str], None]) -> Iterator[float]:
    """Hold `pool`'s writer lock on `catalog` (as DuckLake spells it after `ducklake:`) for the
    block; yields the seconds it waited. `report` receives a line every half minute while it
    waits."""
    if is_postgres_catalog(catalog):
        with _advisory_lock(catalog.split(":", 1)[1], pool, report) as waited:
            yield waited
    else:
        with _file_lock(lock_file(catalog, pool), pool, report) as waited:
            yield waited
