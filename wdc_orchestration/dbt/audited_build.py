"""A domain's dbt step as write-audit-publish (lakehouse/wap.py): what it reports, and in which
order.

dbt has built the step's selection into the audit schema and tested it there. Then:
1. dbt failed (a model, or an ERROR test): report the test results, publish nothing, fail;
2. the capabilities' audit gates (the governance policies) judge the audited rows: a failed
   blocking check publishes nothing and fails the step;
3. otherwise the window is published in one DuckLake transaction, and only then are the models
   reported as materialised (with the public table's row count, schema and the DuckLake snapshot
   of the publication): in Dagster, a materialisation of a product means it is published."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from wdc_orchestration.dbt.runner import DbtRun, translated_events
from wdc_orchestration.lakehouse.day_fingerprints import FINGERPRINTS_METADATA, day_fingerprints
from wdc_orchestration.lakehouse.faults import retry_requested, transient_line
from wdc_orchestration.lakehouse.metadata import describe_table
from wdc_orchestration.lakehouse.run_window import RunWindow
from wdc_orchestration.lakehouse.wap import (
    AUDIT_SUFFIX,
    AuditedTable,
    Publication,
    audit_schema,
    audited_tables,
    publish_window,
)
from wdc_orchestration.mesh.spec import AuditContext, AuditGate
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.lakehouse import DuckLakeResource

Event = dg.Output | dg.AssetMaterialization | dg.AssetCheckResult | dg.AssetObservation


WAP_LOG_PREFIX = "write-audit-publish of"


class NotPublished(dg.Failure):
    """The run's window was built and audited, and not published."""


def _unique_id(event: Event) -> str:
    value = event.metadata.get("unique_id")
    return str(getattr(value, "value", value) or "")


def _failed_blocking(results: Sequence[dg.AssetCheckResult]) -> list[dg.AssetCheckResult]:
    return [r for r in results if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR]


def _with_publication(
    event: Event,
    node: Mapping[str, Any] | None,
    described: Mapping[str, Mapping[str, Any]],
    publication: Publication | None,
) -> Event:
    if not isinstance(event, dg.Output) or node is None:
        return event
    name = node.get("alias") or node["name"]
    metadata = dict(event.metadata)
    if name in described:
        metadata.update(described[name])
        if publication is not None:
            metadata["wdc/ducklake_snapshot"] = publication.snapshot_id
            metadata["wdc/rows_published"] = publication.tables.get(name, 0)
            metadata["wdc/publication"] = publication.publication_id
    elif str(node.get("schema", "")).endswith(AUDIT_SUFFIX):
        # a view: it lives in the audit schema only (staging is not a port)
        metadata["dagster/table_name"] = f"lakehouse.{node['schema']}.{name}"
    return event.with_metadata(metadata)


def write_audit_publish(
    context: dg.AssetExecutionContext,
    run: DbtRun,
    domain: str,
    window: RunWindow,
    lakehouse: DuckLakeResource,
    lake: LakeStorage,
    gates: Sequence[AuditGate],
    nodes: Mapping[str, Mapping[str, Any]],
) -> Iterator[Event]:
    """The step's events for a finished dbt build of `domain` into its audit schema."""
    events: list[Event] = list(translated_events(run, context))
    dbt_checks = [e for e in events if isinstance(e, dg.AssetCheckResult)]
    others = [e for e in events if not isinstance(e, dg.AssetCheckResult)]
    if not run.success:
        outage = transient_line(run.errors)
        if outage is not None:
            # the lake or the catalog failed under dbt, not a model or a test: run it again
            run.cleanup(keep_on_failure=False)
            raise retry_requested(context, f"dbt step of {domain}", outage)
        yield from dbt_checks
        error = run.error()
        raise NotPublished(
            description=f"nothing of {domain} {window} was published: {error.description}",
            metadata=error.metadata,
        )
    built = [_unique_id(e) for e in others if isinstance(e, dg.Output)]
    tables: list[AuditedTable] = audited_tables(nodes, built)
    started = time.perf_counter()
    with lakehouse.get_connection() as conn:
        audit = AuditContext(
            conn=conn,
            domain=domain,
            audit_schema=audit_schema(domain),
            window=window,
            run_id=context.run.run_id,
            built_tables=frozenset(t.name for t in tables),
            selected_check_keys=context.selected_asset_check_keys,
            log=context.log,
            lake=lake,
        )
        gate_results = [result for gate in gates for result in gate.evaluate(audit)]
        gated = time.perf_counter()
        blocked = _failed_blocking(gate_results)
        if blocked:
            yield from dbt_checks
            yield from gate_results
            reasons = "; ".join(
                f"{r.asset_key.to_user_string()} {r.check_name}: {r.description}" for r in blocked
            )
            raise NotPublished(
                description=f"nothing of {domain} {window} was published: blocking checks "
                f"failed on the audited rows: {reasons}"[:4000],
                metadata={"audit_schema": audit_schema(domain)},
            )
        publication = (
            publish_window(conn, domain, tables, window, context.run.run_id) if tables else None
        )
        published = time.perf_counter()
        # an older major retired by this publication has no table left to describe
        tables = [t for t in tables if publication is None or t.name in publication.tables]
        described = {t.name: describe_table(conn, domain, t.name) for t in tables}
        for table in tables:
            # what a consumer of each day reads now (its rebuild depends on a change of it)
            columns = [c.name for c in described[table.name]["dagster/column_schema"].columns]
            relation = f'lakehouse."{domain}"."{table.name}"'
            described[table.name][FINGERPRINTS_METADATA] = dg.MetadataValue.json(
                day_fingerprints(conn, relation, columns, window, table.date_column)
            )
    # one line the benchmarks read back from the run's event log (bench/orchestration.py)
    context.log.info(
        f"{WAP_LOG_PREFIX} {domain} {window}: dbt {run.seconds:.2f}s, audit gates "
        f"{gated - started:.2f}s, publish {published - gated:.2f}s"
        + (f" (DuckLake snapshot {publication.snapshot_id})" if publication else "")
    )
    for event in others:
        yield _with_publication(event, nodes.get(_unique_id(event)), described, publication)
    yield from dbt_checks
    yield from gate_results
    run.cleanup()
