"""KPI dashboards: each KPI the domains declare (domains/<domain>/kpis.yaml), queried on the
products-only reader and drawn as an interactive Plotly chart — the same spec the KPI assets
render as PNGs in the Dagster UI. A KPI is computed only for a user who may read every product it
reads and see every column it names (auth/rules.py); the others see why not."""

from __future__ import annotations

import logging

import plotly.graph_objects as go
from taipy.gui import Markdown, State

from wdc_orchestration.governance.access_requests import approved_grants
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.kpis.figures import plotly_figure
from wdc_orchestration.kpis.spec import KpiSpec, load_kpis
from wdc_portal.auth.rules import may_see_query
from wdc_portal.auth.signin import signed_in
from wdc_portal.context import portal

log = logging.getLogger(__name__)

# The KPIs are data, so the page is built from them: one chart (and its variable) per KPI.
SPECS: list[KpiSpec] = load_kpis(load_descriptors())
for _number, _spec in enumerate(SPECS):
    globals()[f"kpi_{_number}"] = go.Figure()
status = ""


def load(state: State, params: dict[str, str]) -> None:
    p = portal()
    user = signed_in()
    grants = approved_grants(p.lake)
    shown = 0
    for number, spec in enumerate(SPECS):
        reads = [p.descriptors[r] for r in spec.reads]
        if not may_see_query(user, spec.sql, reads, grants):
            setattr(state, f"kpi_{number}", _withheld(spec))
            continue
        shown += 1
        try:
            figure = plotly_figure(spec, p.reader.query(spec.sql))
        except Exception as error:  # one broken KPI must not blank the dashboard
            log.exception("KPI %s failed", spec.id)
            figure = go.Figure().update_layout(title=f"{spec.title}: unavailable ({error})")
        setattr(state, f"kpi_{number}", figure)
    state.status = (
        f"{shown} of {len(SPECS)} KPIs computed from the products now; the others read products "
        "or columns your domains may not read (ask on the Access page)."
        if shown < len(SPECS)
        else f"{len(SPECS)} KPIs, computed from the products now."
    )


def _withheld(spec: KpiSpec) -> go.Figure:
    return go.Figure().update_layout(
        title=f"{spec.title}: not for your domains (reads {', '.join(spec.reads)})"
    )


def _section(number: int, spec: KpiSpec) -> str:
    return (
        f"### {spec.title}\n\n{spec.description} *Owner: {spec.domain}; reads "
        f"{', '.join(spec.reads)}.*\n\n"
        f"<|chart|figure={{kpi_{number}}}|height=460px|id=kpi-{spec.name}|>\n"
    )


page = Markdown(
    "# KPIs\n\n<|{status}|text|id=kpi-status|>\n\n"
    + "\n".join(_section(n, s) for n, s in enumerate(SPECS))
)
