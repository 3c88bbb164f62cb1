"""The dbt project's parse: its manifest prepared on disk once per change of the project or the
settings (`ensure_manifest`), and parsed once per process for the in-process runner
(`parse_project`, runner.py). Below both the runner and the translator (project.py), which each
need it, and neither of which it needs."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dbt import DbtProject

from wdc_orchestration.lakehouse.extensions import ensure_extensions
from wdc_orchestration.settings import DBT_PROJECT_DIR, Settings, environment, get_settings

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

log = logging.getLogger(__name__)

# dbt is not re-entrant: flags, adapter registry and event manager are module globals.
DBT_LOCK = threading.RLock()
# (project dir, fingerprint of its parse inputs and settings) -> the parsed manifest
PARSED_MANIFESTS: dict[tuple[str, str], Manifest] = {}


class DbtRunError(dg.Failure):
    """A dbt invocation failed: a model or an ERROR test failed, or dbt itself could not run."""


DBT_TARGET = "local"
# What a parse depends on; a change to any of these invalidates the prepared manifest.
_PARSE_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


@contextmanager
def dbt_environment(dbt_env: Mapping[str, str], *, storage: bool = True) -> Iterator[None]:
    """The one hand-off of the platform's settings to dbt, per invocation. dbt runs in this
    process (dbt/runner.py); its profile reads the settings with `env_var()` and its plugins
    read them from `os.environ` (dbt's runner takes no environment of its own: it snapshots
    `os.environ` when invoked), so `dbt_env` (`Settings.dbt_env()`) is put there for the block
    only and restored after. With `storage`, what dbt's DuckDB needs before it connects is made
    first: the SQLite catalog's folder and the project-local extensions (a parse connects to
    nothing and needs neither)."""
    if storage:
        _prepare_dbt_storage(dbt_env)
    with environment(dbt_env):
        yield


def _prepare_dbt_storage(dbt_env: Mapping[str, str]) -> None:
    """The SQLite catalog's folder and the project-local DuckDB extensions, which dbt-duckdb's
    ATTACH needs before it connects."""
    catalog = dbt_env.get("WDC_DUCKLAKE_CATALOG", "")
    if catalog.startswith("sqlite:"):
        Path(catalog.removeprefix("sqlite:")).parent.mkdir(parents=True, exist_ok=True)
    extension_dir = dbt_env.get("WDC_DUCKDB_EXTENSION_DIR")
    if extension_dir:
        ensure_extensions(Path(extension_dir))


def export_dbt_env(settings: Settings) -> None:
    """Put dbt's settings in `os.environ` for good, with what its DuckDB needs made: only for
    scripts that run dbt outside a `DbtRunner` (bench/, .ci/lint_sql.py's sqlfluff templater).
    The platform hands them over per invocation instead (`dbt_environment`)."""
    dbt_env = settings.dbt_env()
    os.environ.update(dbt_env)
    _prepare_dbt_storage(dbt_env)


def dbt_target_dir() -> Path:
    """The shared project's target folder: WDC_DBT_TARGET_DIR when set, else dbt_project/target
    (not dbt's own DBT_TARGET_PATH, which would also move the target of every other project a
    process parses, such as a copy being checked). The prepared manifest depends on the lake's
    settings (sources' locations), so processes working on different lakes at once (parallel
    test workers) each keep their own instead of re-parsing over one another's files."""
    configured = os.environ.get("WDC_DBT_TARGET_DIR", "").strip()
    if not configured:
        return DBT_PROJECT_DIR / "target"
    path = Path(configured)
    return path if path.is_absolute() else DBT_PROJECT_DIR / path


@cache
def dbt_project() -> DbtProject:
    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=DBT_TARGET,
        target_path=dbt_target_dir(),
    )


def parse_fingerprint(project_dir: Path, dbt_env: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    # Sources' locations are rendered from these at parse time.
    digest.update(json.dumps(dict(dbt_env), sort_keys=True).encode())
    for name in _PARSE_INPUTS:
        root = project_dir / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(path.relative_to(project_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_manifest(dbt_env: Mapping[str, str] | None = None) -> Path:
    """Parse the dbt project once, when its files changed: a fresh clone loads with no manual step,
    and a code location does not pay for a parse on every load. Several code locations load at
    once under `dagster dev`, so the parse is serialised by a file lock. `dbt_env`: the settings
    dbt parses with (a `DbtRunner`'s); by default the loading process's, read here: the parse
    of the definitions' load is one of the edges that read the settings (settings.py)."""
    if dbt_env is None:
        dbt_env = get_settings().dbt_env()
    project = dbt_project()
    manifest = project.manifest_path
    stamp = manifest.parent / "manifest.fingerprint"
    fingerprint = parse_fingerprint(project.project_dir, dbt_env)
    if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
            return manifest
        log.info("parsing the dbt project (%s changed)", project.project_dir)
        # In this process (no `dbt` executable needed): the manifest is then kept for this
        # process's dbt invocations too (dbt/runner.py).
        with dbt_environment(dbt_env, storage=False):
            parse_project(
                project.project_dir,
                project.profiles_dir,
                DBT_TARGET,
                manifest.parent,
                fingerprint=fingerprint,
                write_json=True,
            )
        stamp.write_text(fingerprint)
    return manifest


@cache
def load_manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def close_duckdb_environment() -> None:
    """Close the DuckDB database dbt-duckdb opened for the invocation. dbt-duckdb keeps it for
    the life of the process (it closes it at exit); here each invocation gets a fresh one, as a
    dbt subprocess would: the plugins read the run window and the key when it is created, and no
    DuckLake attachment outlives the invocation that made it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()


def dbt_args(project_dir: str, profiles_dir: str, target: str, target_path: Path) -> list[str]:
    return [
        "--project-dir",
        project_dir,
        "--profiles-dir",
        profiles_dir,
        "--target",
        target,
        "--target-path",
        os.fspath(target_path),
        "--log-path",
        os.fspath(target_path),
        # dbt's own console output would repeat what the runner logs
        "--quiet",
    ]


def _kept_manifest_path(fingerprint: str) -> Path:
    from dbt.version import __version__ as dbt_version

    return dbt_target_dir() / f"manifest-{dbt_version}-{fingerprint[:24]}.pickle"


def _state(manifest: Manifest) -> dict[str, Any]:
    """The manifest's fields, without its lock and its lookups (indexes dbt builds again on first
    use). Not `pickle.dumps(manifest)`: dbt's own `Manifest.__reduce_ex__` passes its fields by
    position and misses the newer ones, so what it restores has them shifted (a lookup where
    the fixtures were: "RefableLookup.find() missing 1 required positional argument")."""
    state = dict(vars(manifest))
    del state["_lock"]
    for name in state:
        if name.endswith("_lookup") or name in ("_macros_by_name", "_macros_by_package"):
            state[name] = None
    return state


def _restored(state: dict[str, Any]) -> Manifest:
    from dbt.contracts.graph.manifest import Manifest
    from dbt.mp_context import get_mp_context

    manifest = Manifest.__new__(Manifest)
    vars(manifest).update(state)
    manifest._lock = get_mp_context().Lock()
    return manifest


def keep_manifest(manifest: Manifest, fingerprint: str) -> None:
    """Keep the shared project's parsed manifest for the next processes, as a pickle.

    Why: each process that runs dbt (`wdc materialize`, each run a `dagster dev` launches) paid
    ~2 s of CPU to rebuild the manifest object from dbt's partial-parse state (msgpack decoded
    into dataclasses, every file's hash checked, refs and docs processed again); unpickling the
    object dbt built is ~0.01 s. It is keyed like the in-process cache (PARSED_MANIFESTS): the
    project's parse inputs, the settings dbt parses with and dbt's version; a change to any of
    them is another file. The file is this project's own output in its target folder; written
    whole under another name, then renamed, so a reader never sees half of one."""
    import pickle

    path = _kept_manifest_path(fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(pickle.dumps(_state(manifest), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, path)
        _prune_kept_manifests(keep=path)
    except (OSError, pickle.PicklingError, TypeError) as error:  # costs the next load, no more
        partial.unlink(missing_ok=True)
        log.warning("the parsed dbt manifest was not kept (%s): the next process parses", error)


# Settings differ per lake (the sources' locations), so a machine working on several lakes keeps
# one file for each: the most recent few, about 1 MB each.
KEPT_MANIFESTS = 8


def _prune_kept_manifests(keep: Path) -> None:
    kept = sorted(
        keep.parent.glob("manifest-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in [p for p in kept if p != keep][KEPT_MANIFESTS - 1 :]:
        old.unlink(missing_ok=True)


def kept_manifest(fingerprint: str) -> Manifest | None:
    """The manifest `keep_manifest` kept for `fingerprint`, or None."""
    import pickle

    path = _kept_manifest_path(fingerprint)
    if not path.exists():
        return None
    try:
        return _restored(pickle.loads(path.read_bytes()))
    except Exception as error:  # noqa: BLE001 - any unreadable file means: parse
        log.warning("the kept dbt manifest %s could not be read (%s): parsing", path, error)
        return None


def remember_manifest(key: tuple[str, str], manifest: Manifest) -> Manifest:
    """`manifest` as this process's one for `key`: a changed project or settings replaces the
    old one."""
    PARSED_MANIFESTS.clear()
    PARSED_MANIFESTS[key] = manifest
    return manifest


def manifest_key(project_dir: Path, fingerprint: str) -> tuple[str, str]:
    return os.fspath(project_dir.resolve()), fingerprint


def parse_project(
    project_dir: Path,
    profiles_dir: Path,
    target: str,
    target_path: Path,
    *,
    fingerprint: str,
    write_json: bool,
) -> Manifest:
    """`dbt parse` in this process (partial parsing when `target_path` holds the state); the
    manifest is kept for this process's later invocations of the same project and settings
    (`fingerprint`: `parse_fingerprint` of them)."""
    from dbt.cli.main import dbtRunner

    started = time.perf_counter()
    args = dbt_args(os.fspath(project_dir), os.fspath(profiles_dir), target, target_path)
    with DBT_LOCK:
        try:
            result = dbtRunner().invoke(
                ["parse", *args, "--write-json" if write_json else "--no-write-json"],
                send_anonymous_usage_stats=False,
            )
        finally:
            close_duckdb_environment()
    if not result.success or result.result is None:
        raise DbtRunError(description=f"dbt could not parse {project_dir}: {result.exception}")
    remember_manifest(manifest_key(project_dir, fingerprint), result.result)
    if project_dir.resolve() == DBT_PROJECT_DIR.resolve():
        keep_manifest(result.result, fingerprint)
    log.info("dbt project %s parsed in %.2fs", project_dir, time.perf_counter() - started)
    return result.result
