"""Access requests: a consumer domain's member asks to read a product for a purpose; a member of
the product's owning domain approves or rejects it, with a note. Who asks and who decides is the
signed-in user (auth/signin.py), never a typed name; each decision is an audit record on the
lake (governance/access_requests.py)."""

from __future__ import annotations

import logging

import pandas as pd
from taipy.gui import Markdown, State, notify

from wdc_orchestration.governance.access_requests import (
    PENDING,
    AccessRequest,
    AccessRequestError,
    decide,
    file_request,
    list_requests,
)
from wdc_portal.auth.rules import User, may_decide, request_domains
from wdc_portal.auth.signin import signed_in
from wdc_portal.context import portal

log = logging.getLogger(__name__)

COLUMNS = ["request", "product", "consumer", "requested by", "purpose", "requested at", "status",
           "decided by", "decided at", "note"]  # fmt: skip

you = ""
product_options: list[str] = []
domain_options: list[str] = []
product = ""
consumer = ""
purpose = ""
requests = pd.DataFrame(columns=COLUMNS)
pending_options: list[str] = []
pending = ""
note = ""
decide_help = ""


def _concerns(user: User | None, request: AccessRequest) -> bool:
    """A request the user sees: asked for one of their domains, or for a product they own."""
    if user is None:
        return False
    owner = request.product.split(".", 1)[0]
    return bool({request.consumer, owner} & user.domains)


def load(state: State, params: dict[str, str]) -> None:
    p = portal()
    user = signed_in()
    state.product_options = sorted(p.descriptors)
    if params.get("product") in p.descriptors:
        state.product = params["product"]
    state.domain_options = sorted(user.domains) if user else []
    state.you = (
        f"You are **{user.username}**, of {', '.join(sorted(user.domains)) or 'no domain'}."
        if user
        else ""
    )
    refresh(state)


def refresh(state: State) -> None:
    p = portal()
    user = signed_in()
    found = [r for r in list_requests(p.lake) if _concerns(user, r)]
    state.requests = pd.DataFrame(
        [
            [r.request_id, r.product, r.consumer, r.requested_by, r.purpose, r.requested_at,
             r.status, r.decided_by or "", r.decided_at or "", r.note]
            for r in reversed(found)
        ],
        columns=COLUMNS,
    )  # fmt: skip
    waiting = [
        r for r in found
        if r.status == PENDING and r.product in p.descriptors
        and may_decide(user, p.descriptors[r.product])
    ]  # fmt: skip
    state.pending_options = [f"{r.request_id} · {r.consumer} → {r.product}" for r in waiting]
    state.pending = state.pending_options[0] if state.pending_options else ""
    owned = sorted(user.domains) if user else []
    state.decide_help = (
        f"Requests for the products of {', '.join(owned)} wait here for you."
        if owned
        else "Only a member of a product's owning domain decides; you are of no domain."
    )


def request_access(state: State, *_: object) -> None:
    p = portal()
    user = signed_in()
    if state.product not in p.descriptors:
        notify(state, "error", "choose a product")
        return
    wanted = p.descriptors[state.product]
    if user is None or state.consumer not in request_domains(user, wanted):
        notify(state, "error", "ask for one of your own domains (not the product's owner)")
        return
    try:
        request = file_request(
            p.lake, wanted, state.consumer, user.username, state.purpose, set(p.domains)
        )
    except AccessRequestError as error:
        notify(state, "error", str(error))
        return
    state.purpose = ""
    notify(state, "success", f"request {request.request_id} filed: waiting for the owner")
    refresh(state)


def _decide(state: State, approve: bool) -> None:
    p = portal()
    user = signed_in()
    if user is None or not state.pending:
        notify(state, "error", "no pending request selected")
        return
    # The selection is browser-written text: only its id is taken, and the request (its
    # product included) is read back from the lake.
    request_id = str(state.pending).split(" · ", 1)[0]
    try:
        request = next((r for r in list_requests(p.lake) if r.request_id == request_id), None)
        if request is None or request.product not in p.descriptors:
            raise AccessRequestError(f"no access request {request_id[:40]!r}")
        done = decide(
            p.lake, request.request_id, p.descriptors[request.product], user.username, approve,
            state.note, decider_domains=user.domains,
        )  # fmt: skip
    except AccessRequestError as error:
        log.warning("decision refused for %s: %s", user.username, error)
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

<|{you}|text|mode=markdown|id=you|>

<|layout|columns=1 1|
<|part|
### Ask for access
<|{product}|selector|lov={product_options}|dropdown|label=Data product|id=request-product|>

<|{consumer}|selector|lov={domain_options}|dropdown|label=For the models of your domain|id=request-consumer|>

<|{purpose}|input|label=Purpose (what the data is for)|multiline|change_delay=0|id=request-purpose|>

<|Request access|button|on_action=request_access|id=request-button|>
|>

<|part|
### Decide (the product's owning domain)
<|{decide_help}|text|id=decide-help|>

<|{pending}|selector|lov={pending_options}|dropdown|label=Pending request|id=pending-request|>

<|{note}|input|label=Note (why)|change_delay=0|id=decision-note|>

<|Approve|button|on_action=approve|id=approve-button|> <|Reject|button|on_action=reject|id=reject-button|>
|>
|>

### Requests of your domains
<|{requests}|table|show_all|id=requests|>
"""
)
