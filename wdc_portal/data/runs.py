"""Runs and asset-check results from the Dagster instance (its Python API): what ran in the last
days, per domain, and every check evaluation of those runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEventType

PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class DomainRun:
    """What one run did for one domain: its steps of that domain and how they ended."""

    run_id: str
    job: str
    domain: str
    partition: str | None
    started: dt.datetime | None
    status: str  # SUCCESS, FAILURE, SKIPPED (no step of the domain ran), or the run's status
    steps: int
    failed_steps: int


@dataclass(frozen=True)
class CheckResult:
    run_id: str
    asset: str  # asset key as a/b/c
    check: str
    passed: bool
    severity: str
    time: dt.datetime
    partition: str | None
    description: str


def _time(timestamp: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp else None


def recent_runs(
    instance: dg.DagsterInstance, days: int = 7, limit: int = 200
) -> list[dg.RunRecord]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return list(instance.get_run_records(filters=dg.RunsFilter(created_after=since), limit=limit))


def step_domain(step_key: str, domains: Iterable[str]) -> str | None:
    """Steps are named after their domain: `<domain>_dbt_models`, `<domain>__raw__...`."""
    matches = [d for d in domains if step_key == d or step_key.startswith(d + "_")]
    return max(matches, key=len) if matches else None


def runs_per_domain(
    instance: dg.DagsterInstance, records: Iterable[dg.RunRecord], domains: Iterable[str]
) -> list[DomainRun]:
    """One row per (run, domain that had steps in it), newest run first."""
    domains = list(domains)
    rows: list[DomainRun] = []
    for record in records:
        run = record.dagster_run
        per_domain: dict[str, list[str]] = {}
        for stat in instance.get_run_step_stats(run.run_id):
            domain = step_domain(stat.step_key, domains)
            if domain is not None:
                per_domain.setdefault(domain, []).append(str(stat.status.value))
        for domain in domains:
            statuses = per_domain.get(domain)
            if statuses is None:
                if run.job_name.startswith(domain + "_"):  # its own job, no step ran yet
                    statuses = []
                else:
                    continue
            failed = sum(s == "FAILURE" for s in statuses)
            if not statuses:
                status = run.status.value
            elif failed:
                status = "FAILURE"
            elif all(s == "SKIPPED" for s in statuses):
                status = "SKIPPED"
            elif all(s in ("SUCCESS", "SKIPPED") for s in statuses):
                status = "SUCCESS"
            else:
                status = run.status.value
            rows.append(
                DomainRun(
                    run_id=run.run_id,
                    job=run.job_name,
                    domain=domain,
                    partition=run.tags.get(PARTITION_TAG),
                    started=_time(record.start_time) or record.create_timestamp,
                    status=status,
                    steps=len(statuses),
                    failed_steps=failed,
                )
            )
    return rows


def check_results(
    instance: dg.DagsterInstance, records: Iterable[dg.RunRecord]
) -> list[CheckResult]:
    """Every asset-check evaluation of the runs, oldest first."""
    results: list[CheckResult] = []
    for record in records:
        run = record.dagster_run
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            results.append(
                CheckResult(
                    run_id=run.run_id,
                    asset=evaluation.asset_key.to_user_string(),
                    check=evaluation.check_name,
                    passed=bool(evaluation.passed),
                    severity=evaluation.severity.value,
                    time=_time(entry.timestamp),
                    partition=run.tags.get(PARTITION_TAG),
                    description=evaluation.description or "",
                )
            )
    return sorted(results, key=lambda r: r.time)


def latest_checks(results: Iterable[CheckResult]) -> dict[tuple[str, str], CheckResult]:
    """The newest result of each (asset, check)."""
    latest: dict[tuple[str, str], CheckResult] = {}
    for result in results:
        key = (result.asset, result.check)
        if key not in latest or result.time >= latest[key].time:
            latest[key] = result
    return latest
