"""The one dbt project shared by every domain: its manifest, and how its nodes become assets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from wdc_orchestration.dbt.manifest import DBT_TARGET as DBT_TARGET
from wdc_orchestration.dbt.manifest import dbt_project as dbt_project
from wdc_orchestration.dbt.manifest import dbt_target_dir as dbt_target_dir
from wdc_orchestration.dbt.manifest import ensure_manifest as ensure_manifest
from wdc_orchestration.dbt.manifest import export_dbt_env as export_dbt_env
from wdc_orchestration.dbt.manifest import load_manifest as load_manifest
from wdc_orchestration.dbt.manifest import parse_fingerprint as parse_fingerprint
from wdc_orchestration.lakehouse.wap import AUDIT_SUFFIX

log = logging.getLogger(__name__)

# (domain, product) -> what a data product's asset shows in the catalog / its freshness policy
ProductMetadata = Callable[[str, str], Mapping[str, Any]]
ProductFreshness = Callable[[str, str], dg.FreshnessPolicy]


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

    def __init__(
        self,
        groups: Mapping[str, Mapping[str, Any]],
        product_metadata: ProductMetadata | None = None,
        product_freshness: ProductFreshness | None = None,
    ) -> None:
        # Source tests are checks too, but run by the raw gate before the dbt step
        # (wdc_orchestration/quality/source_tests.py says why), not inside it.
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=False))
        self._groups = groups
        # What the capabilities add to a data product's asset (the mesh's factory passes them in:
        # governance and quality build on dbt, not the other way round)
        self._product_metadata = product_metadata
        self._product_freshness = product_freshness

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
        if dbt_resource_props.get("access") == "public" and latest and self._product_metadata:
            # Governance hook: a data product shows its contract in the catalog (owner, version,
            # SLA, allowed consumers, classification per column, where its ports live).
            metadata.update(
                self._product_metadata(domain_of(dbt_resource_props), dbt_resource_props["name"])
            )
        return metadata

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        public = props["resource_type"] == "model" and props.get("access") == "public"
        if public and self._product_freshness:
            # A data product's SLA becomes a freshness policy (WARN, then FAIL when late).
            policy = self._product_freshness(domain_of(props), props["name"])
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
def translator(
    product_metadata: ProductMetadata | None = None,
    product_freshness: ProductFreshness | None = None,
) -> WdcDbtTranslator:
    """The translator of the shared project: keys, groups and owners; with the capabilities'
    hooks, a data product's catalog metadata and freshness policy too (the dbt step's assets)."""
    groups = {g["name"]: g for g in load_manifest().get("groups", {}).values()}
    return WdcDbtTranslator(groups, product_metadata, product_freshness)
