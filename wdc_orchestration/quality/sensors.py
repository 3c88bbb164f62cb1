"""Sensors that enforce quality while the daemon runs. Both are idempotent: the quarantine sensor
keeps the finished runs it handled as its cursor (a restart resumes after them), and every action
it takes is a no-op the second time (quarantine of a moved day, an incident
already alerted), so a lost or replayed cursor repeats nothing."""

import datetime as dt
import json

import dagster as dg

from wdc_orchestration.quality.enforcement import (
    check_evaluations_of_run,
    enforce_check_evaluation,
    enforce_failed_run,
)
from wdc_orchestration.quality.notifier import notifier_from_env
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.settings import Settings, sensor_interval_seconds

# Finished runs handled per tick; the next tick continues from the cursor.
BATCH = 50


FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]


def _load_cursor(cursor: str | None) -> tuple[float, set[str]]:
    if not cursor:
        return 0.0, set()
    data = json.loads(cursor)
    return float(data["updated_at"]), set(data["run_ids"])


def build_quarantine_sensor(domain: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{domain}_quality_quarantine",
        description=(
            f"On a failed check of {domain}: quarantine the raw partition (ERROR on a raw asset), "
            "record the incident under quality/incidents/ on the lake, alert once."
        ),
        minimum_interval_seconds=sensor_interval_seconds(),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, lake: LakeStorage, settings: dg.ResourceParam[Settings]
    ) -> dg.SkipReason:
        # The cursor is the finished runs already handled: the update time of the last one and
        # the ids finished at that same instant. Runs, not event storage ids: the default SQLite
        # event log is sharded per run, where event ids are not ordered across runs.
        updated_at, handled = _load_cursor(context.cursor)
        records = context.instance.get_run_records(
            filters=dg.RunsFilter(
                statuses=FINISHED,
                updated_after=dt.datetime.fromtimestamp(updated_at, dt.UTC) - dt.timedelta(0, 1),
            ),
            order_by="update_timestamp",
            ascending=True,
            limit=BATCH,
        )
        notifier = notifier_from_env(settings.log_dir)
        acted = seen = 0
        for record in records:
            stamp = record.update_timestamp.timestamp()
            run_id = record.dagster_run.run_id
            if stamp < updated_at or (stamp == updated_at and run_id in handled):
                continue
            seen += 1
            for entry in check_evaluations_of_run(context.instance, run_id):
                evaluation = entry.dagster_event.event_specific_data  # type: ignore[union-attr]
                if evaluation.asset_key.path[0] != domain:
                    continue
                incident = enforce_check_evaluation(lake, notifier, context.instance, entry)
                if incident is not None:
                    acted += 1
                    context.log.warning(f"incident {incident.incident_id}: {incident.check}")
            # Advanced per run: a failure later in the batch does not redo earlier runs.
            handled = handled | {run_id} if stamp == updated_at else {run_id}
            updated_at = stamp
            context.update_cursor(
                json.dumps({"updated_at": updated_at, "run_ids": sorted(handled)})
            )
        return dg.SkipReason(f"{seen} finished runs handled, {acted} incidents")

    return _sensor


def build_run_failure_sensor(domain: str) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=f"{domain}_run_failures",
        description=(
            f"On a failed run: an incident per failed step of {domain} (a failed landing has its "
            "partial day quarantined), alert once."
        ),
        minimum_interval_seconds=sensor_interval_seconds(),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.RunFailureSensorContext, lake: LakeStorage, settings: dg.ResourceParam[Settings]
    ) -> None:
        incidents = enforce_failed_run(
            lake,
            notifier_from_env(settings.log_dir),
            context.instance,
            context.dagster_run.run_id,
            domain,
        )
        for incident in incidents:
            context.log.warning(f"incident {incident.incident_id}: {incident.asset} failed")

    return _sensor
