"""The file port: a product's Parquet snapshot on the lake, with its contract beside it.

Layout under `products/<domain>/<product>/v<major>/`:

    snapshots/<snapshot id>/data_<n>.parquet   immutable once written
    snapshots/<snapshot id>/contract.yaml      the descriptor the snapshot was published under
    current.json                               the pointer: which snapshot is the product now
    deprecation.json                           only on a superseded major: until when it stays

A publication writes a new snapshot folder completely, then replaces `current.json` (an atomic
rename locally, an atomic PUT on S3): a consumer that follows the pointer never sees a
half-written version. Plain DuckDB reads the current version with (docs/governance.md):

    SET VARIABLE port = '<lake>/products/sales/fct_orders/v1/';
    SET VARIABLE files = (SELECT list_transform(files, f -> getvariable('port') || f)
                          FROM read_json(getvariable('port') || 'current.json'));
    SELECT * FROM read_parquet(getvariable('files'));
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from wdc_orchestration.governance.descriptor import (
    ProductDescriptor,
    parse_descriptor,
    product_prefix,
)
from wdc_orchestration.governance.lake_ops import delete_keys
from wdc_orchestration.governance.types import normalise_type
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.yamlio import load_yaml

log = logging.getLogger(__name__)

POINTER = "current.json"
CONTRACT = "contract.yaml"
DEPRECATION = "deprecation.json"
MAX_FILE_SIZE = "256MB"  # Parquet files of a snapshot are split beyond this
_MAJOR = re.compile(r"^v(\d+)/" + re.escape(POINTER) + "$")


@dataclass(frozen=True)
class Publication:
    product: str
    version: str
    prefix: str  # products/<domain>/<product>/v<major>/
    snapshot: str  # snapshots/<id>/ relative to prefix
    files: list[str]  # relative to prefix
    rows: int
    published_at: str
    ducklake_snapshot: int | None = None  # the SQL port's snapshot this file snapshot exports

    def pointer(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "version": self.version,
            "snapshot": self.snapshot,
            "files": self.files,
            "contract": self.snapshot + CONTRACT,
            "rows": self.rows,
            "published_at": self.published_at,
            "ducklake_snapshot": self.ducklake_snapshot,
        }


def _put_json(lake: LakeStorage, key: str, data: dict[str, Any], scratch: Path) -> None:
    lake.put_bytes(json.dumps(data, indent=2).encode(), key, scratch)


def publish(
    conn: duckdb.DuckDBPyConnection,
    lake: LakeStorage,
    d: ProductDescriptor,
    snapshot_id: str | None = None,
    now: dt.datetime | None = None,
    ducklake_snapshot: int | None = None,
    table: str | None = None,
) -> Publication:
    """Export the product's DuckLake table (as of `ducklake_snapshot`, the publication of its SQL
    port; the current version when None) as a new snapshot of its file port and switch the
    pointer to it. Raises (and leaves the previous version current) on any failure. `table`:
    the relation of an older major still served (`<name>_v<major>`, with that major's contract
    as `d`); default the product's stable table."""
    table = table or d.name
    now = now or dt.datetime.now(dt.UTC)
    snapshot_id = snapshot_id or now.strftime("%Y%m%dT%H%M%S%fZ")
    snapshot = f"snapshots/{snapshot_id}/"
    prefix = d.file_port_prefix
    with tempfile.TemporaryDirectory(prefix="wdc-publish-") as tmp:
        scratch = Path(tmp)
        export = scratch / "export"
        version = f" at (version => {int(ducklake_snapshot)})" if ducklake_snapshot else ""
        conn.execute(
            f'copy (select * from lakehouse."{d.domain}"."{table}"{version}) to \'{export}\' '
            f"(format parquet, compression zstd, file_size_bytes '{MAX_FILE_SIZE}')"
        )
        files = sorted(p.name for p in export.glob("*.parquet"))
        (rows,) = conn.execute(
            f"select count(*) from read_parquet('{export}/*.parquet')"
        ).fetchone()
        # the snapshot folder first, complete: data files, then its contract
        for name in files:
            lake.put_file(export / name, prefix + snapshot + name)
        lake.put_bytes(d.to_yaml().encode(), prefix + snapshot + CONTRACT, scratch)
        publication = Publication(
            product=d.id,
            version=d.version,
            prefix=prefix,
            snapshot=snapshot,
            files=[snapshot + name for name in files],
            rows=rows,
            published_at=now.isoformat(),
            ducklake_snapshot=ducklake_snapshot,
        )
        # then the switch: one atomic object
        _put_json(lake, prefix + POINTER, publication.pointer(), scratch)
        shutil.rmtree(export, ignore_errors=True)
    log.info("published %s %s: %d rows at %s", d.id, d.version, rows, lake.url(prefix + snapshot))
    return publication


def published_majors(lake: LakeStorage, domain: str, name: str) -> list[int]:
    base = f"products/{domain}/{name}/"
    majors = set()
    for key in lake.list_keys(base):
        match = _MAJOR.match(key.removeprefix(base))
        if match:
            majors.add(int(match.group(1)))
    return sorted(majors)


def read_pointer(lake: LakeStorage, domain: str, name: str, major: int) -> dict[str, Any] | None:
    key = product_prefix(domain, name, major) + POINTER
    return json.loads(lake.read_bytes(key)) if lake.exists(key) else None


def published_contract(
    lake: LakeStorage, domain: str, name: str, major: int | None = None
) -> ProductDescriptor | None:
    """The contract of the current snapshot of `major` (default: the highest published)."""
    majors = published_majors(lake, domain, name)
    if major is None:
        if not majors:
            return None
        major = majors[-1]
    pointer = read_pointer(lake, domain, name, major)
    if pointer is None:
        return None
    key = product_prefix(domain, name, major) + pointer["contract"]
    return parse_descriptor(load_yaml(lake.read_bytes(key)), lake.url(key))


def contract_mismatch(
    conn: duckdb.DuckDBPyConnection, d: ProductDescriptor, table: str
) -> list[str]:
    """How the DuckLake table `table` differs from the columns of contract `d` (an older major's
    relation against that major's last published contract); [] when they agree."""
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns where "
        "table_catalog = 'lakehouse' and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [d.domain, table],
    ).fetchall()
    actual = {name: normalise_type(dtype) for name, dtype in rows}
    promised = {c.name: normalise_type(c.physical_type) for c in d.columns}
    problems = [f"column {c} missing" for c in promised if c not in actual]
    problems += [f"column {c} not in the contract" for c in actual if c not in promised]
    problems += [
        f"column {c} is {actual[c]}, the contract says {promised[c]}"
        for c in promised
        if c in actual and actual[c] != promised[c]
    ]
    return problems


def mark_previous_major(
    lake: LakeStorage, d: ProductDescriptor, today: dt.date, scratch: Path
) -> list[str]:
    """After a major bump: tell consumers of the previous major until when it stays (a
    `deprecation.json` beside its pointer), and retire it once that date has passed.
    Returns the keys removed (none before the date)."""
    if d.deprecation is None:
        return []
    old = d.deprecation.previous_major
    old_prefix = product_prefix(d.domain, d.name, old)
    if read_pointer(lake, d.domain, d.name, old) is None:
        return []
    if today <= d.deprecation.until:
        notice = {
            "deprecated": True,
            "until": d.deprecation.until.isoformat(),
            "successor": d.file_port_prefix,
            "successor_version": d.version,
        }
        _put_json(lake, old_prefix + DEPRECATION, notice, scratch)
        return []
    log.info("retiring %s v%d: its deprecation date %s has passed", d.id, old, d.deprecation.until)
    # the pointer goes first, so no consumer follows it into a folder being emptied
    removed = delete_keys(lake, [old_prefix + POINTER])
    return removed + delete_keys(lake, lake.list_keys(old_prefix))


def consumer_sql(lake_url: str, domain: str, name: str, major: int) -> str:
    """The plain-DuckDB statements a consumer runs to read the current version of a product."""
    port = f"{lake_url.rstrip('/')}/{product_prefix(domain, name, major)}"
    return (
        f"SET VARIABLE port = '{port}';\n"
        "SET VARIABLE files = (SELECT list_transform(files, f -> getvariable('port') || f) "
        "FROM read_json(getvariable('port') || 'current.json'));\n"
        "SELECT * FROM read_parquet(getvariable('files'));"
    )
