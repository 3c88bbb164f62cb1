"""The one dbt project shared by every domain: its manifest, and how its nodes become assets."""

from __future__ import annotations

import logging
from collections.abc import Mapping
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

    Specs from dbt's manifest only: keys, groups (the domain), owners (dbt's group owner,
    dagster-dbt's default), tags and the table consumers read. What governance adds to a data
    product (its freshness policy, its contract's metadata) is applied by the domain factory on
    the resolved specs (mesh/domain.py, `product_governance`), not here."""

    def __init__(self) -> None:
        # Source tests are checks too, but run by the raw gate before the dbt step
        # (wdc_orchestration/quality/source_tests.py says why), not inside it.
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=False))

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
        return metadata

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
    return WdcDbtTranslator()
