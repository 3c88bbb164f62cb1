"""The Dagster instance's SQLite storage, with one SQLAlchemy engine per database file kept for
the life of the process instead of a new one for every statement.

Why: Dagster's SQLite storages (runs, event log, schedules) call `create_engine` each time they
open a connection, and drop the engine after. A day of the mesh stores ~900 events per run
(the planned and evaluated asset checks most of all), each into the run's shard and the index
shard, so a one-day `wdc materialize` made ~3,200 engines. Each new engine also starts with an
empty compiled-statement cache, so every insert was compiled again: storing a day-run's 900
events took 7.4 s of CPU, 3.7 s with the engines kept (bench.process_overhead,
docs/benchmarks.md §10).

What stays Dagster's: the files, their schema and migrations, the connections (still one per
use, `NullPool`: no connection is held between uses, so other processes' writers and a
`dagster dev` reading the same files see what they always saw), the busy timeout and the
locks. Only the engine object, with its dialect and its statement cache, is reused.

The PostgreSQL instance (DAGSTER_PG_HOST) keeps dagster-postgres' storage, which pools already."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# A long-lived process (the webserver, the daemon) opens the shards of many runs: keep the
# engines of the most recent ones. An engine without connections (NullPool) holds no file.
ENGINES_KEPT = 64


class EngineCache:
    """Engines by connection string, the least recently used dropped past `size`."""

    def __init__(self, size: int = ENGINES_KEPT) -> None:
        self.size = size
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn_string: str, **kwargs: Any) -> Engine:
        with self._lock:
            engine = self._engines.get(conn_string)
            if engine is None:
                engine = db.create_engine(conn_string, poolclass=NullPool, **kwargs)
                self._engines[conn_string] = engine
                while len(self._engines) > self.size:
                    _, dropped = self._engines.popitem(last=False)
                    dropped.dispose()
            else:
                self._engines.move_to_end(conn_string)
            return engine


# One cache per process: every storage object of the process (Dagster makes several instances
# in one process, e.g. a code server's run launcher) shares the engines of the same files.
ENGINES = EngineCache()


class _KeptEngineConnect:
    """`connect()` of Dagster's one-file SQLite storages (runs, schedules), on the kept engine."""

    _conn_string: str

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with ENGINES.get(self._conn_string).connect() as conn, conn.begin():
            yield conn


class EngineReusingSqliteRunStorage(_KeptEngineConnect, SqliteRunStorage):
    pass


class EngineReusingSqliteScheduleStorage(_KeptEngineConnect, SqliteScheduleStorage):
    pass


class EngineReusingSqliteEventLogStorage(SqliteEventLogStorage):
    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as SqliteEventLogStorage._connect, with the shard's engine kept
        with self._db_lock:
            engine = ENGINES.get(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn


class EngineReusingSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under `base_dir` (the instance's DAGSTER_HOME), made of the
    engine-reusing storages above. dagster.yaml: `storage: custom:` (mesh/workspace.py)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # DagsterSqliteStorage.__init__ builds Dagster's own three storages: build ours instead
        self.base_dir = base_dir
        self._run_storage = EngineReusingSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = EngineReusingSqliteEventLogStorage(
            _event_logs_directory(base_dir)
        )
        self._schedule_storage = EngineReusingSqliteScheduleStorage.from_local(
            _schedule_directory(base_dir)
        )
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> EngineReusingSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
