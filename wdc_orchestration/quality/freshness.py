"""Freshness: each data product's SLA as a Dagster FreshnessPolicy (WARN then FAIL in the UI when
the product is late). The SLA comes from the product's descriptor
(`domains/<domain>/products/<product>.yaml`, the SLA property `latency` as an ISO 8601 duration);
a product without one gets the platform default: daily, warn after 24h, fail after 26h."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

import dagster as dg

from wdc_orchestration.governance.descriptor import DOMAINS_DIR, load_descriptor


@dataclass(frozen=True)
class FreshnessSla:
    fail_after: dt.timedelta
    warn_after: dt.timedelta
    source: str  # where it came from (the descriptor, or the default)


DEFAULT_SLA = FreshnessSla(dt.timedelta(hours=26), dt.timedelta(hours=24), "platform default")

_DURATION = re.compile(r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?)?$")


def parse_duration(text: str) -> dt.timedelta:
    """ISO 8601 durations of days, hours and minutes (P1D, PT26H, P1DT2H)."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"{text!r} is not an ISO 8601 duration of days/hours/minutes")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    return dt.timedelta(**parts)


def warn_window(fail_after: dt.timedelta) -> dt.timedelta:
    """Warn a little before failing: two hours before, or at 3/4 of a shorter window."""
    return fail_after - min(dt.timedelta(hours=2), fail_after / 4)


@cache
def product_sla(domain: str, product: str) -> FreshnessSla:
    descriptor = DOMAINS_DIR / domain / "products" / f"{product}.yaml"
    if descriptor.exists():
        # the ODCS SLA property `latency` (the descriptor's `.sla.freshness`)
        freshness = load_descriptor(descriptor).sla.freshness
        if freshness:
            fail_after = parse_duration(freshness)
            return FreshnessSla(fail_after, warn_window(fail_after), str(descriptor.name))
    return DEFAULT_SLA


def freshness_policy(domain: str, product: str) -> dg.FreshnessPolicy:
    sla = product_sla(domain, product)
    return dg.FreshnessPolicy.time_window(fail_window=sla.fail_after, warn_window=sla.warn_after)
