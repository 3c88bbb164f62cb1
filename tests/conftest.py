"""Shared fixtures: a temporary lake, catalog and Dagster instance for the whole session, and the
mesh materialised into it for real at a tiny scale factor."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
import pytest

from tests.infra import (
    InfraUnavailable,
    PostgresCluster,
    S3Server,
    postgres_cluster,
    s3_server,
)
from tests.lakes import (
    PREFIX_DAYS,
    TEST_SCALE_FACTOR,
    copy_lake,
    prefix_root,
    session_shared_dir,
)
from tests.scope_order import ScopeDurations, load_weights, longest_scopes_first
from wdc_orchestration.settings import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    environment,
    get_settings,
    isolated_lake_env,
)

if TYPE_CHECKING:
    from tests.production import DayOne

# The tests' temporary folders (every lake, catalog, Dagster instance) go to memory when the
# machine has a tmpfs with room to spare: a day-run commits some 1,400 Dagster events and the
# DuckLake catalog to SQLite, each with an fsync, and on a virtual disk those waits and the
# kernel time they cost were a tenth of a run (docs/testing.md). Before pytest picks its base
# folder (lazily, after conftest is imported); an explicit PYTEST_DEBUG_TEMPROOT or --basetemp wins.
_MEMORY_TEMPROOT = Path("/dev/shm")
_MEMORY_TEMPROOT_MIN_FREE = 8 * 1024**3


def _memory_temproot() -> Path | None:
    try:
        if not os.access(_MEMORY_TEMPROOT, os.W_OK | os.X_OK):
            return None
        roomy = shutil.disk_usage(_MEMORY_TEMPROOT).free >= _MEMORY_TEMPROOT_MIN_FREE
    except OSError:
        return None
    return _MEMORY_TEMPROOT if roomy else None


if "PYTEST_DEBUG_TEMPROOT" not in os.environ and (_root := _memory_temproot()) is not None:
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_root)

# Parallel workers (pytest-xdist) each keep their own prepared dbt manifest: it depends on the
# lake's settings, and two workers re-parsing over one file would read each other's half-written
# manifest. Set before any test builds definitions; subprocesses (wdc, dagster dev) inherit it.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ.setdefault(
        "WDC_DBT_TARGET_DIR", str(DBT_PROJECT_DIR / "target" / f"worker-{_WORKER}")
    )

# The daemon's fixed intervals, shorter in tests (the product's defaults: 5 s and 2 s): a killed
# run's pool slot is freed about a second after its end instead of up to ten, and a consumer's
# readiness check sees its producer's publication within half a second. `dagster dev` and `wdc`
# processes inherit them; nothing here asserts on a duration.
TEST_INTERVALS = {"WDC_RUN_MONITORING_SECONDS": "1", "WDC_UPSTREAM_POLL_SECONDS": "0.5"}
for _name, _value in TEST_INTERVALS.items():
    os.environ.setdefault(_name, _value)

DAY_1, DAY_2 = PREFIX_DAYS[:2]  # the days of `two_days`
DAY_3_DEFECT = "2026-11-03"  # a day a test plants defects in (on its own copy of the lake)


@dataclass(frozen=True)
class MeshLake:
    root: Path

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Plain DuckDB with the lakehouse attached read-only, as a consumer sees it."""
        settings = get_settings()
        con = duckdb.connect(
            config={
                "extension_directory": str(settings.duckdb_extension_dir),
                "autoinstall_known_extensions": False,
            }
        )
        con.execute(
            f"ATTACH 'ducklake:{settings.ducklake_catalog}' AS lakehouse "
            f"(DATA_PATH '{settings.ducklake_data_path}', READ_ONLY)"
        )
        return con

    def scalar(self, sql: str) -> object:
        with self.connect() as con:
            return con.execute(sql).fetchone()[0]


@dataclass
class StartedRun:
    """The run a block started (filled in when the block ends)."""

    ids: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        assert len(self.ids) == 1, f"the block started {len(self.ids)} runs: {self.ids}"
        return self.ids[0]


@contextmanager
def started_run() -> Iterator[StartedRun]:
    """The one run started inside the block on the current Dagster instance: never "the latest
    run", which may be another test's or a daemon's."""
    instance = dg.DagsterInstance.get()
    before = {r.run_id for r in instance.get_runs()}
    started = StartedRun()
    try:
        yield started
    finally:
        started.ids = [r.run_id for r in instance.get_runs() if r.run_id not in before]


@pytest.fixture(scope="session")
def test_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshLake]:
    """Everything a run writes goes to the session's temporary folder; the extension directory
    stays project-local (it is a cache of the PyPI wheels, not state)."""
    root = tmp_path_factory.mktemp("wdc")
    settings = {
        **isolated_lake_env(root),
        "WDC_SEED": "42",
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
    }
    with environment(settings):
        yield MeshLake(root)


@pytest.fixture(scope="session")
def two_days(
    test_lake: MeshLake, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> MeshLake:
    """The whole mesh materialised for two consecutive days through `wdc materialize`: a copy of
    the session's shared two-day lake (tests/lakes.py) as the session lake (`test_lake`)."""
    return copy_lake(
        MeshLake(prefix_root(tmp_path_factory, worker_id, 2)), test_lake.root, replace=True
    )


_SESSION_START = time.time()

# Markers that follow from what a test uses: a real server fixture says what it needs, and any
# test on a materialised mesh is end to end. Files mark the rest themselves (`pytestmark`).
_FIXTURE_MARKERS = {
    "postgres": ("postgres", "e2e"),
    "s3": ("s3", "e2e"),
    "two_days": ("e2e",),
    "test_lake": ("e2e",),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--plan-seeds",
        choices=("one", "all"),
        default="one",
        help="the time model's random day plans: one per session, picked by the randomly seed "
        "(default), or all of them (tests/test_time_model.py: PLAN_SEEDS)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # after pytest-randomly's shuffle (a wrapper that runs first): the longest scopes go first
    longest_scopes_first(items, load_weights())
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, markers in _FIXTURE_MARKERS.items():
            if fixture in names:
                for marker in markers:
                    item.add_marker(marker)
        # a browser or a daemon is always end to end
        if item.get_closest_marker("browser") or item.get_closest_marker("daemon"):
            item.add_marker("e2e")


PROJECT_ARTIFACTS = Path(os.environ.get("WDC_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts"))
_SCOPE_DURATIONS = ScopeDurations(PROJECT_ARTIFACTS / "scope-durations.json")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _SCOPE_DURATIONS.add(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # xdist's workers report to the controller, which records the whole run once
    if not hasattr(session.config, "workerinput"):
        _SCOPE_DURATIONS.write(int(exitstatus))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the UI tests' screenshots went, when this session wrote any."""
    from tests.dagster_ui import ARTIFACTS

    shots = [p for p in ARTIFACTS.glob("*.png") if p.stat().st_mtime >= _SESSION_START]
    if shots:
        terminalreporter.write_line(f"UI screenshots ({len(shots)}): {ARTIFACTS}")


# --- real servers for the production-storage tests (tests/infra.py) -----------------------------


def _unavailable(error: Exception) -> None:
    """In CI a missing server is a failure, never a silent skip; elsewhere a skip with the reason
    (pytest -ra prints it)."""
    message = f"{error} (tests/infra.py)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster on 127.0.0.1 for the session."""
    try:
        with postgres_cluster() as cluster:
            yield cluster
    except InfraUnavailable as error:
        _unavailable(error)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """An authenticating S3 API server on 127.0.0.1 for the session."""
    try:
        with s3_server() as server:
            yield server
    except InfraUnavailable as error:
        _unavailable(error)


@pytest.fixture(scope="session")
def s3_postgres_day_one(
    test_lake: MeshLake,
    postgres: PostgresCluster,
    s3: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
) -> DayOne:
    """The mesh's first day on S3 + PostgreSQL through `wdc materialize`, built once for the
    session (across xdist workers) and restored by each user into its own servers
    (tests/production.py)."""
    from tests.production import day_one

    return day_one(session_shared_dir(tmp_path_factory, worker_id), postgres, s3)
