"""A product as a consumer sees it: contract, consumers (the descriptor's and the approved access
requests'), versions of the file port, DuckLake snapshots, freshness against the SLA, the latest
checks and the incidents about it, a preview through its SQL port and how to read it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from wdc_orchestration.governance.access_requests import (
    APPROVED,
    AccessRequest,
)
from wdc_orchestration.governance.descriptor import Column, ProductDescriptor, product_prefix
from wdc_orchestration.governance.product_reader import ProductReader, Snapshot, time_travel
from wdc_orchestration.governance.publishing import (
    DEPRECATION,
    consumer_sql,
    published_majors,
    read_pointer,
)
from wdc_orchestration.quality.freshness import parse_duration, warn_window
from wdc_orchestration.quality.incidents import Incident
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.settings import mask_secrets
from wdc_portal.data.runs import CheckResult

FRESH, WARN, LATE, NEVER = "fresh", "warn", "late", "never built"


@dataclass(frozen=True)
class Freshness:
    product: str
    sla: str  # the descriptor's ISO duration
    last_update: dt.datetime | None  # the newest DuckLake snapshot that changed the table
    age_hours: float | None
    status: str


def freshness(
    d: ProductDescriptor, snapshots: list[Snapshot], now: dt.datetime | None = None
) -> Freshness:
    now = now or dt.datetime.now(dt.UTC)
    fail_after = parse_duration(d.sla.freshness)
    if not snapshots:
        return Freshness(d.id, d.sla.freshness, None, None, NEVER)
    last = max(s.time for s in snapshots)
    age = now - last
    status = LATE if age > fail_after else WARN if age > warn_window(fail_after) else FRESH
    return Freshness(d.id, d.sla.freshness, last, round(age.total_seconds() / 3600, 1), status)


def utc(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def product_asset(d: ProductDescriptor) -> str:
    return f"{d.domain}/{d.name}"


def product_checks(
    d: ProductDescriptor, latest: Mapping[tuple[str, str], CheckResult]
) -> list[CheckResult]:
    """The latest result of every check on the product's table (dbt tests, policies)."""
    asset = product_asset(d)
    return sorted((r for (a, _), r in latest.items() if a == asset), key=lambda r: r.check)


def product_incidents(d: ProductDescriptor, incidents: Iterable[Incident]) -> list[Incident]:
    """Incidents of the product's own domain (its raw gates, its dbt step, its product)."""
    return [i for i in incidents if i.domain == d.domain]


def consumers_table(d: ProductDescriptor, requests: Iterable[AccessRequest]) -> pd.DataFrame:
    """Who may read the product and why: the descriptor, or an approved access request."""
    rows = [
        {"consumer": c, "granted by": "contract (descriptor)", "purpose": "", "since": ""}
        for c in d.consumers
    ]
    for r in requests:
        if r.product == d.id and r.status == APPROVED and r.consumer not in d.consumers:
            rows.append(
                {
                    "consumer": r.consumer,
                    "granted by": f"access request {r.request_id}, approved by {r.decided_by}",
                    "purpose": r.purpose,
                    "since": r.decided_at or "",
                }
            )
    return pd.DataFrame(rows, columns=["consumer", "granted by", "purpose", "since"])


def columns_table(d: ProductDescriptor) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "column": c.name,
                "type": c.physical_type,
                "description": c.description,
                "classification": c.classification.value if c.classification else "",
                "privacy": c.privacy.value if c.privacy else "",
                "required": "yes" if c.required else "",
                "unit": c.unit or "",
            }
            for c in d.columns
        ]
    )


def versions_table(lake: LakeStorage, d: ProductDescriptor) -> pd.DataFrame:
    """The contract's version and each published major of the file port (its current pointer)."""
    rows = []
    for major in published_majors(lake, d.domain, d.name):
        pointer = read_pointer(lake, d.domain, d.name, major) or {}
        deprecated = lake.exists(product_prefix(d.domain, d.name, major) + DEPRECATION)
        rows.append(
            {
                "major": f"v{major}",
                "version": pointer.get("version", ""),
                "current snapshot": pointer.get("snapshot", ""),
                "rows": pointer.get("rows", ""),
                "published at": pointer.get("published_at", ""),
                "state": "deprecated" if deprecated else "current",
            }
        )
    return pd.DataFrame(
        rows, columns=["major", "version", "current snapshot", "rows", "published at", "state"]
    )


def snapshots_table(d: ProductDescriptor, snapshots: list[Snapshot]) -> pd.DataFrame:
    """The DuckLake snapshots of the product, each with the query that reads it as it was."""
    rows = [
        {
            "snapshot": s.snapshot_id,
            "time (UTC)": s.time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "change": "; ".join(v for values in s.changes.values() for v in values),
            "commit": s.commit_message or "",
            "time-travel query": f"SELECT * FROM {time_travel(d, s.snapshot_id)}",
        }
        for s in snapshots
    ]
    return pd.DataFrame(
        rows, columns=["snapshot", "time (UTC)", "change", "commit", "time-travel query"]
    )


def preview(
    reader: ProductReader,
    d: ProductDescriptor,
    limit: int = 20,
    columns: Iterable[Column] | None = None,
) -> pd.DataFrame:
    """The first rows through the SQL port, every value as DuckDB's text (what a consumer's
    `SELECT ...::VARCHAR` prints: exact decimals, timestamps with their zone). `columns`: the
    ones the viewer may see (auth/rules.visible_columns; default all): the others are never
    selected, so they never leave DuckDB."""
    shown = list(d.columns if columns is None else columns)
    if not shown:
        return pd.DataFrame()
    order = ", ".join(f'"{c.name}"' for c in d.columns if c.primary_key) or "ALL"
    columns = ", ".join(f'CAST("{c.name}" AS VARCHAR) AS "{c.name}"' for c in shown)
    return reader.query(
        f"SELECT {columns} FROM {d.sql_port} ORDER BY {order} LIMIT {int(limit)}"
    ).fillna("NULL")


def ducklake_snippet(d: ProductDescriptor, catalog: str, data_path: str) -> str:
    """Plain DuckDB against the SQL port (read-only attach of the DuckLake catalog); a secret
    in the catalog (`password=...`) shows masked: the reader brings their own."""
    catalog = mask_secrets(catalog)
    return (
        "INSTALL ducklake; -- once\n"
        f"ATTACH 'ducklake:{catalog}' AS lakehouse (DATA_PATH '{data_path}', READ_ONLY);\n"
        f"SELECT * FROM {d.sql_port} LIMIT 10;\n"
        "-- as it was at a snapshot (see the snapshots above):\n"
        f"-- SELECT * FROM {d.sql_port} AT (VERSION => <snapshot>);"
    )


def parquet_snippet(d: ProductDescriptor, lake_url: str) -> str:
    """Plain DuckDB against the file port: follow the pointer to the current snapshot."""
    return consumer_sql(lake_url, d.domain, d.name, d.major)
