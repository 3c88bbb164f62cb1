"""Access requests: a consumer asks to read a product for a purpose; the product's owner
approves or rejects. There is no login in the portal yet: "you are" is the e-mail the person
acts as, checked against the product's owner for a decision (docs/portal.md says so)."""

from __future__ import annotations

import pandas as pd
from taipy.gui import Markdown, State, notify

from wdc_orchestration.governance.access_requests import (
    AccessRequestError,
    decide,
    file_request,
    list_requests,
)
from wdc_portal.context import portal

COLUMNS = ["request", "product", "consumer", "requested by", "purpose", "requested at", "status",
           "decided by", "decided at", "note"]  # fmt: skip

user = ""
product_options: list[str] = []
domain_options: list[str] = []
product = ""
consumer = ""
purpose = ""
requests = pd.DataFrame(columns=COLUMNS)
pending_options: list[str] = []
pending = ""
note = ""
who_decides = ""


def load(state: State, params: dict[str, str]) -> None:
    p = portal()
    state.product_options = sorted(p.descriptors)
    state.domain_options = p.domains
    if params.get("product") in p.descriptors:
        state.product = params["product"]
    refresh(state)


def refresh(state: State) -> None:
    p = portal()
    found = list_requests(p.lake)
    state.requests = pd.DataFrame(
        [
            [r.request_id, r.product, r.consumer, r.requested_by, r.purpose, r.requested_at,
             r.status, r.decided_by or "", r.decided_at or "", r.note]
            for r in reversed(found)
        ],
        columns=COLUMNS,
    )  # fmt: skip
    waiting = [r for r in found if r.status == "pending"]
    state.pending_options = [f"{r.request_id} · {r.consumer} → {r.product}" for r in waiting]
    state.pending = state.pending_options[0] if state.pending_options else ""
    owners = {r.product: p.descriptors[r.product].team.owner for r in waiting}
    state.who_decides = (
        "; ".join(f"{product}: {owner}" for product, owner in sorted(owners.items()))
        or "nothing is waiting for a decision"
    )


def request_access(state: State, *_: object) -> None:
    p = portal()
    if state.product not in p.descriptors:
        notify(state, "error", "choose a product")
        return
    try:
        request = file_request(
            p.lake, p.descriptors[state.product], state.consumer, state.user, state.purpose,
            set(p.domains),
        )  # fmt: skip
    except AccessRequestError as error:
        notify(state, "error", str(error))
        return
    state.purpose = ""
    notify(state, "success", f"request {request.request_id} filed: waiting for the owner")
    refresh(state)


def _decide(state: State, approve: bool) -> None:
    p = portal()
    if not state.pending:
        notify(state, "error", "no pending request selected")
        return
    request_id = state.pending.split(" · ", 1)[0]
    product_id = state.pending.rsplit(" → ", 1)[1]
    try:
        done = decide(
            p.lake, request_id, p.descriptors[product_id], state.user, approve, state.note
        )
    except AccessRequestError as error:
        notify(state, "error", str(error))
        return
    state.note = ""
    notify(state, "success", f"request {done.request_id} {done.status}")
    refresh(state)


def approve(state: State, *_: object) -> None:
    _decide(state, True)


def reject(state: State, *_: object) -> None:
    _decide(state, False)


page = Markdown(
    """
# Access requests

<|{user}|input|label=You are (e-mail)|change_delay=0|id=user|>

<|layout|columns=1 1|
<|part|
### Ask for access
<|{product}|selector|lov={product_options}|dropdown|label=Data product|id=request-product|>

<|{consumer}|selector|lov={domain_options}|dropdown|label=For the models of domain|id=request-consumer|>

<|{purpose}|input|label=Purpose (what the data is for)|multiline|change_delay=0|id=request-purpose|>

<|Request access|button|on_action=request_access|id=request-button|>
|>

<|part|
### Decide (the product's owner)
Owners: <|{who_decides}|text|id=who-decides|>

<|{pending}|selector|lov={pending_options}|dropdown|label=Pending request|id=pending-request|>

<|{note}|input|label=Note|change_delay=0|id=decision-note|>

<|Approve|button|on_action=approve|id=approve-button|> <|Reject|button|on_action=reject|id=reject-button|>
|>
|>

### All requests
<|{requests}|table|show_all|id=requests|>
"""
)
