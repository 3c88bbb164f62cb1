"""The KPI capability's Dagster side: one asset per KPI a domain declares, `[<domain>, "kpi",
<name>]` in the domain's group, downstream of the products it reads. It runs the KPI's query on
the products-only reader (never the platform's lakehouse connection) and records the chart as a
PNG in its Markdown metadata, which the Dagster UI shows on the asset's page."""

import base64

import dagster as dg

from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.product_reader import ProductReader
from wdc_orchestration.kpis.spec import KpiSpec, load_kpis
from wdc_orchestration.lakehouse.catalog_lock import lakehouse_pool
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.settings import Settings

CHART_KEY = "wdc/kpi_chart"


def kpi_key(spec: KpiSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.domain, "kpi", spec.name])


def chart_markdown(spec: KpiSpec, image: bytes) -> str:
    """The PNG inline, as a data URI: the Dagster UI renders it in the metadata panel."""
    encoded = base64.b64encode(image).decode()
    return f"![{spec.title}](data:image/png;base64,{encoded})"


def build_kpi_asset(spec: KpiSpec, owner: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=kpi_key(spec),
        deps=[dg.AssetKey(product.split(".", 1)) for product in spec.reads],
        group_name=spec.domain,
        owners=[owner],
        description=f"KPI: {spec.title}. {spec.description} Reads {', '.join(spec.reads)}.",
        kinds={"plotly", "duckdb"},
        tags={"wdc/kpi": ""},
        metadata={"wdc/sql": dg.MarkdownMetadataValue(f"```sql\n{spec.sql}\n```")},
        # Every day of a backfill ends in the same KPI over the products as they are now:
        # one computation, not one per day.
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        # a reader of the SQLite catalog during a write risks "database is locked"
        pool=lakehouse_pool(spec.domain),
    )
    def _kpi(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        # imported here: matplotlib would add to every code location's load time
        from wdc_orchestration.kpis.figures import png

        reader = ProductReader(settings, load_descriptors())
        try:
            frame = reader.query(spec.sql)
        finally:
            reader.close()
        image = png(spec, frame)
        context.log.info(f"{spec.id}: {len(frame)} row(s), chart of {len(image)} bytes")
        return dg.MaterializeResult(
            metadata={
                CHART_KEY: dg.MarkdownMetadataValue(chart_markdown(spec, image)),
                "dagster/row_count": len(frame),
            }
        )

    return _kpi


def build_kpi_definitions(spec: DomainSpec) -> dg.Definitions:
    """The KPI capability for one domain (a domain capability; resources come from the core)."""
    kpis = load_kpis(load_descriptors(), domain=spec.name)
    return dg.Definitions(assets=[build_kpi_asset(kpi, spec.owner) for kpi in kpis])
