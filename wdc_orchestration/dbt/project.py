"""The one dbt project shared by every domain: its manifest, and how its nodes become assets."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from wdc_orchestration.lakehouse.wap import AUDIT_SUFFIX
from wdc_orchestration.settings import DBT_PROJECT_DIR, Settings, environment, get_settings

log = logging.getLogger(__name__)

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
        from wdc_orchestration.lakehouse.extensions import ensure_extensions

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
        from wdc_orchestration.dbt.runner import parse_project

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


def domain_of(dbt_resource_props: Mapping[str, Any]) -> str:
    """Models live in models/<domain>/...; sources are named <domain>_raw."""
    if dbt_resource_props["resource_type"] == "source":
        return dbt_resource_props["source_name"].removesuffix("_raw")
    return dbt_resource_props["fqn"][1]


# What lakehouse/wap.py publishes into the public schema (views and ephemeral models are not
# copied).
PUBLISHED = ("table", "incremental")


def published_relation(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """`lakehouse.<domain>.<table>` of a model the platform publishes (a table or incremental
    model dbt builds into `<domain>__audit`); None for views, which stay in the audit schema."""
    schema = str(dbt_resource_props.get("schema") or "")
    materialized = (dbt_resource_props.get("config") or {}).get("materialized")
    if dbt_resource_props.get("resource_type") != "model" or materialized not in PUBLISHED:
        return None
    if not schema.endswith(AUDIT_SUFFIX):
        return None
    name = dbt_resource_props.get("alias") or dbt_resource_props["name"]
    database = dbt_resource_props.get("database") or "lakehouse"
    return f"{database}.{schema.removesuffix(AUDIT_SUFFIX)}.{name}"


class WdcDbtTranslator(DagsterDbtTranslator):
    """Every dbt node becomes `<domain>/<model>`; sources become the raw assets that land them.
    Groups and owners come from the dbt group of the domain."""

    def __init__(self, groups: Mapping[str, Mapping[str, Any]]) -> None:
        # Source tests are checks too, but run by the raw gate before the dbt step
        # (wdc_orchestration/quality/source_tests.py says why), not inside it.
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=False))
        self._groups = groups

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        domain = domain_of(dbt_resource_props)
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([domain, "raw", dbt_resource_props["name"]])
        version = dbt_resource_props.get("version")
        if version is not None and str(version) != str(dbt_resource_props.get("latest_version")):
            # an older major of a versioned product, served until its deprecation date: its own
            # asset, so the lineage shows which major each consumer reads
            return dg.AssetKey([domain, f"{dbt_resource_props['name']}_v{version}"])
        return dg.AssetKey([domain, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return domain_of(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        # dagster-dbt passes a model's resolved group; a source has none: use its domain's group.
        group = dbt_resource_props.get("group")
        if not isinstance(group, Mapping):
            group = self._groups.get(group or domain_of(dbt_resource_props))
        email = (group or {}).get("owner", {}).get("email")
        return [email] if email else None

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        access = dbt_resource_props.get("access")
        if access:
            tags["wdc/access"] = access
        if access == "public":
            tags["wdc/data_product"] = ""
        return tags

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = dict(super().get_metadata(dbt_resource_props))
        public_table = published_relation(dbt_resource_props)
        if public_table:
            # dbt builds into the audit schema; what the catalog shows as the asset's storage is
            # where consumers read it, the public table the platform publishes into
            # (lakehouse/wap.py).
            metadata["dagster/table_name"] = public_table
        latest = str(dbt_resource_props.get("version")) == str(
            dbt_resource_props.get("latest_version")
        )
        if dbt_resource_props.get("access") == "public" and latest:
            # Governance hook: a data product shows its contract in the catalog (owner, version,
            # SLA, allowed consumers, classification per column, where its ports live).
            from wdc_orchestration.governance.catalog_metadata import dbt_product_metadata

            metadata.update(
                dbt_product_metadata(domain_of(dbt_resource_props), dbt_resource_props["name"])
            )
        return metadata

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and props.get("access") == "public":
            # A data product's SLA becomes a freshness policy (WARN, then FAIL when late).
            from wdc_orchestration.quality.freshness import freshness_policy

            policy = freshness_policy(domain_of(props), props["name"])
            spec = spec.replace_attributes(freshness_policy=policy)
        return spec

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        # dagster-dbt makes severity `error` tests blocking and `warn` tests non-blocking; say so
        # on the check, so the UI tells which failures stop the downstream models.
        check = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if check is None:
            return None
        severity = manifest["nodes"][unique_id].get("config", {}).get("severity") or "error"
        meaning = (
            "ERROR: blocks the downstream models and products"
            if check.blocking
            else "WARN: reported, does not stop anything"
        )
        return check._replace(
            description=f"dbt test, severity {severity.upper()} ({meaning}).",
            metadata={**check.metadata, "wdc/severity": severity.lower()},
        )


@cache
def translator() -> WdcDbtTranslator:
    groups = {g["name"]: g for g in load_manifest().get("groups", {}).values()}
    return WdcDbtTranslator(groups)
