"""Everything about how the mesh is doing, read once per page load: the runs of the last days
per domain and their check results (Dagster instance), and the incidents (lake)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from wdc_orchestration.quality.incidents import Incident, list_incidents
from wdc_portal.context import Portal
from wdc_portal.data.monitoring import is_open
from wdc_portal.data.runs import (
    CheckResult,
    DomainRun,
    check_results,
    latest_checks,
    recent_runs,
    runs_per_domain,
)


@dataclass(frozen=True)
class Health:
    domain_runs: list[DomainRun]
    checks: list[CheckResult]
    latest: dict[tuple[str, str], CheckResult]
    incidents: list[Incident]

    def open_incidents(self, domain: str | None = None) -> list[Incident]:
        return [
            i
            for i in self.incidents
            if (domain is None or i.domain == domain) and is_open(i, self.checks, self.domain_runs)
        ]


_CACHE: dict[tuple[int, int], tuple[float, Health]] = {}
_CACHE_SECONDS = 15.0  # pages opened in a row share one read of the instance


def load_health(portal: Portal, days: int = 7) -> Health:
    """The mesh's health now (reused for a few seconds: every page shows part of it, and reading
    every check evaluation of a week of runs from the instance takes seconds)."""
    key = (id(portal), days)
    cached = _CACHE.get(key)
    if cached is not None and time.monotonic() - cached[0] < _CACHE_SECONDS:
        return cached[1]
    health = _read_health(portal, days)
    _CACHE[key] = (time.monotonic(), health)
    return health


def _read_health(portal: Portal, days: int) -> Health:
    records = recent_runs(portal.instance, days)
    checks = check_results(portal.instance, records)
    return Health(
        domain_runs=runs_per_domain(portal.instance, records, portal.domains),
        checks=checks,
        latest=latest_checks(checks),
        incidents=list_incidents(portal.lake),
    )
