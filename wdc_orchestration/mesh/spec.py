"""The types a domain and the platform's capabilities share: what a domain declares (DomainSpec),
and the two ways a capability plugs into every domain (definitions of its own; a gate on the
audited rows of the domain's dbt step). Their own module, so that the factory (mesh/domain.py) and
the capabilities (quality, governance) depend on these types and not on each other."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import dagster as dg
import duckdb

from wdc_orchestration.lakehouse.run_window import RunWindow
from wdc_orchestration.raw.generation.request import RawEntity
from wdc_orchestration.resources.lake import LakeStorage


@dataclass(frozen=True)
class DomainSpec:
    """Everything the platform needs to know about a business domain."""

    name: str
    team: str
    owner: str  # e-mail of the owning team; shown as the owner of every asset of the domain
    description: str
    raw_entities: Sequence[RawEntity]


# A capability that adds definitions to every domain (checks, publishing, sensors...): takes the
# domain's spec, returns Definitions without resources (the core provides them).
DomainCapability = Callable[[DomainSpec], dg.Definitions]


@dataclass(frozen=True)
class AuditContext:
    """What a gate sees of a dbt step: the run's window, built into the audit schema, not yet
    published. `conn` has the lakehouse attached (`lakehouse.<domain>__audit.<table>`)."""

    conn: duckdb.DuckDBPyConnection
    domain: str
    audit_schema: str
    window: RunWindow
    run_id: str
    built_tables: frozenset[str]  # tables/incremental models built (and audited) in this step
    selected_check_keys: AbstractSet[dg.AssetCheckKey]
    log: dg.DagsterLogManager
    lake: LakeStorage


@dataclass(frozen=True)
class AuditGate:
    """Checks a capability runs on the audited rows of a domain's dbt step, after dbt's tests and
    before publishing: a failed blocking check (ERROR) publishes nothing. Its check specs become
    part of the dbt step (its results are reported with the models they judge)."""

    name: str
    check_specs: Sequence[dg.AssetCheckSpec]
    evaluate: Callable[[AuditContext], Iterable[dg.AssetCheckResult]]


AuditGateProvider = Callable[[DomainSpec], AuditGate | None]
