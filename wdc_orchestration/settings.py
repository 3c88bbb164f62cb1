"""Where things live. Every setting comes from the environment (or `.env`) with a default that
needs nothing set: a git-ignored lake folder in the project and a SQLite DuckLake catalog file.

One configuration path: `get_settings()` is read at the edges only, once, and what it returns is
passed down; assets, sensors, checks, policies and the KPIs read their resources (the `settings`
resource carries `Settings` itself, mesh/resources.py) or take what they need as arguments.
The edges (`SETTINGS_EDGES`; tests/test_storage_settings.py holds the code to it):

- the CLI entry points: `wdc` (cli.py), its quality, doctor, governance, product and deploy
  commands (quality/cli.py, quality/cli_support.py for `wdc materialize`'s enforcement,
  doctor/cli.py, governance/cli.py, governance/product_cli.py, ops/deploy_cli.py) and `wdc-portal`'s
  (wdc_portal/cli.py);
- the definitions: a code location's (mesh/domain.py: `build_domain_definitions`, and the pools it
  assigns, lakehouse/catalog_lock.py: `lakehouse_pool`), the whole mesh's for the CLI
  (mesh/workspace.py: `mesh_definitions`, and its Dagster instance, `dagster_home`), their
  resources (mesh/resources.py: `build_resources`), and the dbt parse they are built from
  (dbt/manifest.py: `ensure_manifest`, when no runner's settings are given);
- the dbt-duckdb plugins (dbt/duckdb_plugins/storage.py, dbt/duckdb_plugins/session.py), which
  run inside dbt's invocation and can only read its environment, which `DbtRunner` sets for that
  invocation from its resource's settings (dbt/manifest.py: `dbt_environment`);
- the portal's start (wdc_portal/context.py: `configure`).

No inner module reads them itself. Secrets are read from the environment when they
are used, never a resource's field: S3Settings.from_env, `ducklake_catalog_from_env` (a masked
catalog), the webhook URL and the pseudonymisation key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from wdc_orchestration.raw.generation.volume import SCALE_FACTOR_RANGE, scale_factor_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@cache
def load_dotenv_once() -> None:
    """Read `.env` at the project root (never committed) without overriding the real environment."""
    from dotenv import load_dotenv

    load_dotenv(PROJECT_ROOT / ".env", override=False)


class SettingsError(ValueError):
    """A setting's value cannot be used (`WDC_SEED=abc`, `WDC_SCALE_FACTOR=nan`...). The message
    is one line naming the variable and what it takes: `wdc` prints it and exits 2."""


def _env(name: str, default: str) -> str:
    load_dotenv_once()
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: str) -> int:
    value = _env(name, default)
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not an integer") from None


def _env_float(name: str, default: str) -> float:
    value = _env(name, default)
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a number") from None


def _upstream_poll_seconds() -> float:
    value = _env_float("WDC_UPSTREAM_POLL_SECONDS", "2")
    if not 0 < value <= 3600:  # nan and inf fail this too
        text = _env("WDC_UPSTREAM_POLL_SECONDS", "2")
        raise SettingsError(
            f"WDC_UPSTREAM_POLL_SECONDS={text!r} is not a number of seconds above 0 and at most "
            "3600"
        )
    return value


RUN_MONITORING_SECONDS = 5
RUN_MONITORING_VARIABLE = "WDC_RUN_MONITORING_SECONDS"


def run_monitoring_seconds(env: Mapping[str, str]) -> int:
    """WDC_RUN_MONITORING_SECONDS, a whole number of seconds of at least 1 (default 5)."""
    value = env.get(RUN_MONITORING_VARIABLE, "").strip()
    if not value:
        return RUN_MONITORING_SECONDS
    return _whole_seconds(RUN_MONITORING_VARIABLE, value)


def _whole_seconds(variable: str, value: str) -> int:
    """`value` of `variable` as a whole number of seconds of at least 1, or a one-line error."""
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise SettingsError(f"{variable}={value!r} is not a whole number of seconds of at least 1")
    return seconds


SENSOR_INTERVAL_VARIABLE = "WDC_SENSOR_INTERVAL_SECONDS"


def sensor_interval_seconds() -> int:
    """The platform's sensors' `minimum_interval_seconds` (quarantine, run failures, late
    upstream, raw arrivals): WDC_SENSOR_INTERVAL_SECONDS, 30 unless set. Read when a code
    location loads its definitions. A test that waits for a sensor's tick sets it lower for its
    own `dagster dev`; every tick costs the daemon a call into each code location."""
    return _whole_seconds(SENSOR_INTERVAL_VARIABLE, _env(SENSOR_INTERVAL_VARIABLE, "30"))


def _env_scale_factor() -> float:
    value = _env_float("WDC_SCALE_FACTOR", "1.0")
    if scale_factor_problem(value):
        text = _env("WDC_SCALE_FACTOR", "1.0")
        raise SettingsError(
            f"WDC_SCALE_FACTOR={text} is not a scale factor: use {SCALE_FACTOR_RANGE}"
        )
    return value


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


def is_s3(url: str) -> bool:
    return url.startswith("s3://")


@dataclass(frozen=True)
class S3Settings:
    """How the platform reaches S3 (or any S3 API), for boto3 and for every DuckDB it opens.

    From `WDC_S3_ENDPOINT_URL` (else the AWS SDKs' own `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`)
    and the standard `AWS_*` variables. Without `AWS_ACCESS_KEY_ID` the credentials come from
    the AWS credential chain (profile, SSO, instance or task role), in boto3 and DuckDB alike."""

    endpoint_url: str | None
    region: str
    # repr=False: settings get logged and shown; the credentials must not be.
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls) -> S3Settings:
        load_dotenv_once()
        endpoint = next(
            (
                os.environ[name].strip()
                for name in ("WDC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
                if os.environ.get(name, "").strip()
            ),
            None,
        )
        region = _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1"))
        if endpoint and "://" not in endpoint:
            endpoint = f"https://{endpoint}"  # as the AWS SDKs take a bare host
        return cls(
            endpoint_url=endpoint.rstrip("/") if endpoint else None,
            region=region,
            access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "").strip() or None,
            secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "").strip() or None,
            session_token=os.environ.get("AWS_SESSION_TOKEN", "").strip() or None,
        )

    @property
    def endpoint_host(self) -> str | None:
        """`host[:port]` of a custom endpoint, as DuckDB's ENDPOINT wants it (no scheme)."""
        if not self.endpoint_url:
            return None
        return urlsplit(self.endpoint_url).netloc or None

    @property
    def url_style(self) -> str:
        # AWS addresses buckets as virtual hosts; S3-compatible servers (moto, SeaweedFS, MinIO)
        # behind one host name need the bucket in the path.
        return "path" if self.endpoint_url else "vhost"

    @property
    def use_ssl(self) -> bool:
        return not (self.endpoint_url or "").startswith("http://")

    @property
    def has_static_credentials(self) -> bool:
        return bool(self.access_key_id and self.secret_access_key)


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
    # How often a waiting readiness check looks again (UpstreamWait.poll_seconds).
    upstream_poll_seconds: float = 2.0
    # The instance's run monitoring (mesh.instance_yaml): its poll and its freeing of slots.
    run_monitoring_seconds: int = 5
    # None unless the lake or the DuckLake data path is on S3.
    s3: S3Settings | None = None
    # How the catalog's writers queue (catalog_lock.lakehouse_pool): "per_domain" (one pool per
    # domain, the default; PostgreSQL catalog only) or "single" (one pool for every domain).
    ducklake_pool: str = "per_domain"
    # Each DuckDB instance the platform opens (dbt's, the lakehouse resource's, the raw gate's)
    # holds at most this much in its buffers and spills the rest to a folder of its own under
    # `duckdb_temp_dir` (connection.spill_directory).
    duckdb_memory_limit: str = "2GB"
    duckdb_temp_dir: Path = PROJECT_ROOT / ".wdc" / "duckdb_tmp"

    @property
    def pool_per_domain(self) -> bool:
        """Whether each domain's writers queue in a pool of their own: on a PostgreSQL catalog,
        unless WDC_DUCKLAKE_POOL=single. A SQLite catalog takes one writer at a time."""
        return self.catalog_is_postgres and self.ducklake_pool == "per_domain"

    @property
    def lake_is_local(self) -> bool:
        return not is_remote(self.lake_url)

    @property
    def catalog_is_postgres(self) -> bool:
        return is_postgres_catalog(self.ducklake_catalog)

    @property
    def dbt_threads(self) -> int:
        """One dbt thread on either catalog (dbt_project/profiles.yml says why); the domains'
        dbt steps write at once instead, each in its own process (pool_per_domain)."""
        return DBT_THREADS

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt's profile and sources read (dbt_project/profiles.yml). No secrets:
        these are fingerprinted for dbt's parse state and inherited by subprocesses; S3
        credentials reach dbt's DuckDB through its storage plugin (lakehouse/connection.py)."""
        return {
            "WDC_LAKE_URL": self.lake_url,
            "WDC_DUCKLAKE_CATALOG": self.ducklake_catalog,
            "WDC_DUCKLAKE_DATA_PATH": self.ducklake_data_path,
            "WDC_DUCKDB_EXTENSION_DIR": str(self.duckdb_extension_dir),
            "WDC_DBT_THREADS": str(self.dbt_threads),
            "WDC_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
        }


# dbt threads in a domain's dbt step. Two threads of one dbt-duckdb process share one DuckDB
# database: on SQLite their two DuckLake transactions deadlock at COMMIT; on PostgreSQL a
# thread's ALTER ... RENAME of its `__dbt_tmp` relation failed now and then with "View with
# name ...__dbt_tmp does not exist" (here: 2 nights in 2 at SF 1 with 4 threads; the same as
# duckdb/dbt-duckdb#748, where 1 thread is the fix). Separate processes, one per domain, commit
# concurrently without it. DuckDB still parallelises inside each query.
DBT_THREADS = 1


def is_postgres_catalog(catalog: str) -> bool:
    """Whether a DuckLake catalog (as spelled after `ducklake:`) is a PostgreSQL database."""
    return catalog.startswith("postgres:")


# The modules that call get_settings() (see the module docstring).
SETTINGS_EDGES = frozenset(
    {
        "wdc_orchestration.cli",
        "wdc_orchestration.quality.cli",
        "wdc_orchestration.quality.cli_support",
        "wdc_orchestration.ops.doctor.cli",
        "wdc_orchestration.governance.cli",
        "wdc_orchestration.governance.product_cli",
        "wdc_orchestration.ops.deploy_cli",
        "wdc_portal.cli",
        "wdc_orchestration.mesh.domain",
        "wdc_orchestration.lakehouse.catalog_lock",
        "wdc_orchestration.mesh.workspace",
        "wdc_orchestration.mesh.resources",
        "wdc_orchestration.dbt.manifest",
        "wdc_orchestration.dbt.duckdb_plugins.storage",
        "wdc_orchestration.dbt.duckdb_plugins.session",
        "wdc_portal.context",
    }
)


def get_settings() -> Settings:
    """Read the settings now (not cached: tests and the CLI change the environment)."""
    lake_url = _local(_env("WDC_LAKE_URL", ".lake"))
    local_state = PROJECT_ROOT / ".wdc"
    # SQLite cannot live on object storage: with a remote lake the file stays on this machine.
    catalog_dir = f"{lake_url}/catalog" if not is_remote(lake_url) else str(local_state)
    data_path = _env("WDC_DUCKLAKE_DATA_PATH", f"{lake_url}/lakehouse/")
    return Settings(
        lake_url=lake_url,
        # The DuckLake metadata catalog as DuckLake spells it after `ducklake:`: a SQLite file by
        # default, `postgres:dbname=... host=...` in production.
        ducklake_catalog=ducklake_catalog_from_env(f"sqlite:{catalog_dir}/wdc.sqlite"),
        ducklake_data_path=data_path,
        duckdb_extension_dir=Path(
            _local(_env("WDC_DUCKDB_EXTENSION_DIR", ".wdc/duckdb_extensions"))
        ),
        dagster_home=Path(_local(_env("DAGSTER_HOME", ".wdc/dagster_home"))),
        log_dir=Path(_local(_env("WDC_LOG_DIR", ".wdc/logs"))),
        seed=_env_int("WDC_SEED", "42"),
        scale_factor=_env_scale_factor(),
        # How long a domain's run waits for another domain's data of the day (a day).
        upstream_wait_seconds=_env_float("WDC_UPSTREAM_WAIT_SECONDS", "86400"),
        upstream_poll_seconds=_upstream_poll_seconds(),
        run_monitoring_seconds=run_monitoring_seconds(os.environ),
        s3=S3Settings.from_env() if is_s3(lake_url) or is_s3(data_path) else None,
        ducklake_pool=_ducklake_pool(),
        # DuckDB's own default is 80 % of the machine's RAM: on a 24 GiB machine it never spills,
        # and one SF 100 day peaked at 4.2-4.7 GiB (docs/benchmarks.md §8).
        duckdb_memory_limit=_env("WDC_DUCKDB_MEMORY_LIMIT", "2GB"),
        duckdb_temp_dir=Path(_local(_env("WDC_DUCKDB_TEMP_DIR", ".wdc/duckdb_tmp"))),
    )


def ducklake_catalog_from_env(default: str = "") -> str:
    """WDC_DUCKLAKE_CATALOG (`default` when unset). Alone, for the lakehouse resource, whose
    field holds the catalog with its secrets masked: it reads the real one when it connects."""
    return _env("WDC_DUCKLAKE_CATALOG", default)


def _ducklake_pool() -> str:
    value = _env("WDC_DUCKLAKE_POOL", "per_domain")
    if value not in ("single", "per_domain"):
        raise SettingsError(f"WDC_DUCKLAKE_POOL={value!r}: use 'single' or 'per_domain'")
    return value


def is_production() -> bool:
    """`WDC_ENV=production`: a deployment that says so refuses development fallbacks (the public
    pseudonymisation key) whatever its storage looks like."""
    return _env("WDC_ENV", "development").lower() == "production"


def remote_storage_parts() -> list[str]:
    """The parts of the configured storage that are not on this machine, each as the variable
    that makes it so: the lake, the DuckLake data path, a PostgreSQL catalog. Read from the
    environment as get_settings() reads it (the data path follows the lake when unset)."""
    lake = _env("WDC_LAKE_URL", ".lake")
    parts = []
    if is_remote(lake):
        parts.append(f"WDC_LAKE_URL={lake}")
    data_path = _env("WDC_DUCKLAKE_DATA_PATH", "")
    if data_path and is_remote(data_path):
        parts.append(f"WDC_DUCKLAKE_DATA_PATH={data_path}")
    if is_postgres_catalog(_env("WDC_DUCKLAKE_CATALOG", "")):
        parts.append("WDC_DUCKLAKE_CATALOG=postgres:...")
    return parts


MASK = "***"
# `password=...` and its kin in libpq key=value strings (quoted or not), `user:password@` in
# URLs, and DuckDB's `SECRET '...'`/`KEY_ID '...'`/`SESSION_TOKEN '...'` options.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|secret_access_key|access_key|token|session_token|"
    r"api_key|apikey|key)(\s*=\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s;&,)]+)"
)
_SECRET_OPTION = re.compile(r"(?i)\b(SECRET|KEY_ID|SESSION_TOKEN)(\s+)'(?:[^']|'')*'")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@")


def mask_secrets(text: str) -> str:
    """`text` with the secrets of connection strings replaced by `***`: what the portal's
    snippets, the Dagster resource and log lines show of a `WDC_DUCKLAKE_CATALOG` such as
    `postgres:dbname=wdc host=db password=s3cret` (better: PGPASSWORD or a .pgpass file)."""
    text = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _SECRET_OPTION.sub(lambda m: f"{m.group(1)}{m.group(2)}'{MASK}'", text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
