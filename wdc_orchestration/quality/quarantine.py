"""Quarantine: a bad raw day is moved, never deleted, from `raw/<d>/<e>/date=D/` to
`quarantine/<d>/<e>/date=D/<run_id>/`. The manifest moves first, so the day stops being "landed"
at once and a rerun lands a fresh day (raw immutability applies to landed days only)."""

from __future__ import annotations

import datetime as dt
import logging

from wdc_orchestration.raw.assets import MANIFEST_NAME, partition_prefix
from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger(__name__)

QUARANTINE_ROOT = "quarantine"


def quarantine_prefix(domain: str, entity: str, day: dt.date, run_id: str) -> str:
    raw = partition_prefix(domain, entity, day)
    return f"{QUARANTINE_ROOT}/{raw.removeprefix('raw/')}/{run_id}"


def quarantine_partition(
    lake: LakeStorage, domain: str, entity: str, day: dt.date, run_id: str
) -> str | None:
    """Move the raw day aside; its new prefix, or None if there was nothing to move (already
    quarantined, or never landed)."""
    source = partition_prefix(domain, entity, day)
    keys = lake.list_keys(source + "/")
    target = quarantine_prefix(domain, entity, day, run_id)
    if not keys:
        return target if lake.list_keys(target + "/") else None
    manifest_first = sorted(keys, key=lambda k: not k.endswith(MANIFEST_NAME))
    for key in manifest_first:
        lake.move(key, f"{target}/{key.removeprefix(source + '/')}")
    log.warning("quarantined %s (%d objects) to %s", source, len(keys), target)
    return target
