"""Monitoring: runs of the last days per domain, the check pass rate over time, incidents and
quarantined partitions (with links to the runs in the Dagster UI), policy violations and
freshness against each product's SLA."""

from __future__ import annotations

import logging

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from taipy.gui import Markdown, State

from wdc_portal.context import portal
from wdc_portal.data import monitoring as data
from wdc_portal.data.health import load_health
from wdc_portal.data.products import freshness, utc
from wdc_portal.pages.common import EMPTY, markdown_list

log = logging.getLogger(__name__)

DAYS = 7
summary = ""
runs_figure = go.Figure()
pass_rate_figure = go.Figure()
runs = EMPTY
incidents = ""
quarantine = ""
violations = EMPTY
violations_note = ""
fresh = EMPTY


def load(state: State, params: dict[str, str]) -> None:
    p = portal()
    health = load_health(p, DAYS)
    run_rows = data.runs_table(health.domain_runs)
    state.runs = run_rows
    if not run_rows.empty:
        per_day = run_rows.assign(day=run_rows["started (UTC)"].str[:10])
        state.runs_figure = px.histogram(
            per_day, x="day", color="status", facet_col="domain", title="Runs per domain and day"
        ).update_xaxes(type="category", title=None)
    rate = data.pass_rate(health.checks)
    if not rate.empty:
        state.pass_rate_figure = px.line(
            rate, x="time", y="pass rate %", markers=True, hover_data=["run", "partition", "checks"],
            title="Asset checks passed, per run",
        ).update_yaxes(range=[0, 101])  # fmt: skip
    incidents_frame = data.incidents_table(health.incidents, health.checks, health.domain_runs)
    open_count = int((incidents_frame["state"] == "open").sum())
    state.incidents = markdown_list(
        incidents_frame.drop(columns=["incident"]),
        links={"run": [p.run_url(r) for r in incidents_frame["run"]]},
    )
    moved = data.quarantined_partitions(p.lake)
    state.quarantine = markdown_list(
        pd.DataFrame(
            [
                {
                    "domain": q.domain,
                    "entity": q.entity,
                    "day": q.day,
                    "files": q.files,
                    "where": q.prefix,
                    "run": q.run_id,
                }
                for q in moved
            ],
            columns=["domain", "entity", "day", "files", "where", "run"],
        ),  # fmt: skip
        links={"run": [p.run_url(q.run_id) for q in moved]},
    )
    try:
        found = data.policy_violations(p.lake, p.reader.raw_connection())
        state.violations = data.violations_table(found)
        state.violations_note = f"{len(found)} violation(s) of the federated policies."
    except Exception as error:  # the rest of the page still says how the mesh is doing
        log.exception("policy engine failed")
        state.violations = EMPTY
        state.violations_note = f"The policy engine could not run: {error}"
    state.fresh = pd.DataFrame(
        [
            {
                "product": f.product,
                "SLA": f.sla,
                "last update": utc(f.last_update),
                "age (h)": f.age_hours if f.age_hours is not None else "",
                "status": f.status,
            }
            for f in (
                freshness(d, p.reader.snapshots(d.id) if p.reader.exists(d.id) else [])
                for d in sorted(p.descriptors.values(), key=lambda d: d.id)
            )
        ]
    )
    state.summary = (
        f"{len({r.run_id for r in health.domain_runs})} run(s) in the last {DAYS} days · "
        f"{open_count} open incident(s) · {len(moved)} quarantined partition(s)"
    )


page = Markdown(
    """
# Monitoring

<|{summary}|text|id=monitoring-summary|>

<|layout|columns=1 1|
<|chart|figure={runs_figure}|id=runs-chart|>

<|chart|figure={pass_rate_figure}|id=pass-rate-chart|>
|>

### Incidents
<|part|id=incidents|
<|{incidents}|text|mode=markdown|>
|>

### Quarantined raw partitions
<|part|id=quarantine|
<|{quarantine}|text|mode=markdown|>
|>

### Policy violations
<|{violations_note}|text|id=violations-note|>

<|{violations}|table|show_all|rebuild|id=violations|>

### Freshness against each SLA
<|{fresh}|table|show_all|rebuild|id=freshness|>

### Runs of the last days, per domain
<|{runs}|table|page_size=15|rebuild|id=runs|>
"""
)
