"""Where things live. Every setting comes from the environment (or `.env`) with a default that
needs nothing set: a git-ignored lake folder in the project and a SQLite DuckLake catalog file."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@cache
def load_dotenv_once() -> None:
    """Read `.env` at the project root (never committed) without overriding the real environment."""
    from dotenv import load_dotenv

    load_dotenv(PROJECT_ROOT / ".env", override=False)


def _env(name: str, default: str) -> str:
    load_dotenv_once()
    value = os.environ.get(name, "").strip()
    return value or default


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in `os.environ` for the block (subprocesses started in it inherit them), then
    restore what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def isolated_lake_env(root: Path) -> dict[str, str]:
    """The settings of a self-contained lake under `root` (lake folder, SQLite DuckLake catalog,
    Dagster instance, log folder): how tests and benchmarks stay out of the project's `.lake`."""
    return {
        "WDC_LAKE_URL": str(root / "lake"),
        "WDC_DUCKLAKE_CATALOG": f"sqlite:{root / 'catalog' / 'wdc.sqlite'}",
        "WDC_DUCKLAKE_DATA_PATH": str(root / "lake" / "lakehouse") + "/",
        "DAGSTER_HOME": str(root / "dagster_home"),
        "WDC_LOG_DIR": str(root / "logs"),
    }


def is_remote(url: str) -> bool:
    return "://" in url and not url.startswith("file://")


def _local(path_or_url: str) -> str:
    """Absolute local path for a relative or file:// setting; remote URLs stay as they are."""
    if is_remote(path_or_url):
        return path_or_url.rstrip("/")
    path = path_or_url.removeprefix("file://")
    return str((PROJECT_ROOT / path).resolve()) if not os.path.isabs(path) else path


@dataclass(frozen=True)
class Settings:
    lake_url: str
    ducklake_catalog: str
    ducklake_data_path: str
    duckdb_extension_dir: Path
    dagster_home: Path
    log_dir: Path
    seed: int
    scale_factor: float
    upstream_wait_seconds: float = 86_400.0

    @property
    def lake_is_local(self) -> bool:
        return not is_remote(self.lake_url)

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt's profile and sources read (dbt_project/profiles.yml)."""
        return {
            "WDC_LAKE_URL": self.lake_url,
            "WDC_DUCKLAKE_CATALOG": self.ducklake_catalog,
            "WDC_DUCKLAKE_DATA_PATH": self.ducklake_data_path,
            "WDC_DUCKDB_EXTENSION_DIR": str(self.duckdb_extension_dir),
        }


def get_settings() -> Settings:
    """Read the settings now (not cached: tests and the CLI change the environment)."""
    lake_url = _local(_env("WDC_LAKE_URL", ".lake"))
    local_state = PROJECT_ROOT / ".wdc"
    # SQLite cannot live on object storage: with a remote lake the file stays on this machine.
    catalog_dir = f"{lake_url}/catalog" if not is_remote(lake_url) else str(local_state)
    return Settings(
        lake_url=lake_url,
        # The DuckLake metadata catalog as DuckLake spells it after `ducklake:`: a SQLite file by
        # default, `postgres:dbname=... host=...` in production.
        ducklake_catalog=_env("WDC_DUCKLAKE_CATALOG", f"sqlite:{catalog_dir}/wdc.sqlite"),
        ducklake_data_path=_env("WDC_DUCKLAKE_DATA_PATH", f"{lake_url}/lakehouse/"),
        duckdb_extension_dir=Path(
            _local(_env("WDC_DUCKDB_EXTENSION_DIR", ".wdc/duckdb_extensions"))
        ),
        dagster_home=Path(_local(_env("DAGSTER_HOME", ".wdc/dagster_home"))),
        log_dir=Path(_local(_env("WDC_LOG_DIR", ".wdc/logs"))),
        seed=int(_env("WDC_SEED", "42")),
        scale_factor=float(_env("WDC_SCALE_FACTOR", "1.0")),
        # How long a domain's run waits for another domain's data of the day (a day).
        upstream_wait_seconds=float(_env("WDC_UPSTREAM_WAIT_SECONDS", "86400")),
    )
