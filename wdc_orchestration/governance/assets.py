"""The governance plugin's Dagster side, for one domain: per product, the policy asset checks on
the dbt product asset and the publishing asset of its file port; per domain with personal raw
data, the raw purge job.

Asset keys: the dbt product is `[<domain>, <product>]`; its publication (the Parquet port) is
`[<domain>, "published", <product>]`, which depends on it. The blocking policy checks (and any
other blocking check on the product, e.g. data quality) must pass before it runs; a failed dbt
build (a failing dbt test fails the dbt step) skips it."""

import datetime as dt
import tempfile
from pathlib import Path

import dagster as dg

from wdc_orchestration.domain import LAKEHOUSE_POOL, DomainSpec
from wdc_orchestration.governance.catalog_metadata import product_metadata
from wdc_orchestration.governance.descriptor import (
    Classification,
    ProductDescriptor,
    load_descriptors,
)
from wdc_orchestration.governance.policies import (
    BLOCKING_POLICIES,
    by_policy,
    evaluate,
    load_inputs,
)
from wdc_orchestration.governance.policies.compliance import load_raw_retention
from wdc_orchestration.governance.publishing import (
    consumer_sql,
    mark_previous_major,
    publish,
    published_contract,
)
from wdc_orchestration.governance.purge import purge_raw
from wdc_orchestration.governance.violations import Policy
from wdc_orchestration.partitions import daily_partitions
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.lakehouse import DuckLakeResource
from wdc_orchestration.run_window import run_window_of

POLICY_DESCRIPTIONS = {
    Policy.SECURITY: "Reads across domains only through products that list the reader.",
    Policy.PRIVACY: "No personal/sensitive column in clear; no CPF, CNPJ, e-mail or phone in data.",
    Policy.COMPLIANCE: "Every column classified; retention and owner set.",
    Policy.INTEROPERABILITY: "snake_case, money DECIMAL(18,2) BRL, UTC timestamptz, shared keys.",
    Policy.DOCUMENTATION: "Product, purpose, owner and every column described.",
    Policy.CONTRACT: "The descriptor, the dbt YAML and the table agree.",
    Policy.VERSIONING: "No breaking change against the published contract without a major bump.",
}


def product_key(d: ProductDescriptor) -> dg.AssetKey:
    return dg.AssetKey([d.domain, d.name])


def published_key(d: ProductDescriptor) -> dg.AssetKey:
    return dg.AssetKey([d.domain, "published", d.name])


def check_name(policy: Policy) -> str:
    return f"policy_{policy.value}"


def build_policy_checks(d: ProductDescriptor) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(
            name=check_name(policy),
            asset=product_key(d),
            description=POLICY_DESCRIPTIONS[policy],
            blocking=policy in BLOCKING_POLICIES,
        )
        for policy in Policy
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{d.domain}_{d.name}_policies",
        description=f"The federated governance policies on {d.id}.",
        can_subset=True,
        pool=LAKEHOUSE_POOL,
    )
    def _policies(
        context: dg.AssetCheckExecutionContext, lake: LakeStorage, lakehouse: DuckLakeResource
    ):
        inputs = load_inputs()
        current = inputs.descriptors[d.id]
        published = {d.id: published_contract(lake, d.domain, d.name)}
        # a run without partitions has no window: then the data checks read the whole table
        window = run_window_of(context.run.tags)
        with lakehouse.get_connection() as conn:
            violations = evaluate(
                inputs, conn=conn, published=published, products=[d.id], window=window
            )
        selected = {key.name for key in context.selected_asset_check_keys}
        for policy, found in by_policy(violations, current.id).items():
            if check_name(policy) not in selected:
                continue
            for v in found:
                context.log.warning(v.line())
            blocking = policy in BLOCKING_POLICIES
            yield dg.AssetCheckResult(
                asset_key=product_key(d),
                check_name=check_name(policy),
                passed=not found,
                severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
                description="; ".join(v.why for v in found)[:1000] or None,
                metadata={
                    "violations": len(found),
                    "details": dg.MarkdownMetadataValue(
                        "\n".join(f"- **{v.rule}**: {v.why} — *fix:* {v.fix}" for v in found)
                        or "none"
                    ),
                },
            )

    return _policies


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
        metadata=product_metadata(d),
        kinds={"parquet"},
        tags={"wdc/data_product": "", "wdc/port": "parquet"},
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=LAKEHOUSE_POOL,
    )
    def _publish(
        context: dg.AssetExecutionContext, lake: LakeStorage, lakehouse: DuckLakeResource
    ) -> dg.MaterializeResult:
        # the descriptor as it is now (the code location may be older than the file)
        current = load_inputs().descriptors[d.id]
        with lakehouse.get_connection() as conn:
            publication = publish(conn, lake, current, snapshot_id=_snapshot_id(context))
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
                "wdc/read_with_duckdb": dg.MarkdownMetadataValue(
                    "```sql\n" + consumer_sql(lake.url(), d.domain, d.name, current.major) + "\n```"
                ),
            }
        )

    return _publish


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
    """The governance capability for one domain (a domain plugin; resources come from the core).
    The checks and publishing run in the dbt steps' pool: DuckLake's SQLite catalog takes one
    writer at a time, and a reader during a write risks "database is locked"."""
    descriptors = list(load_descriptors(domain=spec.name).values())
    personal = {
        name: entry.classification.value
        for name, entry in load_raw_retention().get(spec.name, {}).items()
        if entry.classification in (Classification.PERSONAL, Classification.SENSITIVE)
    }
    return dg.Definitions(
        assets=[build_publish_asset(d) for d in descriptors],
        asset_checks=[build_policy_checks(d) for d in descriptors],
        jobs=[build_purge_job(spec.name, personal)] if personal else [],
    )
