"""Federated governance as code: data product descriptors (contracts), the five policies over
the dbt manifest, the descriptors and the data, publishing of the products' file ports, and the
catalog. `governance_definitions(spec)` is the domain capability that adds it to every domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

    from wdc_orchestration.mesh.spec import DomainSpec


def governance_definitions(spec: DomainSpec) -> dg.Definitions:
    """The governance capability of one domain: policy checks, publishing assets, purge job."""
    from wdc_orchestration.governance.assets import build_governance_definitions

    return build_governance_definitions(spec)
