"""Monitoring: runs per domain, the check pass rate over time, incidents (open or resolved),
quarantined raw partitions, policy violations and freshness, from the Dagster instance, the
lake's quality records and the policy engine."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from wdc_orchestration.governance.policies import evaluate, load_inputs
from wdc_orchestration.governance.publishing import published_contract
from wdc_orchestration.governance.violations import Violation
from wdc_orchestration.quality.incidents import Incident
from wdc_orchestration.quality.quarantine import QUARANTINE_ROOT
from wdc_orchestration.resources.lake import LakeStorage
from wdc_portal.data.runs import CheckResult, DomainRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuarantinedPartition:
    domain: str
    entity: str
    day: str
    run_id: str
    prefix: str
    files: int


def quarantined_partitions(lake: LakeStorage) -> list[QuarantinedPartition]:
    """`quarantine/<domain>/<entity>/date=<day>/<run id>/...`, one row per moved partition."""
    groups: dict[tuple[str, str, str, str], int] = {}
    for key in lake.list_keys(QUARANTINE_ROOT + "/"):
        parts = key.split("/")
        if len(parts) < 6 or not parts[3].startswith("date="):
            continue
        group = (parts[1], parts[2], parts[3].removeprefix("date="), parts[4])
        groups[group] = groups.get(group, 0) + 1
    return [
        QuarantinedPartition(d, e, day, run, f"{QUARANTINE_ROOT}/{d}/{e}/date={day}/{run}/", n)
        for (d, e, day, run), n in sorted(groups.items())
    ]


def is_open(
    incident: Incident, checks: Iterable[CheckResult], domain_runs: Iterable[DomainRun]
) -> bool:
    """An incident is open until what failed passed again later: the same check on the same
    asset (a failed check), or a later successful run of the domain (a failed step)."""
    detected = dt.datetime.fromisoformat(incident.detected_at)
    if incident.kind == "check_failed":
        return not any(
            c.asset == incident.asset
            and c.check == incident.check
            and c.passed
            and c.time > detected
            for c in checks
        )
    return not any(
        r.domain == incident.domain and r.status == "SUCCESS" and r.started and r.started > detected
        for r in domain_runs
    )


def incidents_table(
    incidents: Iterable[Incident],
    checks: list[CheckResult],
    domain_runs: list[DomainRun],
) -> pd.DataFrame:
    rows = [
        {
            "state": "open" if is_open(i, checks, domain_runs) else "resolved",
            "detected (UTC)": i.detected_at[:19].replace("T", " "),
            "domain": i.domain,
            "asset": i.asset,
            "check": i.check,
            "severity": i.severity,
            "partitions": ", ".join(i.partitions),
            "rows affected": i.rows_affected,
            "description": i.description,
            "quarantined": ", ".join(i.quarantined),
            "run": i.run_id,
            "incident": i.incident_id,
        }
        for i in incidents
    ]
    columns = [
        "state", "detected (UTC)", "domain", "asset", "check", "severity", "partitions",
        "rows affected", "description", "quarantined", "run", "incident",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["state", "detected (UTC)"], ascending=[False, False])


def pass_rate(checks: Iterable[CheckResult]) -> pd.DataFrame:
    """Share of passed check evaluations per run, in run order (the x axis of 'over time')."""
    rows: dict[str, dict[str, object]] = {}
    for c in checks:
        row = rows.setdefault(
            c.run_id,
            {"run": c.run_id[:8], "partition": c.partition or "", "time": c.time,
             "checks": 0, "passed": 0},
        )  # fmt: skip
        row["checks"] += 1
        row["passed"] += int(c.passed)
        row["time"] = min(row["time"], c.time)
    frame = pd.DataFrame(
        list(rows.values()), columns=["run", "partition", "time", "checks", "passed"]
    )
    frame["pass rate %"] = (100.0 * frame["passed"] / frame["checks"]).round(1)
    return frame.sort_values("time").reset_index(drop=True)


def runs_table(domain_runs: Iterable[DomainRun]) -> pd.DataFrame:
    rows = [
        {
            "started (UTC)": r.started.strftime("%Y-%m-%d %H:%M:%S") if r.started else "",
            "domain": r.domain,
            "partition": r.partition or "",
            "status": r.status,
            "steps": r.steps,
            "failed steps": r.failed_steps,
            "job": r.job,
            "run": r.run_id,
        }
        for r in domain_runs
    ]
    columns = ["started (UTC)", "domain", "partition", "status", "steps", "failed steps", "job",
               "run"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def policy_violations(lake: LakeStorage, conn: duckdb.DuckDBPyConnection | None) -> list[Violation]:
    """The policy engine over every product: static, data-level (on the products-only
    connection) and versioning against the published contracts."""
    inputs = load_inputs(lake=lake)
    published = {
        d.id: published_contract(lake, d.domain, d.name) for d in inputs.descriptors.values()
    }
    return evaluate(inputs, conn=conn, published=published)


def violations_table(violations: Iterable[Violation]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"product": v.product, "rule": v.rule, "why": v.why, "fix": v.fix} for v in violations],
        columns=["product", "rule", "why", "fix"],
    )
