"""The landing zone: where another system (a source system's export job, not the simulator) drops
a day's export on the lake, `landing/<domain>/<entity>/date=YYYY-MM-DD/<any name>`.

It is an inbox, not part of the read path: nothing reads `landing/` but the raw asset, which
*adopts* a day's export into the immutable raw zone — a byte-for-byte copy at the name the raw
gate and staging expect (`raw/<d>/<e>/date=D/<entity>.<ext>`), then the manifest with its sha256,
written last like every landing. So the trust boundary stays the manifest: the raw gate validates
exactly the file staging reads, a file written into `raw/` directly still fails
`files_match_manifest`, and a bad export fails the gate and is quarantined like any bad day.

Why a zone of its own, beside `raw/`: a landed raw day is immutable and owned by the platform; a
source system that wrote into `raw/` would be the "file arriving by another route" the gate
refuses. Why a copy and not a move: the export stays where its system put it, so a quarantined
day can be landed again from it (`wdc quarantine retry`), and the source system's own retention
(an S3 lifecycle rule) decides when it goes.

One export file per entity and day: the raw gate reads one file per day (`<entity>.<ext>`). A
re-sent export replaces the object at the same key; a second file in the same day's folder is
refused by name rather than one of them being picked."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from wdc_orchestration.logs import TeeLog
from wdc_orchestration.raw.generation.request import FileFormat, RawEntity
from wdc_orchestration.raw.generation.writer import EXTENSIONS
from wdc_orchestration.raw.read_set import (
    MANIFEST_NAME,
    manifest_json,
    partition_prefix,
    sha256_of,
)
from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger(__name__)

LANDING_ROOT = "landing"


def landing_domain_prefix(domain: str) -> str:
    """Everything other systems drop for `domain` (what its arrival sensor lists)."""
    return f"{LANDING_ROOT}/{domain}/"


def landing_prefix(domain: str, entity: str, day: dt.date) -> str:
    return f"{LANDING_ROOT}/{domain}/{entity}/date={day.isoformat()}"


def landing_day_of(key: str, domain: str) -> tuple[str, dt.date] | None:
    """(entity, day) of a landing object key relative to the lake root; None when the key is not
    `landing/<domain>/<entity>/date=YYYY-MM-DD/<file>` (a folder marker, a file elsewhere)."""
    parts = key.split("/")
    if len(parts) != 5 or parts[:2] != [LANDING_ROOT, domain] or not parts[4]:
        return None
    entity, folder = parts[2], parts[3]
    if not folder.startswith("date="):
        return None
    try:
        return entity, dt.date.fromisoformat(folder.removeprefix("date="))
    except ValueError:
        return None


class LandingDayError(Exception):
    """A landing day that cannot be adopted as one export (several files in its folder)."""


def landing_files(lake: LakeStorage, domain: str, entity: str, day: dt.date) -> list[str]:
    """The objects another system dropped for this entity and day (keys from the lake root)."""
    return [
        key
        for key in lake.list_keys(landing_prefix(domain, entity, day) + "/")
        if not key.endswith("/")  # a folder marker some S3 clients create
    ]


def describe_file(path: Path, file_format: FileFormat) -> tuple[int, dict[str, str]]:
    """Rows and column types of an export as this entity's format reads it; (0, {}) when it does
    not read: adoption never judges the content (the raw gate does, and names the problem)."""
    try:
        if path.stat().st_size == 0:
            return 0, {}
        if file_format == "parquet":
            schema = pl.read_parquet_schema(path)
            return pq.read_metadata(path).num_rows, {n: str(t) for n, t in schema.items()}
        frame = pl.scan_csv(path) if file_format == "csv" else pl.scan_ndjson(path)
        schema = frame.collect_schema()
        rows = frame.select(pl.len()).collect().item()
        return int(rows), {name: str(dtype) for name, dtype in schema.items()}
    except Exception as error:  # any reader error: the gate will say what is wrong
        log.warning(
            "%s does not read as %s (%s): the raw gate will judge it", path, file_format, error
        )
        return 0, {}


def adoption_params(source_key: str, sha256: str) -> dict[str, str]:
    """What a day adopted from the landing zone was made from (compared like a simulated day's
    seed and scale factor: another export for a landed day is a different day)."""
    return {"source": source_key, "sha256": sha256}


def adopt_day(
    lake: LakeStorage,
    domain: str,
    entity: RawEntity,
    day: dt.date,
    source_key: str,
    log: logging.Logger | TeeLog = log,
) -> tuple[str, int, int, str, dict[str, str], float]:
    """Copy the export at `source_key` into the raw day, then write its manifest.

    Returns (raw key, rows, bytes, sha256, schema, seconds). The caller decided already that the
    day may be written (not landed yet, or overwrite asked)."""
    file_name = f"{entity.name}.{EXTENSIONS[entity.file_format]}"
    prefix = partition_prefix(domain, entity.name, day)
    key, manifest_key = f"{prefix}/{file_name}", f"{prefix}/{MANIFEST_NAME}"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wdc-adopt-") as scratch:
        local = Path(scratch) / file_name
        local.write_bytes(lake.read_bytes(source_key))
        size = local.stat().st_size
        rows, schema = describe_file(local, entity.file_format)
        lake.put_file(local, key)
        # The digest of what is now in raw/, read back: the manifest vouches for the landed
        # object, not for the copy this process holds.
        digest = sha256_of(lake, key)
        manifest = {
            "rows": rows,
            "files": {file_name: digest},
            "schema": schema,
            "params": adoption_params(source_key, digest),
            "defects": [],
            "landed_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        # The manifest goes last: its presence means the day landed completely.
        lake.put_bytes(manifest_json(manifest), manifest_key, Path(scratch))
    seconds = time.perf_counter() - started
    log.info(f"adopted {source_key} as {key}: {rows} rows, {size / 1e6:.1f} MB")
    return key, rows, size, digest, schema, seconds


def export_of_day(lake: LakeStorage, domain: str, entity: str, day: dt.date) -> str | None:
    """The one export dropped for this entity and day, or None when there is none; several files
    raise `LandingDayError` naming them (which one is the day is the source system's call)."""
    files = landing_files(lake, domain, entity, day)
    if len(files) > 1:
        raise LandingDayError(
            f"{landing_prefix(domain, entity, day)}/ holds {len(files)} files "
            f"({', '.join(files)}): "
            "one export per entity and day. Re-send an export at the same key to replace it, "
            "or remove the extra files, then rerun the day."
        )
    return files[0] if files else None
