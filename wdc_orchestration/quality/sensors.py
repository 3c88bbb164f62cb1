"""Sensors that enforce quality while the daemon runs. Both are idempotent: the check sensor keeps
the storage id of the last check evaluation it handled as its cursor (a restart resumes after
it), and every action it takes is a no-op the second time (quarantine of a moved day, an incident
already alerted), so a lost or replayed cursor repeats nothing."""

import dagster as dg
from dagster._core.events import DagsterEventType

from wdc_orchestration.quality.enforcement import enforce_check_evaluation, enforce_failed_run
from wdc_orchestration.quality.notifier import notifier_from_env
from wdc_orchestration.resources.lake import LakeStorage

# Check evaluations handled per tick; the next tick continues from the cursor.
BATCH = 200


def build_quarantine_sensor(domain: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{domain}_quality_quarantine",
        description=(
            f"On a failed check of {domain}: quarantine the raw partition (ERROR on a raw asset), "
            "record the incident under quality/incidents/ on the lake, alert once."
        ),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeStorage) -> dg.SkipReason:
        after = int(context.cursor) if context.cursor else None
        records = context.instance.get_event_records(
            dg.EventRecordsFilter(
                event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after
            ),
            limit=BATCH,
            ascending=True,
        )
        notifier = notifier_from_env()
        acted = 0
        for record in records:
            entry = record.event_log_entry
            evaluation = entry.dagster_event.event_specific_data  # type: ignore[union-attr]
            if evaluation.asset_key.path[0] == domain:
                incident = enforce_check_evaluation(lake, notifier, context.instance, entry)
                if incident is not None:
                    acted += 1
                    context.log.warning(f"incident {incident.incident_id}: {incident.check}")
            # Advanced per record: a failure later in the batch does not redo earlier ones.
            context.update_cursor(str(record.storage_id))
        return dg.SkipReason(f"{len(records)} check evaluations seen, {acted} incidents")

    return _sensor


def build_run_failure_sensor(domain: str) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=f"{domain}_run_failures",
        description=(
            f"On a failed run: an incident per failed step of {domain} (a failed landing has its "
            "partial day quarantined), alert once."
        ),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.RunFailureSensorContext, lake: LakeStorage) -> None:
        incidents = enforce_failed_run(
            lake, notifier_from_env(), context.instance, context.dagster_run.run_id, domain
        )
        for incident in incidents:
            context.log.warning(f"incident {incident.incident_id}: {incident.asset} failed")

    return _sensor
