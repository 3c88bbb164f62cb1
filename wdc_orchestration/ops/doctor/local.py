"""`wdc doctor`'s checks of this machine: the DuckDB extensions and the folders it writes.

They only look: nothing is created or repaired here (`--fix` does the one repair, on request).
Extensions a fresh clone has not installed yet are not a problem: the first run installs them
from their PyPI packages by itself; the doctor loads them from there meanwhile.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from wdc_orchestration.lakehouse.extensions import (
    EXTENSION_PACKAGES,
    installed_path,
    packaged_binary,
)
from wdc_orchestration.ops.doctor.findings import Finding, fail, first_line, ok
from wdc_orchestration.settings import Settings

# --- DuckDB extensions ---------------------------------------------------------------------------


def missing_extensions(extension_dir: Path) -> list[str]:
    return [name for name in EXTENSION_PACKAGES if not installed_path(extension_dir, name).exists()]


def check_extensions(settings: Settings) -> Finding:
    """OK when every extension loads: from the extension folder, or, not installed there yet
    (a fresh clone), from its PyPI package, which the first command that opens DuckDB installs
    it from by itself (duckdb_extensions.ensure_extensions). Nothing is installed here."""
    item = "DuckDB extensions"
    folder = settings.duckdb_extension_dir
    missing = missing_extensions(folder)
    if missing and not folder.exists():
        problem = folder_problem(folder)
        if problem:
            return fail(item, problem, "point WDC_DUCKDB_EXTENSION_DIR at a writable folder")
    try:
        with duckdb_connection(folder):
            pass
    except (duckdb.Error, ImportError, RuntimeError) as error:
        return fail(item, f"do not load: {first_line(error)}", "`uv sync`")
    names = ", ".join(EXTENSION_PACKAGES)
    if missing:
        return ok(
            item,
            f"{', '.join(missing)} not in {folder} yet: installed from their PyPI packages on "
            "first use (no download; `wdc doctor --fix` installs them now)",
        )
    return ok(item, f"{names} load from {folder}")


@contextmanager
def duckdb_connection(extension_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with every extension the platform uses loaded: from `extension_dir`
    where installed, else straight from its PyPI package's binary, so the doctor can attach the
    catalog before the first run installed anything (and installs nothing itself)."""
    con = duckdb.connect(
        ":memory:",
        config={
            "extension_directory": str(extension_dir),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    try:
        with tempfile.TemporaryDirectory(prefix="wdc-doctor-ext-") as links:
            for name, package in EXTENSION_PACKAGES.items():
                if installed_path(extension_dir, name).exists():
                    con.execute(f"LOAD {name}")
                    continue
                # LOAD by path takes the extension's name from the file's: the packages name
                # some files otherwise (sqlite.duckdb_extension holds sqlite_scanner).
                link = Path(links) / f"{name}.duckdb_extension"
                link.symlink_to(packaged_binary(package))
                con.execute(f"LOAD '{link}'")
        yield con
    finally:
        con.close()


# --- local folders ------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot be written (None when it can): a real write where it exists, else
    whether it could be created. Root ignores permission bits, not a read-only file system."""
    if folder.exists():
        if not folder.is_dir():
            return f"{folder} is a file, not a folder"
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".wdc-doctor-"):
                pass
        except OSError as error:
            return f"cannot write in {folder}: {error.strerror or error}"
        return None
    ancestor = _nearest_existing(folder)
    if not ancestor.is_dir():
        return f"cannot create {folder}: {ancestor} is a file"
    if not os.access(ancestor, os.W_OK):
        reason = "read-only file system" if _read_only_fs(ancestor) else "no write permission"
        return f"cannot create {folder}: {ancestor} is not writable ({reason})"
    return None


def _read_only_fs(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_folder(item: str, folder: Path, setting: str, what_creates_it: str) -> Finding:
    problem = folder_problem(folder)
    if problem:
        return fail(item, problem, f"point {setting} at a writable folder")
    state = "writable" if folder.exists() else f"not created yet, can be ({what_creates_it})"
    return ok(item, f"{folder}: {state}")


def check_local_lake(settings: Settings) -> Finding:
    return check_folder(
        "lake writable", Path(settings.lake_url), "WDC_LAKE_URL", "the first `wdc materialize`"
    )


def check_dagster_home(settings: Settings) -> Finding:
    item = "Dagster home"
    home = settings.dagster_home
    problem = folder_problem(home)
    if problem:
        return fail(item, problem, "point DAGSTER_HOME at a writable folder")
    config = home / "dagster.yaml"
    if not config.exists():
        return ok(item, f"{home}: no instance yet (`wdc materialize` or `wdc dev` creates it)")
    import yaml

    try:
        yaml.safe_load(config.read_text())
    except yaml.YAMLError as error:
        return fail(item, f"{config} is not valid YAML: {first_line(error)}", f"fix {config}")
    return ok(item, f"{home}: writable, dagster.yaml readable")


def check_log_dir(settings: Settings) -> Finding:
    return check_folder("log folder", settings.log_dir, "WDC_LOG_DIR", "any `wdc` command")
