"""DuckDB extensions from the PyPI extension packages, installed into a project-local directory.

DuckDB would otherwise download extensions at run time; this machine (and production workers) may
have no internet, and a pinned wheel is reproducible. `duckdb` is pinned to the packages' version.
"""

from __future__ import annotations

import functools
import importlib
import logging
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# extension name as DuckDB knows it -> the PyPI package that ships it
EXTENSION_PACKAGES: dict[str, str] = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite",
    "httpfs": "duckdb_extension_httpfs",
    # S3 credentials from the AWS credential chain (profile, SSO, instance role) when no
    # AWS_ACCESS_KEY_ID is set
    "aws": "duckdb_extension_aws",
    # a DuckLake catalog on PostgreSQL (WDC_DUCKLAKE_CATALOG=postgres:...)
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}


def packaged_binary(package: str) -> Path:
    """The extension binary a PyPI extension package ships."""
    module = importlib.import_module(package)
    binaries = sorted(Path(module.__file__).parent.rglob("*.duckdb_extension"))
    if not binaries:
        raise RuntimeError(f"{package} ships no .duckdb_extension file; reinstall it with uv sync")
    return binaries[-1]


@functools.cache
def _platform() -> str:
    # A connection of its own: duckdb.sql() shares the module's default connection, which two
    # threads opening connections at once broke ("unsuccessful or closed pending query result").
    with duckdb.connect(":memory:") as con:
        return con.execute("PRAGMA platform").fetchone()[0]


def installed_path(extension_dir: Path, name: str) -> Path:
    return extension_dir / f"v{duckdb.__version__}" / _platform() / f"{name}.duckdb_extension"


def ensure_extensions(extension_dir: Path) -> Path:
    """Install every extension the platform uses into `extension_dir` (idempotent, no network)."""
    extension_dir.mkdir(parents=True, exist_ok=True)
    missing = [n for n in EXTENSION_PACKAGES if not installed_path(extension_dir, n).exists()]
    if not missing:
        return extension_dir
    con = duckdb.connect(
        ":memory:",
        config={"extension_directory": str(extension_dir), "autoinstall_known_extensions": False},
    )
    try:
        for name in missing:
            binary = packaged_binary(EXTENSION_PACKAGES[name])
            con.execute(f"INSTALL '{binary}'")
            log.info("installed DuckDB extension %s from %s into %s", name, binary, extension_dir)
    finally:
        con.close()
    return extension_dir
