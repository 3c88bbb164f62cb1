"""Compliance: raw personal data older than its retention is removed from the lake, day folder by
day folder, and every removed file is logged. Only entities classified personal or sensitive in
domains/<domain>/products/_raw_retention.yaml are purged; the others are kept."""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections.abc import Mapping

from wdc_orchestration.governance.descriptor import ISO_DURATION, Classification
from wdc_orchestration.governance.lake_ops import delete_keys
from wdc_orchestration.governance.policies.compliance import RawRetention
from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger(__name__)

_DAY = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/")
PERSONAL = (Classification.PERSONAL, Classification.SENSITIVE)


def retention_cutoff(retention: str, today: dt.date) -> dt.date:
    """The first day still kept: today minus the ISO 8601 duration (years, months, days)."""
    match = ISO_DURATION.match(retention)
    if not match:
        raise ValueError(f"{retention!r} is not an ISO 8601 duration")
    years, months, days, _hours = (int(g or 0) for g in match.groups())
    month_index = today.year * 12 + today.month - 1 - years * 12 - months
    year, month = divmod(month_index, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])  # 29 Feb minus 1 year: 28 Feb
    return dt.date(year, month + 1, day) - dt.timedelta(days=days)


def expired_keys(
    lake: LakeStorage, domain: str, entity: str, retention: str, today: dt.date
) -> list[str]:
    cutoff = retention_cutoff(retention, today)
    expired = []
    for key in lake.list_keys(f"raw/{domain}/{entity}/"):
        match = _DAY.search("/" + key)
        if match and dt.date.fromisoformat(match.group(1)) < cutoff:
            expired.append(key)
    return expired


def purge_raw(
    lake: LakeStorage,
    domain: str,
    retention: Mapping[str, RawRetention],
    today: dt.date,
    dry_run: bool = False,
) -> list[str]:
    """Remove (or with dry_run only list) the expired raw files of `domain`'s personal entities."""
    removed: list[str] = []
    for entity, rule in sorted(retention.items()):
        if rule.classification not in PERSONAL:
            continue
        keys = expired_keys(lake, domain, entity, rule.retention, today)
        log.info(
            "%s.raw.%s (%s, retention %s): %d file(s) older than %s%s",
            domain,
            entity,
            rule.classification.value,
            rule.retention,
            len(keys),
            retention_cutoff(rule.retention, today),
            " (dry run)" if dry_run else "",
        )
        removed.extend(keys if dry_run else delete_keys(lake, keys))
    return removed
