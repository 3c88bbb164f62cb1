"""The session's shared day-prefix lakes, and the one way to copy a lake.

Why: the heaviest scopes (the nightly `dagster dev`, the throw-away `dagster dev`, the late
customers day, the time model's serial reference, and `two_days` on every worker) each started by
materialising the first days of the mesh from scratch, the same days every time, at ~45 s a day
of the five domains. Now those prefixes are built once per test session, across pytest-xdist's
workers, and every scope starts from a copy:

  day 1       `wdc materialize` of 2026-11-01 on a new lake
  days 1-2    a copy of day 1, then `wdc materialize` of 2026-11-02
  days 1-3    a copy of days 1-2, then `wdc materialize` of 2026-11-03: the time model's serial
              reference (still the days in order, one after another)

Each is built by the first worker that needs it, into the folder every worker of the session sees
(the base temp folder's parent under xdist), under a file lock, with a `built` marker written
last: a worker killed half-way leaves no marker, and the next one starts that lake again. A
builder takes the lock of its own lake only, after the one before it is built, so two workers
never wait for each other's locks in a circle. The lakes are read-only: a test copies one
(`copy_lake`) and works on the copy.

The children get a clean environment (the platform's variables of the session or of a module's
fixture left out, the worker's dbt target folder kept): a prefix is the same lake whichever test
asked for it first."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
from filelock import FileLock

from wdc_orchestration.settings import PROJECT_ROOT, isolated_lake_env

PREFIX_DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
PARTS = ("lake", "catalog", "dagster_home")  # what a lake is: files, DuckLake catalog, instance
WDC = Path(sys.executable).parent / "wdc"
# the session's lake settings (tests/conftest.py re-exports the scale factor)
TEST_SCALE_FACTOR = 0.01
SEED = "42"


class Rooted(Protocol):
    root: Path

    def __init__(self, root: Path) -> None: ...


L = TypeVar("L", bound=Rooted)


def copy_lake(source: L, target: Path, parts: tuple[str, ...] = PARTS, replace: bool = False) -> L:
    """`parts` of `source` (by default its lake, catalog and instance) copied under `target`, as
    the same kind of lake. DuckLake's catalog is told its data now lives in the copy: it stores
    its data files relative to the `data_path` in its metadata. `replace`: parts already under
    `target` are removed first (a copy, not a merge over what was there)."""
    for part in parts:
        if replace:
            shutil.rmtree(target / part, ignore_errors=True)
        shutil.copytree(source.root / part, target / part)
    if "catalog" in parts:
        with sqlite3.connect(target / "catalog" / "wdc.sqlite") as catalog:
            catalog.execute(
                "update ducklake_metadata set value = ? where key = 'data_path'",
                (str(target / "lake" / "lakehouse") + "/",),
            )
    return type(source)(target)


def session_shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder every worker of this session sees (one process: the session's own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


def _clean_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WDC_", "DAGSTER_"))}
    if "WDC_DBT_TARGET_DIR" in os.environ:  # the worker's own dbt manifest (tests/conftest.py)
        env["WDC_DBT_TARGET_DIR"] = os.environ["WDC_DBT_TARGET_DIR"]
    return {
        **env,
        **isolated_lake_env(root),
        "WDC_SEED": SEED,
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
    }


def _materialize(root: Path, day: str) -> None:
    log = root / f"materialize-{day}.out"
    with open(log, "ab") as out:
        code = subprocess.call(
            [str(WDC), "materialize", "--start", day, "--log-level", "ERROR"],
            cwd=PROJECT_ROOT,
            env=_clean_env(root),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=1800,
        )
    assert code == 0, f"wdc materialize {day} failed:\n{log.read_text(errors='replace')[-4000:]}"


def prefix_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str, days: int) -> Path:
    """The root of the shared lake of the first `days` days of PREFIX_DAYS, built if this session
    has not built it yet (read-only: copy it before writing)."""
    assert 1 <= days <= len(PREFIX_DAYS), days
    before = prefix_root(tmp_path_factory, worker_id, days - 1) if days > 1 else None
    root = session_shared_dir(tmp_path_factory, worker_id) / f"prefix-{PREFIX_DAYS[days - 1]}"
    with FileLock(str(root) + ".lock"):
        built = root / "built"
        if not built.exists():
            shutil.rmtree(root, ignore_errors=True)  # a worker killed half-way
            root.mkdir(parents=True)
            if before is not None:
                copy_lake(_Root(before), root)
            _materialize(root, PREFIX_DAYS[days - 1])
            built.touch()
    return root


@dataclass(frozen=True)
class _Root:
    root: Path
