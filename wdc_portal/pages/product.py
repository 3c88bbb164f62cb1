"""A product's page: its contract (purpose, usage, limitations, columns with classification),
allowed consumers and versions, DuckLake snapshots with their time-travel query, the latest
checks and incidents, a preview through its SQL port, and how to read it with DuckDB."""

from __future__ import annotations

import pandas as pd
from taipy.gui import Markdown, State

from wdc_orchestration.governance.access_requests import list_requests
from wdc_portal.context import portal
from wdc_portal.data import products as data
from wdc_portal.data.health import load_health
from wdc_portal.pages.common import EMPTY, markdown_list

product_options: list[str] = []
product = ""
header = ""
owner_line = ""
contract = ""
columns = EMPTY
consumers = EMPTY
versions = EMPTY
snapshots = EMPTY
checks = EMPTY
incidents = ""
preview = EMPTY
preview_note = ""
ducklake_sql = ""
parquet_sql = ""


def load(state: State, params: dict[str, str]) -> None:
    p = portal()
    state.product_options = sorted(p.descriptors)
    wanted = params.get("product") or state.product or state.product_options[0]
    state.product = wanted if wanted in p.descriptors else state.product_options[0]
    show(state)


def show(state: State, *_: object) -> None:
    p = portal()
    d = p.descriptors[state.product]
    requests = list_requests(p.lake, d.id)
    health = load_health(p)
    built = p.reader.exists(d.id)
    product_snapshots = p.reader.snapshots(d.id) if built else []
    fresh = data.freshness(d, product_snapshots)
    state.header = f"{d.id} {d.version} · {d.status}"
    state.owner_line = (
        f"Owner: **{d.team.name}** <{d.team.owner}> · SLA: fresh within {d.sla.freshness}, "
        f"updated `{d.sla.update_schedule}` (America/Sao_Paulo), retention {d.sla.retention} · "
        f"freshness: **{fresh.status}**, last snapshot {data.utc(fresh.last_update)}"
    )
    state.contract = (
        f"**Purpose.** {d.description.purpose}\n\n**Usage.** {d.description.usage}\n\n"
        f"**Limitations.** {d.description.limitations}\n\n**Content.** {d.table.description}"
    )
    state.columns = data.columns_table(d)
    state.consumers = data.consumers_table(d, requests)
    state.versions = data.versions_table(p.lake, d)
    state.snapshots = data.snapshots_table(d, product_snapshots)
    state.checks = pd.DataFrame(
        [
            {
                "check": c.check,
                "result": "passed" if c.passed else "FAILED",
                "severity": c.severity,
                "partition": c.partition or "",
                "at": data.utc(c.time),
                "details": c.description,
            }
            for c in data.product_checks(d, health.latest)
        ],
        columns=["check", "result", "severity", "partition", "at", "details"],
    )
    open_ids = {i.incident_id for i in health.open_incidents(d.domain)}
    domain_incidents = data.product_incidents(d, health.incidents)
    frame = pd.DataFrame(
        [
            {
                "state": "open" if i.incident_id in open_ids else "resolved",
                "detected": i.detected_at[:19],
                "asset": i.asset,
                "check": i.check,
                "description": i.description,
                "run": i.run_id[:8],
            }
            for i in domain_incidents
        ],
        columns=["state", "detected", "asset", "check", "description", "run"],
    )
    state.incidents = markdown_list(
        frame, links={"run": [p.run_url(i.run_id) for i in domain_incidents]}
    )
    if built:
        state.preview = data.preview(p.reader, d)
        state.preview_note = f"First {len(state.preview)} rows of `{d.sql_port}` (the SQL port)."
    else:
        state.preview = EMPTY
        state.preview_note = f"`{d.sql_port}` is not built yet."
    state.ducklake_sql = data.ducklake_snippet(
        d, p.settings.ducklake_catalog, p.settings.ducklake_data_path
    )
    state.parquet_sql = data.parquet_snippet(d, p.settings.lake_url)


page = Markdown(
    """
<|{product}|selector|lov={product_options}|dropdown|label=Data product|on_change=show|id=product-selector|>

<|{header}|text|id=product-header|>

<|{owner_line}|text|mode=markdown|>

<|part|id=contract|
### Contract
<|{contract}|text|mode=markdown|>

<|{columns}|table|show_all|rebuild|id=columns|>
|>

<|layout|columns=1 1|
<|part|id=consumers|
### Allowed consumers
<|{consumers}|table|show_all|rebuild|id=consumers-table|>
|>

<|part|id=versions|
### Versions (file port)
<|{versions}|table|show_all|rebuild|id=versions-table|>
|>
|>

### Published snapshots (DuckLake), with the query that reads each as it was
<|{snapshots}|table|page_size=10|rebuild|id=snapshots|>

### Latest check results
<|{checks}|table|page_size=10|rebuild|id=checks|>

### Incidents of the domain
<|part|id=incidents|
<|{incidents}|text|mode=markdown|>
|>

### Preview
<|{preview_note}|text|mode=markdown|>

<|{preview}|table|show_all|rebuild|id=preview|>

### Read it with DuckDB
<|layout|columns=1 1|
<|part|
**SQL port (DuckLake)**

<|part|id=ducklake-snippet|
<|{ducklake_sql}|text|mode=pre|>
|>
|>

<|part|
**File port (Parquet)**

<|part|id=parquet-snippet|
<|{parquet_sql}|text|mode=pre|>
|>
|>
|>
"""
)
