"""The governance capability's Dagster side, for one domain: per product, the publishing asset of
its file port; per domain with personal raw data, the raw purge job. (The policies judge each run's
audited rows inside the domain's dbt step, before anything is published: audit_gate.py.)

Asset keys: the dbt product is `[<domain>, <product>]` (its DuckLake table, the SQL port); its
Parquet port is `[<domain>, "published", <product>]`, which depends on it: it runs only after
the dbt step published the window, and exports exactly that DuckLake snapshot."""

import datetime as dt
import tempfile
from pathlib import Path

import dagster as dg
import duckdb

from wdc_orchestration.governance.catalog_metadata import PORT_TAG
from wdc_orchestration.governance.descriptor import (
    Classification,
    ProductDescriptor,
    load_descriptors,
)
from wdc_orchestration.governance.policies import load_inputs
from wdc_orchestration.governance.policies.compliance import load_raw_retention
from wdc_orchestration.governance.publications import latest_publication
from wdc_orchestration.governance.publishing import (
    Publication,
    consumer_sql,
    contract_mismatch,
    mark_previous_major,
    publish,
    published_contract,
)
from wdc_orchestration.governance.purge import purge_raw
from wdc_orchestration.lakehouse.faults import retry_transient
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.lakehouse import DuckLakeResource


def product_key(d: ProductDescriptor) -> dg.AssetKey:
    return dg.AssetKey([d.domain, d.name])


def published_key(d: ProductDescriptor) -> dg.AssetKey:
    return dg.AssetKey([d.domain, "published", d.name])


def build_publish_asset(d: ProductDescriptor) -> dg.AssetsDefinition:
    @dg.asset(
        key=published_key(d),
        deps=[product_key(d)],
        group_name=d.domain,
        owners=[d.team.owner],
        description=(
            f"File port of {d.id} {d.version}: a Parquet snapshot with its contract under "
            f"{d.file_port_prefix}, published after the product's build and blocking checks "
            f"passed. Purpose: {d.description.purpose}"
        ),
        # its catalog metadata is the product's, added with the dbt model's on the resolved
        # specs (mesh/domain.py: product_governance)
        kinds={"parquet"},
        tags={"wdc/data_product": "", PORT_TAG: "parquet"},
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        # No pool: it only reads the catalog (a reader beside a writer is fine on SQLite too).
    )
    def _publish(
        context: dg.AssetExecutionContext, lake: LakeStorage, lakehouse: DuckLakeResource
    ) -> dg.MaterializeResult:
        # the descriptor as it is now (the code location may be older than the file)
        current = load_inputs(lake=lake).descriptors[d.id]
        # Retried on an outage: a port's files are written before its pointer (publishing.py).
        with retry_transient(context, f"publishing of {d.id}"):
            with lakehouse.get_connection() as conn:
                # exactly the SQL port's latest publication, even if another one lands meanwhile
                sql_port = latest_publication(conn, d.domain, d.name)
                publication = publish(
                    conn,
                    lake,
                    current,
                    snapshot_id=_snapshot_id(context),
                    ducklake_snapshot=sql_port.snapshot_id if sql_port else None,
                )
                previous = _publish_previous_major(context, conn, lake, current)
            with tempfile.TemporaryDirectory() as scratch:
                retired = mark_previous_major(lake, current, dt.date.today(), Path(scratch))
        for key in retired:
            context.log.info(f"retired {key} (v{current.deprecation.previous_major} past its date)")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": publication.rows,
                "wdc/version": publication.version,
                "wdc/snapshot": dg.PathMetadataValue(
                    lake.url(publication.prefix + publication.snapshot)
                ),
                "wdc/pointer": dg.PathMetadataValue(lake.url(publication.prefix + "current.json")),
                "wdc/files": len(publication.files),
                **(
                    {
                        "wdc/previous_major": previous.version,
                        "wdc/previous_major_rows": previous.rows,
                    }
                    if previous is not None
                    else {}
                ),
                **(
                    {"wdc/ducklake_snapshot": publication.ducklake_snapshot}
                    if publication.ducklake_snapshot is not None
                    else {}
                ),
                "wdc/read_with_duckdb": dg.MarkdownMetadataValue(
                    "```sql\n" + consumer_sql(lake.url(), d.domain, d.name, current.major) + "\n```"
                ),
            }
        )

    return _publish


def _publish_previous_major(
    context: dg.AssetExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    lake: LakeStorage,
    current: ProductDescriptor,
) -> Publication | None:
    """Through the deprecation window the older major is built too (dbt model versions, table
    `<name>_v<major>`, lakehouse/wap.py): its file port `v<major>/` gets the same day, checked
    against the last contract published at that major. None when there is no older major being
    served."""
    deprecation = current.deprecation
    if deprecation is None or dt.date.today() > deprecation.until:
        return None
    table = f"{current.name}_v{deprecation.previous_major}"
    sql_port = latest_publication(conn, current.domain, table)
    contract = published_contract(lake, current.domain, current.name, deprecation.previous_major)
    if sql_port is None or contract is None:
        context.log.warning(
            f"{current.id} v{deprecation.previous_major} is deprecated but not built as "
            f"{table} (add the dbt model version {deprecation.previous_major}, docs/governance.md):"
            f" its file port keeps its last snapshot"
        )
        return None
    mismatch = contract_mismatch(conn, contract, table)
    if mismatch:
        raise dg.Failure(
            description=f"lakehouse.{current.domain}.{table} does not match the published "
            f"contract {contract.version} of v{deprecation.previous_major}: {'; '.join(mismatch)}"
        )
    return publish(
        conn,
        lake,
        contract,
        snapshot_id=_snapshot_id(context),
        ducklake_snapshot=sql_port.snapshot_id,
        table=table,
    )


def _snapshot_id(context: dg.AssetExecutionContext) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{now}-{context.run.run_id[:8]}"


def build_purge_job(domain: str, entities: dict[str, str]) -> dg.JobDefinition:
    """`<domain>_raw_purge`: removes landed days of personal raw entities past their retention."""

    @dg.op(name=f"{domain}_purge_raw_personal_data")
    def _purge(context: dg.OpExecutionContext, lake: LakeStorage) -> None:
        retention = load_raw_retention()[domain]
        removed = purge_raw(lake, domain, retention, dt.date.today())
        context.log.info(f"purged {len(removed)} raw file(s) of {domain} past their retention")
        for key in removed:
            context.log.info(f"removed {key}")

    @dg.job(
        name=f"{domain}_raw_purge",
        description=(
            f"LGPD: delete raw days of {domain}'s personal data ({', '.join(entities)}) older "
            "than their declared retention; logs every file it removes."
        ),
    )
    def _job() -> None:
        _purge()

    return _job


def build_governance_definitions(spec: DomainSpec) -> dg.Definitions:
    """The governance capability for one domain (a domain capability; resources come from the core):
    the Parquet ports' publishing, the raw purge job. The policies are the dbt step's audit gate
    (audit_gate.py)."""
    descriptors = list(load_descriptors(domain=spec.name).values())
    personal = {
        name: entry.classification.value
        for name, entry in load_raw_retention().get(spec.name, {}).items()
        if entry.classification in (Classification.PERSONAL, Classification.SENSITIVE)
    }
    return dg.Definitions(
        assets=[build_publish_asset(d) for d in descriptors],
        jobs=[build_purge_job(spec.name, personal)] if personal else [],
    )
