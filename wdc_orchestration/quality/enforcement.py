"""What happens when a check or a run fails: quarantine the offending raw partition (a raw
asset's ERROR check: the raw gate and the dbt source tests), record the incident, alert once.
Used by the sensors (daemon) and by `wdc materialize` (no daemon); every step is idempotent, so
processing the same failure twice does nothing new.

Raw data is quarantined for a bad *source*, never for a bad *model*: a failing model, a dbt test
of a model or a policy on a product (the audit gates) judges what the domain built from raw that
passed its gate, so its raw day stays landed. The run fails and publishes nothing; the incident
names the test or policy; a rerun (or `wdc quarantine retry`) once the code is fixed rebuilds
from the same raw. Before this rule, a code defect (a contract refusing a decimal -> double
change) moved a good day of sales to quarantine (issue 23)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Sequence

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry

from wdc_orchestration.lakehouse.run_window import partition_day
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.quality.incidents import Incident, load_incident, save_incident
from wdc_orchestration.quality.notifier import Notifier
from wdc_orchestration.quality.quarantine import quarantine_partition
from wdc_orchestration.quality.raw_gate import FAILED_PARTITIONS, ROWS_AFFECTED, UPSTREAM_MISSING
from wdc_orchestration.raw.read_set import MANIFEST_NAME, partition_prefix
from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger(__name__)

CHECK_EVALUATION = DagsterEventType.ASSET_CHECK_EVALUATION


def run_partitions(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The days a run covered, from its tags."""
    run = instance.get_run_by_id(run_id)
    tags = run.tags if run else {}
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return list(daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))
    return []


def _metadata(evaluation: dg.AssetCheckEvaluation, name: str) -> object:
    value = evaluation.metadata.get(name)
    return getattr(value, "value", value)


def landed_before(lake: LakeStorage, domain: str, entity: str, day: str, moment: float) -> bool:
    """Whether the raw day on the lake is the one a check saw at `moment`: a day landed again
    afterwards (a rerun after quarantine) is a different landing and is never quarantined."""
    key = f"{partition_prefix(domain, entity, partition_day(day))}/{MANIFEST_NAME}"
    if not lake.exists(key):
        return True  # nothing landed completely: whatever is there belongs to the failure
    landed_at = dt.datetime.fromisoformat(json.loads(lake.read_bytes(key))["landed_at"])
    return landed_at.timestamp() <= moment


def record_and_alert(lake: LakeStorage, notifier: Notifier, incident: Incident) -> Incident:
    """Record the incident and alert, once: an incident already alerted is left as it is."""
    existing = load_incident(lake, incident.incident_id)
    if existing is not None and existing.alerted_at:
        return existing
    incident = existing or incident
    save_incident(lake, incident)
    notifier.send(incident)
    alerted = dataclasses.replace(incident, alerted_at=dt.datetime.now(dt.UTC).isoformat())
    save_incident(lake, alerted)
    return alerted


def enforce_check_evaluation(
    lake: LakeStorage, notifier: Notifier, instance: dg.DagsterInstance, entry: EventLogEntry
) -> Incident | None:
    """A failed check: quarantine (raw asset, ERROR, the data's fault), incident, alert."""
    evaluation = entry.dagster_event.event_specific_data  # type: ignore[union-attr]
    if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
        return None
    path = evaluation.asset_key.path
    failed = _metadata(evaluation, FAILED_PARTITIONS)
    partitions = (
        json.loads(failed) if isinstance(failed, str) else run_partitions(instance, entry.run_id)
    )
    existing = _existing(lake, "check_failed", entry.run_id, evaluation)
    if existing is not None and existing.alerted_at:
        return existing
    quarantined: list[str] = []
    is_error = evaluation.severity == dg.AssetCheckSeverity.ERROR
    if is_error and not _metadata(evaluation, UPSTREAM_MISSING) and existing is None:
        for domain, entity in blamed_raw(path):
            for day in partitions:
                if landed_before(lake, domain, entity, day, entry.timestamp):
                    moved = quarantine_partition(
                        lake, domain, entity, partition_day(day), entry.run_id
                    )
                    if moved:
                        quarantined.append(moved)
    incident = Incident(
        kind="check_failed",
        domain=path[0],
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        partitions=tuple(partitions),
        severity=evaluation.severity.value,
        rows_affected=int(_metadata(evaluation, ROWS_AFFECTED) or 0),
        description=evaluation.description or "",
        run_id=entry.run_id,
        quarantined=tuple(quarantined),
    )
    return record_and_alert(lake, notifier, incident)


def blamed_raw(path: Sequence[str]) -> list[tuple[str, str]]:
    """The raw entities a failed ERROR check takes out of the read path: only the raw asset it
    checks (`[<domain>, "raw", <entity>]`: the raw gate's checks and the dbt source tests). A
    check on a model (`[<domain>, <model>]`: a dbt test of the model, a policy on the audited
    rows) blames the code or the contract, not the source: nothing is moved."""
    if len(path) == 3 and path[1] == "raw":
        return [(path[0], path[2])]
    return []


def _existing(
    lake: LakeStorage, kind: str, run_id: str, evaluation: dg.AssetCheckEvaluation
) -> Incident | None:
    probe = Incident(
        kind,
        "",
        evaluation.asset_key.to_user_string(),
        evaluation.check_name,
        (),
        "",
        0,
        "",
        run_id,
    )
    return load_incident(lake, probe.incident_id)


def check_evaluations_of_run(instance: dg.DagsterInstance, run_id: str) -> list[EventLogEntry]:
    records = instance.get_records_for_run(run_id, of_type=CHECK_EVALUATION).records
    return [record.event_log_entry for record in records]


def enforce_failed_run(
    lake: LakeStorage,
    notifier: Notifier,
    instance: dg.DagsterInstance,
    run_id: str,
    domain: str | None = None,
) -> list[Incident]:
    """A failed run: one incident per failed step (of `domain`, or all); a raw landing step that
    failed has the partial day it wrote (no manifest, or landed by this run) quarantined."""
    record = instance.get_run_record_by_id(run_id)
    started = (record.start_time if record else None) or 0.0
    incidents = []
    failures = instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    for entry in failures:
        step = entry.step_key or "run"
        if domain is not None and not step.startswith(f"{domain}_"):
            continue
        error = entry.dagster_event.step_failure_data.error  # type: ignore[union-attr]
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            continue  # a blocking check stopped it: that check's incident tells the story
        root = error
        while root is not None and root.cause is not None:  # the user error, not its wrappers
            root = root.cause
        message = (root.message if root else "step failed").strip().splitlines()
        quarantined = _quarantine_partial_landing(lake, instance, run_id, step, started)
        incident = Incident(
            kind="run_failed",
            domain=step.split("_")[0],
            asset=step,
            check="step_failed",
            partitions=tuple(run_partitions(instance, run_id)),
            severity="ERROR",
            rows_affected=0,
            description=" ".join(message[:3])[:1000],
            run_id=run_id,
            quarantined=tuple(quarantined),
        )
        incidents.append(record_and_alert(lake, notifier, incident))
    return incidents


def _quarantine_partial_landing(
    lake: LakeStorage, instance: dg.DagsterInstance, run_id: str, step: str, started: float
) -> Sequence[str]:
    parts = step.split("__")
    if len(parts) != 3 or parts[1] != "raw":  # a landing step is <domain>__raw__<entity>
        return []
    domain, _, entity = parts
    moved = []
    for day in run_partitions(instance, run_id):
        key = f"{partition_prefix(domain, entity, partition_day(day))}/{MANIFEST_NAME}"
        if lake.exists(key) and not landed_after(lake, key, started):
            continue  # a day landed before this run: not this run's doing
        target = quarantine_partition(lake, domain, entity, partition_day(day), run_id)
        if target:
            moved.append(target)
    return moved


def landed_after(lake: LakeStorage, manifest_key: str, moment: float) -> bool:
    landed_at = dt.datetime.fromisoformat(json.loads(lake.read_bytes(manifest_key))["landed_at"])
    return landed_at.timestamp() >= moment


def enforce_run(
    lake: LakeStorage, notifier: Notifier, instance: dg.DagsterInstance, run_id: str
) -> list[Incident]:
    """Everything the sensors would do about one run (for `wdc materialize`, which has no
    daemon): its failed checks, then its failed steps."""
    incidents = [
        incident
        for entry in check_evaluations_of_run(instance, run_id)
        if (incident := enforce_check_evaluation(lake, notifier, instance, entry)) is not None
    ]
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status == dg.DagsterRunStatus.FAILURE:
        incidents += enforce_failed_run(lake, notifier, instance, run_id)
    return incidents
