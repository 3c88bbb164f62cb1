"""A product's page: its contract (purpose, usage, limitations, columns with classification),
allowed consumers and versions, DuckLake snapshots with their time-travel query, the latest
checks and incidents, a preview through its SQL port, a state product's history (the state as of
a chosen day, docs/time_model.md), and how to read it with DuckDB.

The contract and the metadata are for everyone signed in; the rows (preview, history, the state as
of a day) and the snippets only for a user whose domains may read the product, without the
columns its classification keeps with the owner (auth/rules.py). The user is the signed-in one
of the request, asked again by every callback."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from taipy.gui import Markdown, State

from wdc_orchestration.governance.access_requests import approved_grants, list_requests
from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_portal.auth.rules import User, hidden_columns, may_read, visible_columns
from wdc_portal.auth.signin import signed_in
from wdc_portal.context import portal
from wdc_portal.data import history
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
has_history = False
history_table = EMPTY
as_of_day: dt.date | None = None
as_of_note = ""
as_of_rows = EMPTY
as_of_sql = ""

log = logging.getLogger(__name__)


def _reader_of(d: ProductDescriptor) -> User | None:
    """The signed-in user when they may read `d`'s rows, else None."""
    user = signed_in()
    return user if may_read(user, d, approved_grants(portal().lake)) else None


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
    reader = _reader_of(d)
    if reader is None:
        user = signed_in()
        domains = ", ".join(sorted(user.domains)) if user and user.domains else "no domain"
        state.preview = EMPTY
        state.preview_note = (
            f"Your domains ({domains}) may not read the rows of `{d.sql_port}`: a member of a "
            "domain can ask for access on the Access page."
        )
        state.ducklake_sql = state.parquet_sql = "(for the product's readers)"
    else:
        hidden = hidden_columns(reader, d)
        kept = f" Kept with {d.domain}: {', '.join(hidden)}." if hidden else ""
        if built:
            state.preview = data.preview(p.reader, d, columns=visible_columns(reader, d))
            state.preview_note = (
                f"First {len(state.preview)} rows of `{d.sql_port}` (the SQL port).{kept}"
            )
        else:
            state.preview = EMPTY
            state.preview_note = f"`{d.sql_port}` is not built yet."
        state.ducklake_sql = data.ducklake_snippet(
            d, p.settings.ducklake_catalog, p.settings.ducklake_data_path
        )
        state.parquet_sql = data.parquet_snippet(d, p.settings.lake_url)
    show_history(state, built)


def show_history(state: State, built: bool) -> None:
    """A state product's history: the days it changed and the state as of the chosen day (the
    last day it changed unless a day inside the history is chosen)."""
    p = portal()
    d = p.descriptors[state.product]
    state.has_history = history.is_state_product(d)
    if not state.has_history:
        return
    if _reader_of(d) is None:
        # the days and counts come from the rows: for readers only, like the rows themselves
        state.history_table = EMPTY
        state.as_of_day = None
        state.as_of_rows = EMPTY
        state.as_of_sql = ""
        state.as_of_note = f"The history of `{d.sql_port}` is for the product's readers."
        return
    days = history.history_days(p.reader, d) if built else EMPTY
    state.history_table = days
    if not built or days.empty:
        state.as_of_day = None
        state.as_of_rows = EMPTY
        state.as_of_sql = ""
        state.as_of_note = f"`{d.sql_port}` has no history yet."
        return
    changed = [dt.date.fromisoformat(day) for day in days["day"]]
    chosen = _day(state.as_of_day)
    if chosen is None or not changed[0] <= chosen <= changed[-1]:
        chosen = changed[-1]
    state.as_of_day = chosen
    _show_state_on(state, d, chosen)


def show_as_of(state: State, *_: object) -> None:
    """The button's callback: the state of the product as of the day in the date control. Not
    the date control's own on_change: typing a date sends a valid date at every keystroke, and
    the callbacks' answers raced each other's tables (the last one did not always win)."""
    p = portal()
    d = p.descriptors[state.product]
    day = _day(state.as_of_day)
    if not history.is_state_product(d) or day is None or not p.reader.exists(d.id):
        return
    _show_state_on(state, d, day)


def _show_state_on(state: State, d: ProductDescriptor, day: dt.date) -> None:
    p = portal()
    reader = _reader_of(d)
    if reader is None:  # a callback fired by a script, or a grant withdrawn since the page opened
        state.as_of_rows = EMPTY
        state.as_of_note = f"The history of `{d.sql_port}` is for the product's readers."
        return
    rows = history.state_as_of(p.reader, d, day, columns=visible_columns(reader, d))
    state.as_of_rows = rows
    state.as_of_note = (
        f"The state of `{d.sql_port}` as of **{day.isoformat()}**: the versions with "
        f"`valid_from <= {day.isoformat()} < valid_to` (first {len(rows)} rows by key)."
    )
    state.as_of_sql = history.as_of_snippets(d, day, p.settings.lake_url)


def _day(value: object) -> dt.date | None:
    # Taipy's date control hands back a datetime (midnight, local) or, before a choice, None.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            log.warning("as-of day %r is not a date", value)
    return None


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
<|part|id=preview-note|
<|{preview_note}|text|mode=markdown|>
|>

<|{preview}|table|show_all|rebuild|id=preview|>

<|part|render={has_history}|id=history|
### History (a state product: type-2 versions)
The days on which the state changed: versions that began and ended, and how many keys held a
version on that day (what an as-of join of a fact of that day finds).

<|{history_table}|table|page_size=10|rebuild|id=history-table|>

<|layout|columns=auto auto|
<|{as_of_day}|date|label=State as of|id=as-of-day|>

<|Show the state on that day|button|on_action=show_as_of|id=as-of-button|>
|>

<|part|id=as-of-note|
<|{as_of_note}|text|mode=markdown|>
|>

<|{as_of_rows}|table|show_all|rebuild|id=as-of-rows|>

<|part|id=as-of-snippet|
<|{as_of_sql}|text|mode=pre|>
|>
|>

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
