"""Access requests: a consumer domain asks to read a product, with a purpose; the product's owner
approves or rejects. A request is a pending change to the product's allowed consumers; an
approved one is a *grant*, which the contract shows beside the descriptor's `consumers` and the
security policy accepts (policies/security.py).

On the lake, immutable objects (no read-modify-write race between two portal users, and the
trail of who asked and who decided stays as it was written):

    governance/access_requests/<request id>/request.json    who, when, product, consumer, purpose
    governance/access_requests/<request id>/decision.json   who, when, approved|rejected, note

A request without a decision is pending; a second decision on a request is refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.resources.lake import LakeStorage

PREFIX = "governance/access_requests"
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


def _key(request_id: str, name: str) -> str:
    return f"{PREFIX}/{request_id}/{name}"


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
) -> AccessRequest:
    """The owner's decision: only the product's owner (its team e-mail) may decide, once."""
    request = load_request(lake, request_id)
    if request is None:
        raise AccessRequestError(f"no access request {request_id}")
    if request.product != product.id:
        raise AccessRequestError(f"request {request_id} is for {request.product}, not {product.id}")
    if request.status != PENDING:
        raise AccessRequestError(f"request {request_id} was already {request.status}")
    if decided_by.strip().lower() != product.team.owner.lower():
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
    ids = sorted({key.split("/")[2] for key in lake.list_keys(PREFIX + "/") if key.count("/") == 3})
    found = [r for r in (load_request(lake, i) for i in ids) if r is not None]
    return [r for r in found if product is None or r.product == product]


def approved_grants(lake: LakeStorage) -> dict[str, frozenset[str]]:
    """Product id -> the consumer domains an approved request added."""
    grants: dict[str, set[str]] = {}
    for request in list_requests(lake):
        if request.status == APPROVED:
            grants.setdefault(request.product, set()).add(request.consumer)
    return {product: frozenset(domains) for product, domains in grants.items()}


def effective_consumers(
    product: ProductDescriptor, grants: Mapping[str, frozenset[str]]
) -> list[str]:
    """The descriptor's consumers and the approved requests' (what the contract shows)."""
    return sorted(set(product.consumers) | set(grants.get(product.id, ())))
