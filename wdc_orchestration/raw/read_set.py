"""What staging reads: exactly the raw files the days' manifests list, nothing else in the folder.

A landed day is `raw/<domain>/<entity>/date=D/` with its data file(s) and `_manifest.json`
(written last: the file names, their sha256, rows). Other systems, re-sent exports and manual
fixes can put more files in that folder, or replace one; a glob over the folder would read them.
So the dbt sources do not glob: each reads the list of files in a DuckDB session variable
(`getvariable('wdc_raw__<domain>__<entity>')`), which the dbt plugin fills from the manifests
(`dbt/duckdb_plugins/session.py`), and the raw gate checks the same folders against the same
manifests (`verify_day`): the set of files the gate validates is the set staging reads.

Within the run window every listed file is also re-hashed before dbt reads it, so a file replaced
after the gate passed fails the dbt step instead of being read."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from wdc_orchestration.lakehouse.run_window import RunWindow
from wdc_orchestration.resources.lake import LakeStorage, LocalLakeStorage

log = logging.getLogger(__name__)

MANIFEST_NAME = "_manifest.json"


def manifest_json(manifest: dict[str, object]) -> bytes:
    """A raw day's manifest as it is written. Strict JSON: a NaN or an infinity (a scale factor
    once landed as `NaN`) raises here, before the day is marked landed, instead of writing a
    file no JSON reader takes and that every later run of the day compares against."""
    return json.dumps(manifest, indent=2, allow_nan=False).encode()


RAW_ROOT = "raw"


def partition_prefix(domain: str, entity: str, day: dt.date) -> str:
    return f"{RAW_ROOT}/{domain}/{entity}/date={day.isoformat()}"


def read_set_variable(domain: str, entity: str) -> str:
    """The DuckDB session variable a dbt source reads its files from."""
    return f"wdc_raw__{domain}__{entity}"


class RawReadSetError(RuntimeError):
    """A landed day's files no longer match its manifest (or it cannot be read)."""


@dataclass(frozen=True)
class LandedDay:
    """One day of one entity whose manifest is on the lake."""

    domain: str
    entity: str
    day: dt.date
    manifest: dict

    @property
    def prefix(self) -> str:
        return partition_prefix(self.domain, self.entity, self.day)

    @property
    def file_keys(self) -> list[str]:
        return [f"{self.prefix}/{name}" for name in sorted(self.manifest["files"])]


def _day_of(key: str, entity_prefix: str) -> dt.date | None:
    folder = key.removeprefix(entity_prefix).split("/", 1)[0]
    if not folder.startswith("date="):
        return None
    try:
        return dt.date.fromisoformat(folder.removeprefix("date="))
    except ValueError:
        return None


def landed_days(
    lake: LakeStorage, domain: str, entity: str, until: dt.date | None = None
) -> list[LandedDay]:
    """Every landed day of `<domain>.<entity>` (its manifest present), up to `until`, in order."""
    entity_prefix = f"{RAW_ROOT}/{domain}/{entity}/"
    days = []
    for key in lake.list_keys(entity_prefix):
        if not key.endswith(f"/{MANIFEST_NAME}"):
            continue
        day = _day_of(key, entity_prefix)
        if day is None or (until is not None and day > until):
            continue
        days.append(LandedDay(domain, entity, day, json.loads(lake.read_bytes(key))))
    return sorted(days, key=lambda landed: landed.day)


def sha256_of(lake: LakeStorage, key: str) -> str:
    digest = hashlib.sha256()
    if isinstance(lake, LocalLakeStorage):
        with open(lake.url(key), "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    else:
        digest.update(lake.read_bytes(key))
    return digest.hexdigest()


@dataclass(frozen=True)
class DayFiles:
    """How a day's folder compares with its manifest."""

    prefix: str
    landed: bool  # the manifest is there
    unexpected: tuple[str, ...] = ()  # keys the manifest does not list
    missing: tuple[str, ...] = ()  # keys the manifest lists that are not there
    tampered: tuple[tuple[str, str, str], ...] = ()  # (key, sha256 on the lake, in the manifest)

    @property
    def ok(self) -> bool:
        return self.landed and not (self.unexpected or self.missing or self.tampered)

    def problems(self, describe: Callable[[str], str] | None = None) -> list[str]:
        """One line per problem, each naming the file; `describe` adds a few words on an
        unexpected file."""
        found = [
            f"unexpected file {key} (not in the day's {MANIFEST_NAME}: staging does not read it)"
            + (f": {describe(key)}" if describe else "")
            for key in self.unexpected
        ]
        found += [
            f"missing file {key} (listed in the day's {MANIFEST_NAME})" for key in self.missing
        ]
        found += [
            f"tampered file {key}: sha256 {actual[:12]}… differs from the manifest's "
            f"{expected[:12]}… (replaced after it landed)"
            for key, actual, expected in self.tampered
        ]
        return found


def verify_day(lake: LakeStorage, domain: str, entity: str, day: dt.date) -> DayFiles:
    """The day's folder against its manifest: every listed file there with its sha256, and nothing
    else (the manifest aside)."""
    prefix = partition_prefix(domain, entity, day)
    keys = set(lake.list_keys(prefix + "/"))
    manifest_key = f"{prefix}/{MANIFEST_NAME}"
    if manifest_key not in keys:
        return DayFiles(prefix, landed=False, unexpected=tuple(sorted(keys)))
    listed = json.loads(lake.read_bytes(manifest_key))["files"]
    expected = {f"{prefix}/{name}": digest for name, digest in listed.items()}
    unexpected = sorted(keys - set(expected) - {manifest_key})
    missing = sorted(set(expected) - keys)
    tampered = []
    for key in sorted(set(expected) & keys):
        actual = sha256_of(lake, key)
        if actual != expected[key]:
            tampered.append((key, actual, expected[key]))
    return DayFiles(prefix, True, tuple(unexpected), tuple(missing), tuple(tampered))


def read_set(
    lake: LakeStorage, domain: str, entity: str, window: RunWindow | None = None
) -> list[str]:
    """The files staging reads for `<domain>.<entity>`: those the manifests list, of the days of
    the window (every landed day without one). Only the window: every model reads its window's
    days and no other, snapshots included (a state product keeps its history in a model of its
    own, dbt_project/macros/state_history.sql), so a run of a day reads the same files whatever
    else has landed. Each day is verified first; a day that no longer matches its manifest
    raises RawReadSetError naming the file."""
    days = landed_days(lake, domain, entity, until=window.max_date if window else None)
    if window is not None:
        days = [landed for landed in days if landed.day >= window.min_date]
        for landed in days:
            state = verify_day(lake, domain, entity, landed.day)
            if not state.ok:
                raise RawReadSetError(
                    f"{domain}.{entity} {landed.day}: " + "; ".join(state.problems())
                )
    return [lake.url(key) for landed in days for key in landed.file_keys]


def read_sets(
    lake: LakeStorage, sources: Iterable[tuple[str, str]], window: RunWindow | None
) -> dict[str, list[str]]:
    """DuckDB variable -> files, for each (domain, entity)."""
    return {
        read_set_variable(domain, entity): read_set(lake, domain, entity, window)
        for domain, entity in sources
    }


def landed_sources(lake: LakeStorage) -> list[tuple[str, str]]:
    """Every (domain, entity) with anything under raw/ (a plain `dbt` run outside the platform
    reads them all)."""
    pairs = set()
    for key in lake.list_keys(RAW_ROOT + "/"):
        parts = key.split("/")
        if len(parts) >= 4:
            pairs.add((parts[1], parts[2]))
    return sorted(pairs)
