"""Access requests: a consumer domain asks to read a product, with a purpose; the product's owner
approves or rejects. A request is a pending change to the product's allowed consumers; an
approved one is a *grant*, which the contract shows beside the descriptor's `consumers` and the
security policy accepts (policies/security.py).

On the lake, immutable objects (no read-modify-write race between two portal users, and the
trail of who asked and who decided stays as it was written):

    governance/access_requests/<request id>/request.json    who, when, product, consumer, purpose
    governance/access_requests/<request id>/decision.json   who, when, approved|rejected, note

    governance/audit/access_decisions/<decided at>-<request id>.json   the audit record of a
                                                                    decision: who, when, what, why

A request without a decision is pending; a second decision on a request is refused. A request
id is the pattern `file_request` makes (`REQUEST_ID`), checked before it reaches a key: the id
arrives from a browser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tempfile
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.resources.lake import LakeStorage

PREFIX = "governance/access_requests"
AUDIT_PREFIX = "governance/audit/access_decisions"
# What file_request makes: UTC time, then 8 hex digits of a UUID.
REQUEST_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class AccessRequestError(ValueError):
    """A request or a decision the rules refuse (unknown product, not the owner, decided)."""


@dataclass(frozen=True)
class AccessRequest:
    request_id: str
    product: str  # product id, <domain>.<name>
    consumer: str  # the domain whose models will read the product
    requested_by: str  # e-mail of the person asking
    purpose: str
    requested_at: str  # ISO 8601, UTC
    status: str = PENDING
    decided_by: str | None = None
    decided_at: str | None = None
    note: str = ""


def check_request_id(request_id: object) -> str:
    """The id when it has the shape file_request makes, else `AccessRequestError`."""
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise AccessRequestError(f"{request_id!r} is not an access request id")
    return request_id


def _key(request_id: str, name: str) -> str:
    return f"{PREFIX}/{check_request_id(request_id)}/{name}"


def _put(lake: LakeStorage, key: str, data: Mapping[str, object]) -> None:
    with tempfile.TemporaryDirectory(prefix="wdc-access-") as scratch:
        lake.put_bytes(json.dumps(data, indent=2).encode(), key, Path(scratch))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def file_request(
    lake: LakeStorage,
    product: ProductDescriptor,
    consumer: str,
    requested_by: str,
    purpose: str,
    domains: set[str],
) -> AccessRequest:
    """Record a pending request of `consumer` (a domain of the mesh) to read `product`."""
    if consumer not in domains or consumer == product.domain:
        raise AccessRequestError(
            f"{consumer!r} is not another domain of the mesh ({sorted(domains - {product.domain})})"
        )
    if not purpose.strip():
        raise AccessRequestError("say what the data is for: the purpose is required (LGPD)")
    if not requested_by.strip():
        raise AccessRequestError("who is asking? the requester's e-mail is required")
    if consumer in product.consumers:
        raise AccessRequestError(f"{consumer} already reads {product.id}")
    request = AccessRequest(
        request_id=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8],
        product=product.id,
        consumer=consumer,
        requested_by=requested_by.strip(),
        purpose=purpose.strip(),
        requested_at=_now(),
    )
    fields = ("request_id", "product", "consumer", "requested_by", "purpose", "requested_at")
    _put(lake, _key(request.request_id, "request.json"), {f: getattr(request, f) for f in fields})
    return request


def decide(
    lake: LakeStorage,
    request_id: str,
    product: ProductDescriptor,
    decided_by: str,
    approve: bool,
    note: str = "",
    *,
    decider_domains: Collection[str] | None = None,
) -> AccessRequest:
    """The owner's decision, once. With `decider_domains` (the signed-in portal user's domains)
    only a member of the product's owning domain decides; without (the platform's own callers),
    the product's owner e-mail. Every decision also leaves an audit record (who, when, what,
    why) under `AUDIT_PREFIX`."""
    request = load_request(lake, request_id)
    if request is None:
        raise AccessRequestError(f"no access request {request_id}")
    if request.product != product.id:
        raise AccessRequestError(f"request {request_id} is for {request.product}, not {product.id}")
    if request.status != PENDING:
        raise AccessRequestError(f"request {request_id} was already {request.status}")
    if not decided_by.strip():
        raise AccessRequestError("who decides? the decider is required")
    if decider_domains is not None:
        if product.domain not in decider_domains:
            raise AccessRequestError(
                f"only a member of {product.domain} (the owner of {product.id}) decides who "
                "reads it"
            )
    elif decided_by.strip().lower() != product.team.owner.lower():
        raise AccessRequestError(
            f"only {product.id}'s owner ({product.team.owner}) decides who reads it"
        )
    decision = {
        "status": APPROVED if approve else REJECTED,
        "decided_by": decided_by.strip(),
        "decided_at": _now(),
        "note": note.strip(),
    }
    _put(lake, _key(request_id, "decision.json"), decision)
    audit = {
        "who": decision["decided_by"],
        "when": decision["decided_at"],
        "what": f"{'approve' if approve else 'reject'} {request.consumer} reading {product.id}",
        "action": "approve" if approve else "reject",
        "request_id": request_id,
        "product": product.id,
        "consumer": request.consumer,
        "why": decision["note"],
    }
    stamp = decision["decided_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    _put(lake, f"{AUDIT_PREFIX}/{stamp}-{request_id}.json", audit)
    return dataclasses.replace(request, **decision)


def load_request(lake: LakeStorage, request_id: str) -> AccessRequest | None:
    key = _key(request_id, "request.json")
    if not lake.exists(key):
        return None
    data = json.loads(lake.read_bytes(key))
    decision_key = _key(request_id, "decision.json")
    if lake.exists(decision_key):
        data.update(json.loads(lake.read_bytes(decision_key)))
    return AccessRequest(**data)


def list_requests(lake: LakeStorage, product: str | None = None) -> list[AccessRequest]:
    """Every request (of one product), oldest first."""
    ids = sorted(
        {
            key.split("/")[2]
            for key in lake.list_keys(PREFIX + "/")
            if key.count("/") == 3 and REQUEST_ID.match(key.split("/")[2])
        }
    )
    found = [r for r in (load_request(lake, i) for i in ids) if r is not None]
    return [r for r in found if product is None or r.product == product]


def approved_grants(lake: LakeStorage) -> dict[str, frozenset[str]]:
    """Product id -> the consumer domains an approved request added."""
    grants: dict[str, set[str]] = {}
    for request in list_requests(lake):
        if request.status == APPROVED:
            grants.setdefault(request.product, set()).add(request.consumer)
    return {product: frozenset(domains) for product, domains in grants.items()}
