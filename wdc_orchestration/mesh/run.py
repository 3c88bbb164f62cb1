"""One day of the mesh (or of some domains) run in this process through Dagster, and what the
platform does about its failures when no daemon runs the quality sensors: `wdc materialize` and
`wdc quarantine retry` both run days this way."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg

from wdc_orchestration.processes import process_alive
from wdc_orchestration.quality.incidents import Incident

if TYPE_CHECKING:
    from dagster_shared.error import SerializableErrorInfo

log = logging.getLogger("wdc_orchestration.cli")


@dataclass(frozen=True)
class DayRun:
    """What running one day did."""

    day: dt.date
    run_id: str
    success: bool
    seconds: float
    materialisations: int
    checks: int
    failed_checks: Sequence[dg.AssetCheckEvaluation] = ()
    failed_steps: Sequence[tuple[str, str]] = ()  # (step key, error)
    incidents: Sequence[Incident] = field(default_factory=tuple)
    result: dg.ExecuteInProcessResult | None = None

    @property
    def ok(self) -> bool:
        errors = [e for e in self.failed_checks if e.severity == dg.AssetCheckSeverity.ERROR]
        return self.success and not self.failed_steps and not errors

    def domain_ok(self, domain: str) -> bool:
        """Whether `domain`'s own steps and ERROR checks all passed (a consumer that failed in
        the same run does not make its producer's day fail)."""
        steps = [step for step, _ in self.failed_steps if step.split("_")[0] == domain]
        errors = [
            e
            for e in self.failed_checks
            if e.severity == dg.AssetCheckSeverity.ERROR and e.asset_key.path[0] == domain
        ]
        return not steps and not errors


def check_message(evaluation: dg.AssetCheckEvaluation) -> str:
    """What a failed check said: its description, or for a dbt test its status and failing rows."""
    if evaluation.description:
        return evaluation.description
    metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    status = metadata.get("status", "failed")
    rows = metadata.get("dagster_dbt/failed_row_count")
    return f"dbt test {status}" + (f": {rows} failing row(s)" if rows is not None else "")


# Which process runs an in-process run: a `wdc` killed mid-run leaves its run STARTED and the pool
# slot of its step claimed (no daemon watches an in-process run), and every later writer would
# queue behind it for ever; the next `wdc` finds such runs by these tags and ends them.
PID_TAG, HOST_TAG = "wdc/pid", "wdc/host"


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the in-process runs of this machine whose `wdc` process is gone, and free the
    pool slots they held; their run ids."""
    reaped = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if not pid or pid == os.getpid() or process_alive(pid):
            continue
        instance.report_run_failed(run, f"the wdc process that ran it (pid {pid}) died")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning("run %s: its process %d died mid-run; marked failed", run.run_id, pid)
        reaped.append(run.run_id)
    return reaped


def _failure_message(error: SerializableErrorInfo | None) -> str:
    """A step failure's message; for a step that ran out of retries, with the last attempt's
    error (Dagster's own message says only "Exceeded max_retries of 3")."""
    if error is None:
        return "(no error recorded)"
    message = str(error.message).strip()
    if error.cause is not None and message.startswith("Exceeded max_retries"):
        message += f": {str(error.cause.message).strip()}"
    return message


def run_day(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    day: dt.date,
    run_config: Mapping[str, object],
    tags: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> DayRun:
    """Run `job` for `day`; on any failure, do what the daemon's quality sensors would
    (quarantine, incidents, alerts; idempotent, so the sensors later repeat none of it)."""
    started = time.perf_counter()
    reap_dead_runs(instance)
    result = job.execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        raise_on_error=False,
        run_config=dict(run_config),
        tags={**(tags or {}), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
        run_id=run_id,
    )
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    failed_steps = [
        (event.step_key or "run", _failure_message(event.event_specific_data.error))
        for event in result.get_step_failure_events()
    ]
    incidents: list[Incident] = []
    if failed_checks or not result.success:
        from wdc_orchestration.quality.cli_support import enforce_quality

        incidents = enforce_quality(instance, result.run_id)
    return DayRun(
        day=day,
        run_id=result.run_id,
        success=result.success,
        seconds=time.perf_counter() - started,
        materialisations=len(result.get_asset_materialization_events()),
        checks=len(result.get_asset_check_evaluations()),
        failed_checks=failed_checks,
        failed_steps=failed_steps,
        incidents=incidents,
        result=result,
    )


def log_day(run: DayRun, number: int, total: int) -> None:
    """The day's failures, then one summary line."""
    for evaluation in run.failed_checks:
        log.error(
            "check failed: %s on %s (%s): %s",
            evaluation.check_name,
            evaluation.asset_key.to_user_string(),
            evaluation.severity.value,
            check_message(evaluation),
        )
    for step, error in run.failed_steps:
        log.error("step failed: %s: %s", step, error)
    log.info(
        "day %d/%d: %s %s in %.1fs: %d asset materialisations, %d checks (%d failed), run %s",
        number,
        total,
        run.day,
        "ok" if run.ok else "FAILED",
        run.seconds,
        run.materialisations,
        run.checks,
        len(run.failed_checks),
        run.run_id,
    )
