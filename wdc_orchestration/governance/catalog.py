"""`wdc catalog`: the products, their contracts and their current status, for people who do not
open the Dagster UI — as text, Markdown or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.governance.publications import ProductPublication
from wdc_orchestration.governance.publishing import published_majors, read_pointer
from wdc_orchestration.governance.violations import Violation
from wdc_orchestration.resources.lake import LakeStorage


def catalog_entries(
    descriptors: Mapping[str, ProductDescriptor],
    violations: Iterable[Violation],
    lake: LakeStorage | None,
    publications: Mapping[str, list[ProductPublication]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per product; `publications` (product id -> its DuckLake publications, newest
    first) adds the SQL port's snapshots a consumer can time-travel to."""
    violations = list(violations)
    entries = []
    for d in sorted(descriptors.values(), key=lambda x: x.id):
        published = []
        if lake is not None:
            for major in published_majors(lake, d.domain, d.name):
                pointer = read_pointer(lake, d.domain, d.name, major) or {}
                deprecation_key = (
                    f"{d.file_port_prefix.rsplit('/v', 1)[0]}/v{major}/deprecation.json"
                )
                notice = (
                    json.loads(lake.read_bytes(deprecation_key))
                    if lake.exists(deprecation_key)
                    else None
                )
                published.append(
                    {
                        "major": major,
                        "version": pointer.get("version"),
                        "rows": pointer.get("rows"),
                        "published_at": pointer.get("published_at"),
                        "location": lake.url(f"products/{d.domain}/{d.name}/v{major}/"),
                        "deprecated_until": (notice or {}).get("until"),
                    }
                )
        mine = [v for v in violations if v.product == d.id]
        entries.append(
            {
                "id": d.id,
                "domain": d.domain,
                "version": d.version,
                "status": d.status,
                "owner": d.team.owner,
                "team": d.team.name,
                "purpose": d.description.purpose,
                "description": " ".join(d.table.description.split()),
                "consumers": d.consumers,
                "sla": d.sla.model_dump(by_alias=True),
                "ports": {p.type: p.location for p in d.output_ports},
                "columns": [
                    {
                        "name": c.name,
                        "type": c.physical_type,
                        "classification": c.classification.value if c.classification else None,
                        "privacy": c.privacy.value if c.privacy else None,
                        "description": c.description,
                    }
                    for c in d.columns
                ],
                "published": published,
                "snapshots": [
                    {
                        "snapshot_id": p.snapshot_id,
                        "published_at": p.published_at,
                        "window": list(p.window),
                        "rows": p.rows,
                        "run_id": p.run_id,
                        "read": p.time_travel_sql,
                    }
                    for p in (publications or {}).get(d.id, [])
                ],
                "policy_status": "ok" if not mine else f"{len(mine)} violation(s)",
                "violations": [v.as_dict() for v in mine],
            }
        )
    return entries


def _published_line(entry: Mapping[str, Any]) -> str:
    if not entry["published"]:
        return "not published yet"
    parts = []
    for p in entry["published"]:
        text = f"v{p['major']} ({p['version']}, {p['rows']} rows, {p['published_at']})"
        text += f" at {p['location']}"
        if p["deprecated_until"]:
            text += f", deprecated until {p['deprecated_until']}"
        parts.append(text)
    return "; ".join(parts)


# The newest DuckLake snapshots the text and Markdown reports show per product (JSON has all).
SHOWN_SNAPSHOTS = 5


def _snapshot_line(p: Mapping[str, Any]) -> str:
    window = "..".join(dict.fromkeys(p["window"]))
    return f"{p['snapshot_id']} ({window}, {p['rows']} rows, {p['published_at']}): {p['read']}"


def render_text(entries: list[dict[str, Any]]) -> str:
    lines = []
    for e in entries:
        lines += [
            f"{e['id']}  {e['version']} [{e['status']}]  owner {e['owner']}"
            f"  policies: {e['policy_status']}",
            f"  purpose:   {e['purpose']}",
            f"  consumers: {', '.join(e['consumers']) or 'none'}",
            f"  SLA:       freshness {e['sla']['freshness']},"
            f" schedule {e['sla']['updateSchedule']}, retention {e['sla']['retention']}",
            f"  ports:     {e['ports'].get('ducklake')} | {e['ports'].get('parquet')}",
            f"  published: {_published_line(e)}",
            *(f"  snapshot:  {_snapshot_line(p)}" for p in e["snapshots"][:SHOWN_SNAPSHOTS]),
            "  columns:   "
            + ", ".join(
                f"{c['name']} {c['type']} ({c['classification']}"
                + (f", {c['privacy']}" if c["privacy"] else "")
                + ")"
                for c in e["columns"]
            ),
            "",
        ]
    return "\n".join(lines)


def render_markdown(entries: list[dict[str, Any]]) -> str:
    out = ["# WDC data products", ""]
    out += ["| product | version | status | owner | consumers | policies | published |"]
    out += ["|---|---|---|---|---|---|---|"]
    for e in entries:
        out.append(
            f"| `{e['id']}` | {e['version']} | {e['status']} | {e['owner']} | "
            f"{', '.join(e['consumers']) or '—'} | {e['policy_status']} | {_published_line(e)} |"
        )
    for e in entries:
        out += ["", f"## `{e['id']}` {e['version']}", "", e["description"], ""]
        out += [f"- **Purpose:** {e['purpose']}", f"- **Owner:** {e['team']} ({e['owner']})"]
        out += [
            f"- **SLA:** freshness {e['sla']['freshness']},"
            f" schedule `{e['sla']['updateSchedule']}`, retention {e['sla']['retention']}",
            f"- **Ports:** SQL `{e['ports'].get('ducklake')}`,"
            f" Parquet `{e['ports'].get('parquet')}`",
            "",
            "| column | type | classification | description |",
            "|---|---|---|---|",
        ]
        for c in e["columns"]:
            klass = c["classification"] + (f" ({c['privacy']})" if c["privacy"] else "")
            out.append(f"| `{c['name']}` | {c['type']} | {klass} | {c['description']} |")
        if e["snapshots"]:
            out += ["", "Published DuckLake snapshots (time travel), newest first:", ""]
            out += [f"- `{_snapshot_line(p)}`" for p in e["snapshots"][:SHOWN_SNAPSHOTS]]
        for v in e["violations"]:
            out.append(f"\n> **{v['rule']}**: {v['why']} — fix: {v['fix']}")
    return "\n".join(out) + "\n"


def render(entries: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(entries)
    return render_text(entries)
