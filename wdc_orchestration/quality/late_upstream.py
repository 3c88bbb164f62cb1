"""Late data: a producer's day published after its consumers built (or tried to build) that day
rebuilds the consumers' day, and theirs downstream.

Every model reads only its run's days (raw/read_set.py), and a consumer's day D reads the
producers' products as of D (the as-of join of a state product, the same day of a fact). So a
consumer's day D is right exactly when its dbt step ran after every product it reads was
published for D. When a producer publishes D later than that — a source system's export of D that
arrives after later days were built, a producer's rerun of an old day, a fix of a failed day —
the consumer's D is stale, and rebuilding it alone (its daily job for D) makes it equal to a
serial run. Then its own consumers see a new publication of D, and so on down the mesh.

A consumer's day D is judged against a producer product's publication of D at time t by the
consumer's latest run that planned to build D (its dbt assets reading the product):
- still queued or running: wait (it may read the publication yet; judged again when it ends);
- succeeded, its dbt step started before t: STALE (it read the previous publication);
- failed or skipped because it waited for this product in vain (its `ready_for_<consumer>` check
  on it failed, quality/upstream.py): STALE (it can build now);
- failed for its own reasons (a bad raw day, a failed test): left to its owner (its incident
  says what; `wdc quarantine retry` rebuilds it);
- never attempted, or read the publication: nothing to do.

Two paths use this: the daemon, where each consuming domain has a `<domain>_late_upstream`
sensor over its upstream products' publications, and `wdc materialize`, which after its days
rebuilds the stale consumer days it left behind (mesh/run.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import dagster as dg
from dagster import DagsterEventType, EventLogRecord
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; dagster exports no alias
)

from wdc_orchestration.dbt.project import domain_of, translator
from wdc_orchestration.governance.manifest import raw_entities
from wdc_orchestration.lakehouse.day_fingerprints import FINGERPRINTS_METADATA
from wdc_orchestration.quality.raw_gate import UPSTREAM_MISSING
from wdc_orchestration.quality.upstream import readiness_check_name, upstream_products
from wdc_orchestration.settings import sensor_interval_seconds

log = logging.getLogger(__name__)

LATE_UPSTREAM_TAG = "wdc/late_upstream"
# Publications of one product handled per sensor tick; the next tick goes on from the cursor.
BATCH = 100

UNFINISHED = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


class Verdict(StrEnum):
    FRESH = "fresh"  # read the publication, or never attempted the day
    STALE = "stale"  # must be rebuilt
    BUSY = "busy"  # a run of the day is queued or running: judge again when it ends
    OWN_FAILURE = "own_failure"  # failed for its own reasons: its owner's to fix


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def dbt_step_key(domain: str) -> str:
    """The step of a domain's dbt models (domain.build_dbt_assets names it)."""
    return f"{domain}_dbt_models"


def readers_of(
    manifest: Mapping[str, Any], consumer: str, product: dg.AssetKey
) -> list[dg.AssetKey]:
    """`consumer`'s models that read `product` directly (their runs plan them for the day)."""
    nodes = manifest["nodes"]
    keys = set()
    for node in nodes.values():
        if node["resource_type"] != "model" or domain_of(node) != consumer:
            continue
        for parent in node["depends_on"]["nodes"]:
            props = nodes.get(parent)
            if (
                props
                and props["resource_type"] == "model"
                and translator().get_asset_key(props) == product
            ):
                keys.add(translator().get_asset_key(node))
    return sorted(keys, key=lambda key: key.to_user_string())


def _step_started(instance: dg.DagsterInstance, run_id: str, step_key: str) -> float | None:
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START):
        if entry.step_key == step_key:
            return entry.timestamp
    return None


def own_steps(manifest: Mapping[str, Any], consumer: str) -> frozenset[str]:
    """The steps that build `consumer`'s own data: each raw asset's landing
    (`<domain>__raw__<entity>`) and the dbt step (its checks are judged by their results)."""
    entities = raw_entities(manifest).get(consumer, [])
    return frozenset({dbt_step_key(consumer), *(f"{consumer}__raw__{e}" for e in entities)})


def _own_failure(
    instance: dg.DagsterInstance, run_id: str, consumer: str, steps: frozenset[str]
) -> str | None:
    """What of `consumer`'s own failed in the run (None: its steps failed or were skipped only
    because another domain's product was missing): one of its own steps (raw landing, the dbt
    step), or a blocking check on one of its assets that an upstream absence does not explain."""
    for entry in instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.ASSET_CHECK_EVALUATION}
    ):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            if entry.step_key in steps:
                return f"its step {entry.step_key} failed"
            continue
        evaluation = event.event_specific_data
        if (
            evaluation.passed
            or evaluation.asset_key.path[0] != consumer
            or evaluation.severity != dg.AssetCheckSeverity.ERROR
        ):
            continue
        missing = evaluation.metadata.get(UPSTREAM_MISSING)
        if not getattr(missing, "value", missing):
            where = evaluation.asset_key.to_user_string()
            return f"its check {evaluation.check_name} on {where} failed"
    return None


@dataclass(frozen=True)
class Reads:
    """That `consumer` reads `product`: through its asset `reader`, built by its `steps`."""

    consumer: str
    product: dg.AssetKey
    reader: dg.AssetKey
    steps: frozenset[str]


def reads_of(manifest: Mapping[str, Any], consumer: str) -> list[Reads]:
    """Every other domain's product `consumer` reads, with how."""
    steps = own_steps(manifest, consumer)
    found = []
    for product in upstream_products(manifest, consumer):
        readers = readers_of(manifest, consumer, product)
        if readers:
            found.append(Reads(consumer, product, readers[0], steps))
    return found


def fingerprint(record: EventLogRecord, day: str) -> str | None:
    """What a publication holds of `day` for its consumers (lakehouse/day_fingerprints.py), or
    None."""
    materialization = record.asset_materialization
    value = materialization.metadata.get(FINGERPRINTS_METADATA) if materialization else None
    data = getattr(value, "data", None)
    return data.get(day) if isinstance(data, dict) else None


def _unchanged_since(
    instance: dg.DagsterInstance, product: dg.AssetKey, day: str, read_at: float, latest: str
) -> bool:
    """Whether the publication of `day` a step that started at `read_at` read holds the same
    rows for that day as the latest one (fingerprint `latest`)."""
    read = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=product, asset_partitions=[day], before_timestamp=read_at),
        limit=1,
    ).records
    return bool(read) and fingerprint(read[0], day) == latest


def judge(
    instance: dg.DagsterInstance, reads: Reads, day: str, publication: EventLogRecord
) -> Judgement:
    """Whether `reads.consumer`'s day `day` read `reads.product`'s `publication` of it (its
    materialization record). See the module's docstring."""
    consumer, product, reader, steps = reads.consumer, reads.product, reads.reader, reads.steps
    published_at = publication.timestamp
    planned = instance.fetch_planned_materializations(
        dg.AssetRecordsFilter(asset_key=reader, asset_partitions=[day]), limit=1
    ).records
    if not planned:
        return Judgement(Verdict.FRESH, f"{consumer} never attempted {day}")
    run = instance.get_run_by_id(planned[0].run_id)
    if run is None:
        return Judgement(Verdict.FRESH, f"{consumer}'s run of {day} is gone")
    if run.status in UNFINISHED:
        return Judgement(Verdict.BUSY, f"{consumer}'s run {run.run_id} of {day} is {run.status}")
    started = _step_started(instance, run.run_id, dbt_step_key(consumer))
    label = product.to_user_string()
    if run.status == dg.DagsterRunStatus.SUCCESS and started is not None:
        if started >= published_at:
            return Judgement(Verdict.FRESH, f"{consumer} built {day} after {label} was published")
        latest = fingerprint(publication, day)
        if latest is not None and _unchanged_since(instance, product, day, started, latest):
            return Judgement(
                Verdict.FRESH, f"{label} was published again with the same rows of {day}"
            )
        return Judgement(
            Verdict.STALE,
            f"{consumer} built {day} (run {run.run_id}) before {label} published it again",
        )
    if run.status == dg.DagsterRunStatus.CANCELED:
        return Judgement(
            Verdict.OWN_FAILURE, f"{consumer}'s run {run.run_id} of {day} was canceled"
        )
    own = _own_failure(instance, run.run_id, consumer, steps)
    if own is not None:
        return Judgement(
            Verdict.OWN_FAILURE,
            f"{consumer}'s run {run.run_id} of {day} failed for its own reasons: {own} (see its "
            "incident)",
        )
    seen_at = _last_looked(instance, run.run_id, consumer, product)
    if seen_at is None:
        return Judgement(
            Verdict.FRESH, f"{consumer}'s run {run.run_id} of {day} found {label} published"
        )
    if published_at <= seen_at:
        return Judgement(
            Verdict.FRESH,
            f"{consumer}'s run {run.run_id} of {day} failed after {label} was published",
        )
    return Judgement(
        Verdict.STALE,
        f"{consumer}'s run {run.run_id} of {day} could not build it before {label} was published",
    )


def _last_looked(
    instance: dg.DagsterInstance, run_id: str, consumer: str, product: dg.AssetKey
) -> float | None:
    """When a failed run last looked for `product`: its failed readiness check on it, else (the
    check never ran: an upstream step was skipped) the run's end. None: the check passed, so the
    run saw the product published."""
    name = readiness_check_name(consumer)
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if evaluation is None or evaluation.check_name != name or evaluation.asset_key != product:
            continue
        return None if evaluation.passed else entry.timestamp
    record = instance.get_run_record_by_id(run_id)
    return record.end_time if record is not None and record.end_time else 0.0


@dataclass(frozen=True)
class StaleDay:
    consumer: str
    day: str
    product: dg.AssetKey
    reason: str


def stale_days(
    instance: dg.DagsterInstance,
    manifest: Mapping[str, Any],
    consumers: Sequence[str],
    days: Sequence[str],
) -> list[StaleDay]:
    """The (consumer, day) pairs among `consumers` × `days` whose latest attempt did not read a
    product it reads as published now; one per pair, in the given order."""
    found: dict[tuple[str, str], StaleDay] = {}
    for consumer in consumers:
        for reads in reads_of(manifest, consumer):
            for day in days:
                if (consumer, day) in found:
                    continue
                latest = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=reads.product, asset_partitions=[day]), limit=1
                ).records
                if not latest:
                    continue
                verdict = judge(instance, reads, day, latest[0])
                if verdict.verdict == Verdict.STALE:
                    found[(consumer, day)] = StaleDay(consumer, day, reads.product, verdict.reason)
    return list(found.values())


def build_late_upstream_sensor(
    consumer: str, manifest: Mapping[str, Any], job: UnresolvedAssetJobDefinition
) -> dg.SensorDefinition | None:
    """`<consumer>_late_upstream`: requests the consumer's daily job for a day a product it reads
    was published after the consumer's last attempt of that day read it (None for a domain that
    reads no other domain's product)."""
    readers = reads_of(manifest, consumer)
    if not readers:
        return None

    @dg.sensor(
        name=f"{consumer}_late_upstream",
        job=job,
        minimum_interval_seconds=sensor_interval_seconds(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Late data: when {', '.join(r.product.to_user_string() for r in readers)} is "
            "published for "
            f"a day after {consumer}'s last run of that day read it (a late export, a rerun, a "
            f"fix), rebuilds {consumer}'s day with {job.name}; that run's publication in turn "
            "rebuilds the day downstream."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        # cursor: per product, the storage id of the last publication judged
        handled: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        requests: list[dg.RunRequest] = []
        requested: set[str] = set()
        for reads in readers:
            label = reads.product.to_user_string()
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=reads.product, after_storage_id=handled.get(label)),
                limit=BATCH,
                ascending=True,
            ).records
            for record in records:
                day = record.partition_key
                if day is not None:
                    verdict = judge(context.instance, reads, day, record)
                    if verdict.verdict == Verdict.BUSY:
                        break  # judged again once that run ends
                    if verdict.verdict == Verdict.STALE and day not in requested:
                        # one run a day, whichever of its products were published since
                        requested.add(day)
                        context.log.info(f"rebuilding {consumer} {day}: {verdict.reason}")
                        requests.append(
                            dg.RunRequest(
                                run_key=f"{label}:{day}:{record.storage_id}",
                                partition_key=day,
                                tags={LATE_UPSTREAM_TAG: f"{label} {day}"},
                            )
                        )
                    elif verdict.verdict == Verdict.OWN_FAILURE:
                        context.log.info(f"not rebuilding {consumer} {day}: {verdict.reason}")
                handled[label] = record.storage_id
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(handled, sort_keys=True))

    return _sensor
