"""The policy engine: every policy as a function over the descriptors, the dbt manifest and (when
there is some) the data. `evaluate()` runs them all; Dagster's asset checks and `wdc policy check`
both call it, so CI and the orchestrator enforce the same rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from wdc_orchestration.governance.descriptor import (
    DOMAINS_DIR,
    Privacy,
    ProductDescriptor,
    load_descriptors,
)
from wdc_orchestration.governance.manifest import model_by_id
from wdc_orchestration.governance.policies.compliance import (
    RawRetention,
    check_compliance,
    load_raw_retention,
)
from wdc_orchestration.governance.policies.contract import (
    check_contract,
    check_table_matches_contract,
)
from wdc_orchestration.governance.policies.documentation import check_documentation
from wdc_orchestration.governance.policies.interoperability import check_interoperability
from wdc_orchestration.governance.policies.privacy import check_privacy, check_privacy_data
from wdc_orchestration.governance.policies.security import check_security
from wdc_orchestration.governance.policies.versioning import check_versioning
from wdc_orchestration.governance.pseudonymisation import PSEUDONYM_PATTERN
from wdc_orchestration.governance.scanner import scan_relation
from wdc_orchestration.governance.violations import Policy, Violation
from wdc_orchestration.lakehouse.run_window import RunWindow

if TYPE_CHECKING:
    from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger(__name__)

# A violation of these would leak personal data or mislead a consumer: their asset checks block
# publishing. Documentation and compliance gaps are reported (WARN) but do not stop the data.
BLOCKING_POLICIES = frozenset(
    {Policy.SECURITY, Policy.PRIVACY, Policy.CONTRACT, Policy.VERSIONING, Policy.INTEROPERABILITY}
)


@dataclass(frozen=True)
class GovernanceInputs:
    descriptors: Mapping[str, ProductDescriptor]
    manifest: Mapping[str, Any]
    raw_retention: Mapping[str, Mapping[str, RawRetention]] = field(default_factory=dict)
    # product id -> consumer domains granted by approved access requests (on the lake)
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)


def load_inputs(
    domains_dir: Path = DOMAINS_DIR,
    manifest: Mapping[str, Any] | None = None,
    grants: Mapping[str, frozenset[str]] | None = None,
    lake: LakeStorage | None = None,
) -> GovernanceInputs:
    """Descriptors and raw retention from `domains_dir`; the project's manifest unless given;
    the grants given, else those of `lake`'s approved access requests (none without a lake)."""
    # The contracts first: a broken one is reported before dbt parses the project (seconds, and
    # it creates the catalog's folder).
    descriptors = load_descriptors(domains_dir)
    raw_retention = load_raw_retention(domains_dir)
    if manifest is None:
        # lazy: dagster-dbt and dbt-core (~3 s), only when no manifest is given
        from wdc_orchestration.dbt.project import load_manifest

        manifest = load_manifest()
    if grants is None:
        grants = _lake_grants(lake) if lake is not None else {}
    return GovernanceInputs(
        descriptors=descriptors, manifest=manifest, raw_retention=raw_retention, grants=grants
    )


def _lake_grants(lake: LakeStorage) -> Mapping[str, frozenset[str]]:
    """Approved access requests on `lake` (none when there is no lake yet)."""
    # lazy: dagster (~1 s, the lake's storage), only when the grants are read from the lake
    from wdc_orchestration.governance.access_requests import approved_grants
    from wdc_orchestration.resources.lake import LocalLakeStorage

    if isinstance(lake, LocalLakeStorage) and not Path(lake.root).exists():
        return {}
    return approved_grants(lake)


STATIC_POLICIES: dict[Policy, Callable[[GovernanceInputs], list[Violation]]] = {
    Policy.CONTRACT: lambda i: check_contract(i.descriptors, i.manifest),
    Policy.SECURITY: lambda i: check_security(i.descriptors, i.manifest, i.grants),
    Policy.PRIVACY: lambda i: check_privacy(i.descriptors, i.manifest),
    Policy.COMPLIANCE: lambda i: check_compliance(i.descriptors, i.manifest, i.raw_retention),
    Policy.INTEROPERABILITY: lambda i: check_interoperability(i.descriptors),
    Policy.DOCUMENTATION: lambda i: check_documentation(i.descriptors, i.manifest),
}


def static_violations(inputs: GovernanceInputs) -> list[Violation]:
    """Everything that needs no data: descriptors against the manifest and the rules."""
    return [v for check in STATIC_POLICIES.values() for v in check(inputs)]


def table_columns(
    conn: duckdb.DuckDBPyConnection, d: ProductDescriptor, schema: str | None = None
) -> dict[str, str] | None:
    """Column -> type of the product's DuckLake table (in its public schema, or `schema`); None
    when it was not built yet."""
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'lakehouse' and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema or d.domain, d.name],
    ).fetchall()
    return dict(rows) if rows else None


def incremental_date_column(manifest: Mapping[str, Any], d: ProductDescriptor) -> str | None:
    """The day column an incremental product replaces its rows by (its dbt `unique_key` with
    delete+insert), or None for a product rebuilt whole on every run."""
    node = model_by_id(manifest, d.id) or {}
    config = node.get("config", {})
    key = config.get("unique_key")
    if config.get("materialized") != "incremental" or not isinstance(key, str):
        return None
    return key


def data_violations(
    conn: duckdb.DuckDBPyConnection,
    d: ProductDescriptor,
    window: RunWindow | None = None,
    date_column: str | None = None,
    schema: str | None = None,
) -> list[Violation]:
    """Contract and privacy checks on the product's DuckLake table: its SQL port, or the table in
    `schema` (a run's audit schema, before it is published). With a run
    `window` and the product's `date_column`, the data-level checks read only the window's rows:
    a nightly run replaced only them, and the earlier days passed in their own runs (so the cost
    of a night does not grow with the history); the schema is always the whole table's."""
    actual = table_columns(conn, d, schema)
    if actual is None:
        log.info("%s: no table %s yet, data-level checks skipped", d.id, d.sql_port)
        return []
    found = check_table_matches_contract(d, actual)
    relation = f'lakehouse."{schema or d.domain}"."{d.name}"'
    if window is not None and date_column is not None and date_column in actual:
        relation = (
            f'(select * from {relation} where "{date_column}" between '
            f"date '{window.min_date.isoformat()}' and date '{window.max_date.isoformat()}')"
        )
    bad_pseudonyms = {
        c.name: conn.execute(
            f'select count(*) from {relation} where "{c.name}" is not null '
            f'and not regexp_full_match("{c.name}", ?)',
            [PSEUDONYM_PATTERN],
        ).fetchone()[0]
        for c in d.columns
        if c.privacy == Privacy.PSEUDONYMISED and c.name in actual
    }
    findings = scan_relation(conn, relation, actual)
    return found + check_privacy_data(d, findings, bad_pseudonyms)


def evaluate(
    inputs: GovernanceInputs,
    conn: duckdb.DuckDBPyConnection | None = None,
    published: Mapping[str, ProductDescriptor | None] | None = None,
    products: Iterable[str] | None = None,
    window: RunWindow | None = None,
    schemas: Mapping[str, str] | None = None,
) -> list[Violation]:
    """Every violation: static always, data-level when `conn` is given, versioning when the last
    published contracts are given. `products` limits the per-product data and versioning work;
    a run's `window` limits the data of incremental products to its days; `schemas` (product id
    -> schema) reads a product's data somewhere else than its SQL port (a run's audit schema)."""
    selected = [inputs.descriptors[p] for p in (products or inputs.descriptors)]
    found = static_violations(inputs)
    for d in selected:
        if conn is not None:
            column = incremental_date_column(inputs.manifest, d) if window else None
            schema = (schemas or {}).get(d.id)
            found.extend(data_violations(conn, d, window, column, schema))
        if published is not None:
            found.extend(check_versioning(d, published.get(d.id)))
    return sorted(set(found), key=lambda v: (v.product, v.rule, v.why))


def by_policy(violations: Iterable[Violation], product: str) -> dict[Policy, list[Violation]]:
    """One product's violations, grouped by policy (every policy present, maybe empty)."""
    grouped: dict[Policy, list[Violation]] = {policy: [] for policy in Policy}
    for v in violations:
        if v.product == product:
            grouped[v.policy].append(v)
    return grouped
