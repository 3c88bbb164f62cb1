"""KPIs over data products: declared by each domain in `domains/<domain>/kpis.yaml`, computed on
the products-only reader, charted as Dagster asset metadata (PNG) and in the portal (Plotly).
`kpi_definitions(spec)` is the domain capability that adds a domain's KPI assets."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

    from wdc_orchestration.mesh.domain import DomainSpec


def kpi_definitions(spec: DomainSpec) -> dg.Definitions:
    """The KPI assets of one domain (none when it declares no KPI)."""
    from wdc_orchestration.kpis.assets import build_kpi_definitions

    return build_kpi_definitions(spec)
