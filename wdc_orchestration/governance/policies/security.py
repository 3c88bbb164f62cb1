"""Security / access management: a domain reads another domain only through a public product
that lists it as an allowed consumer. dbt's groups and `access: private` already refuse a private
cross-group ref at parse time; this adds the consumer lists and the raw sources, over every
model and test of the manifest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.governance.manifest import (
    all_nodes,
    domains,
    is_latest_version,
    model_by_id,
    node_domain,
    node_label,
)
from wdc_orchestration.governance.violations import Violation

_READERS = {"model", "test", "snapshot", "seed"}


def _owner_label(node: Mapping[str, Any], nodes: Mapping[str, Any]) -> str:
    """A test is reported against the model it tests (that is where the read happens)."""
    attached = nodes.get(node.get("attached_node") or "")
    return node_label(attached if attached else node)


def _retired(parent: Mapping[str, Any], today: dt.date) -> bool:
    """An older major of a versioned product past its deprecation date: lakehouse/wap.py has dropped
    its relation (a ref pinned to a major that does not exist at all fails dbt's parse instead)."""
    if parent.get("version") is None or is_latest_version(parent):
        return False
    until = parent.get("deprecation_date")
    return bool(until) and today > dt.date.fromisoformat(str(until)[:10])


def _reads(
    node: Mapping[str, Any], nodes: Mapping[str, Any], descriptors: Mapping[str, ProductDescriptor]
) -> dict[str, int]:
    """The products of other domains a product's model reads, through its own domain's models,
    each at the major it reads (a ref's version, else the product's latest major)."""
    own, seen, reads = node_domain(node), set(), {}
    stack = list(node.get("depends_on", {}).get("nodes", []))
    while stack:
        parent = nodes.get(stack.pop())
        if parent is None or parent["unique_id"] in seen or parent["resource_type"] != "model":
            continue
        seen.add(parent["unique_id"])
        if node_domain(parent) == own:
            stack.extend(parent.get("depends_on", {}).get("nodes", []))
            continue
        target = node_label(parent)
        product = descriptors.get(target)
        version = parent.get("version")
        major = int(version) if version is not None else (product.major if product else 0)
        reads[target] = major
    return reads


def _dependency_violations(
    d: ProductDescriptor,
    manifest: Mapping[str, Any],
    descriptors: Mapping[str, ProductDescriptor],
    today: dt.date,
) -> list[Violation]:
    """A consumer's declared `dependencies` name the major its dbt models read (moving to a new
    major is a change of both, checked here), and only majors that exist."""
    if d.dependencies is None:
        return []
    node = model_by_id(manifest, d.id)
    if node is None:
        return []
    path = f"domains/{d.domain}/products/{d.name}.yaml"
    reads = _reads(node, all_nodes(manifest), descriptors)
    declared = {dep.product: dep.major for dep in d.dependencies}
    found = []
    for product, major in sorted(declared.items()):
        producer = descriptors.get(product)
        served = {producer.major} if producer else set()
        served |= {
            int(n["version"])
            for n in manifest.get("nodes", {}).values()
            if n["resource_type"] == "model"
            and node_label(n) == product
            and n.get("version") is not None
            and not _retired(n, today)
        }
        if major not in served:
            found.append(
                Violation(
                    d.id,
                    "security.unknown_major",
                    f"depends on {product} v{major}, which is not served "
                    f"(served: {', '.join(f'v{m}' for m in sorted(served)) or 'none'})",
                    f"declare a served major of {product} in {path}, and ref it with v=",
                )
            )
        elif reads.get(product) != major:
            got = f"v{reads[product]}" if product in reads else "nothing of it"
            found.append(
                Violation(
                    d.id,
                    "security.dependency_mismatch",
                    f"declares it reads {product} v{major}, its dbt models read {got}",
                    f"make dependencies in {path} and the model's ref('{product.split('.')[1]}',"
                    " v=...) name the same major",
                )
            )
    for product, major in sorted(reads.items()):
        if product not in declared:
            found.append(
                Violation(
                    d.id,
                    "security.dependency_mismatch",
                    f"reads {product} v{major}, not in its declared dependencies",
                    f"add {{product: {product}, major: {major}}} to dependencies in {path}",
                )
            )
    return found


def check_security(
    descriptors: Mapping[str, ProductDescriptor],
    manifest: Mapping[str, Any],
    grants: Mapping[str, Iterable[str]] | None = None,
    today: dt.date | None = None,
) -> list[Violation]:
    """`grants`: product id -> consumer domains added by approved access requests (on the lake,
    governance/access_requests.py); they count as allowed consumers, like the descriptor's.
    A ref pinned to an older major (`ref('fct_orders', v=1)`) resolves to the same product, and
    fails once that major is retired (`today` past its deprecation date)."""
    grants = grants or {}
    today = today or dt.date.today()
    found: list[Violation] = []
    nodes = all_nodes(manifest)
    known = domains(manifest)
    for d in descriptors.values():
        if not d.consumers_decided:
            found.append(
                Violation(
                    d.id,
                    "security.consumers_undecided",
                    "the allowed consumers are not decided (customProperties allowedConsumers "
                    "is TODO or missing)",
                    f"list the domains that may read it as allowedConsumers in "
                    f"domains/{d.domain}/products/{d.name}.yaml ([] for none yet)",
                )
            )
        for consumer in d.consumers:
            if consumer not in known or consumer == d.domain:
                found.append(
                    Violation(
                        d.id,
                        "security.unknown_consumer",
                        f"allowed consumer {consumer!r} is not another domain of the mesh",
                        f"list only other domains ({sorted(known - {d.domain})}) as "
                        "allowedConsumers",
                    )
                )
        found.extend(_dependency_violations(d, manifest, descriptors, today))
    for node in manifest.get("nodes", {}).values():
        if node["resource_type"] not in _READERS:
            continue
        reader = node_domain(node)
        if reader is None:
            continue
        for parent_id in node.get("depends_on", {}).get("nodes", []):
            parent = nodes.get(parent_id)
            if parent is None:
                continue
            owner = node_domain(parent)
            if owner is None or owner == reader:
                continue
            who = _owner_label(node, nodes)
            target = node_label(parent)
            if parent["resource_type"] == "source":
                found.append(
                    Violation(
                        who,
                        "security.cross_domain_source",
                        f"{reader} reads {owner}'s raw source {target} directly",
                        f"read {owner}'s data product instead (and ask {owner} to list {reader} "
                        "as a consumer)",
                    )
                )
            elif parent.get("access") != "public":
                found.append(
                    Violation(
                        who,
                        "security.private_model_ref",
                        f"{reader} refs {owner}'s {parent.get('access')} model {target}",
                        f"ref a public product of {owner}; private models are not an interface",
                    )
                )
            else:
                product = descriptors.get(target)
                if product is None:
                    found.append(
                        Violation(
                            who,
                            "security.uncontracted_product",
                            f"{reader} refs {target}, a public model without a descriptor",
                            f"{owner} must describe {target} in domains/{owner}/products/",
                        )
                    )
                elif _retired(parent, today):
                    found.append(
                        Violation(
                            who,
                            "security.retired_major",
                            f"{reader} reads {target} v{parent['version']}, retired after "
                            f"{str(parent['deprecation_date'])[:10]} (its relation and port "
                            "are gone)",
                            f"read the latest major: ref('{parent['name']}', "
                            f"v={parent.get('latest_version')}) (see `wdc contracts diff "
                            f"--product {target}` for what changed)",
                        )
                    )
                elif reader not in {*product.consumers, *grants.get(product.id, ())}:
                    found.append(
                        Violation(
                            who,
                            "security.consumer_not_allowed",
                            f"{reader} reads {target}, whose allowed consumers are "
                            f"{product.consumers or 'none'}",
                            f"ask {owner} to add {reader} to allowedConsumers in {target}'s "
                            "descriptor, or stop reading it",
                        )
                    )
    return sorted(set(found))
