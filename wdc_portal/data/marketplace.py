"""The marketplace: one row per data product with what a consumer decides on — owner, version,
status, SLA, the last DuckLake snapshot, freshness, quality — and the text a search matches."""

from __future__ import annotations

import pandas as pd

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_portal.context import Portal
from wdc_portal.data.health import Health
from wdc_portal.data.products import freshness, product_checks, utc

COLUMNS = [
    "product", "domain", "owner", "version", "status", "SLA", "last snapshot", "freshness",
    "quality", "open incidents", "classifications",
]  # fmt: skip


def search_text(d: ProductDescriptor) -> str:
    """What the search box matches: names, descriptions and column names."""
    parts = [d.id, d.name, d.description.purpose, d.description.usage, d.table.description]
    for c in d.columns:
        parts.extend([c.name, c.description])
    return " ".join(parts).lower()


def classifications(d: ProductDescriptor) -> list[str]:
    return sorted({c.classification.value for c in d.columns if c.classification})


def product_rows(portal: Portal, health: Health) -> pd.DataFrame:
    rows = []
    for d in sorted(portal.descriptors.values(), key=lambda d: d.id):
        snapshots = portal.reader.snapshots(d.id) if portal.reader.exists(d.id) else []
        fresh = freshness(d, snapshots)
        checks = product_checks(d, health.latest)
        failed = [c for c in checks if not c.passed]
        quality = (
            "no checks yet"
            if not checks
            else f"{len(checks) - len(failed)}/{len(checks)} checks pass"
            + (f" ({', '.join(c.check for c in failed[:3])} failed)" if failed else "")
        )
        rows.append(
            {
                "product": d.id,
                "domain": d.domain,
                "owner": f"{d.team.name} <{d.team.owner}>",
                "version": d.version,
                "status": d.status,
                "SLA": f"fresh within {d.sla.freshness}, {d.sla.update_schedule}",
                "last snapshot": utc(fresh.last_update),
                "freshness": fresh.status
                + (f" ({fresh.age_hours} h old)" if fresh.age_hours is not None else ""),
                "quality": quality,
                "open incidents": len(health.open_incidents(d.domain)),
                "classifications": ", ".join(classifications(d)),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def filter_rows(
    rows: pd.DataFrame,
    portal: Portal,
    domain: str = "all",
    classification: str = "all",
    status: str = "all",
    search: str = "",
) -> pd.DataFrame:
    keep = []
    words = search.lower().split()
    for _, row in rows.iterrows():
        d = portal.descriptors[row["product"]]
        keep.append(
            (domain == "all" or d.domain == domain)
            and (classification == "all" or classification in classifications(d))
            and (status == "all" or d.status == status)
            and all(word in search_text(d) for word in words)
        )
    return rows[keep].reset_index(drop=True)
