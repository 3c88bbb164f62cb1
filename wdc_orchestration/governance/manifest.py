"""What the policies need from dbt's manifest: which domain a node belongs to, the products (public
models), and the tests attached to a model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Node = Mapping[str, Any]


def node_domain(node: Node) -> str | None:
    """models/<domain>/... for models and their YAML tests; `<domain>_raw` for sources."""
    if node.get("resource_type") == "source":
        return str(node["source_name"]).removesuffix("_raw")
    parts = str(node.get("original_file_path", "")).split("/")
    if len(parts) > 2 and parts[0] == "models":
        return parts[1]
    return None


def node_label(node: Node) -> str:
    """`<domain>.<model>` for a model, `<domain>_raw.<table>` for a source."""
    if node.get("resource_type") == "source":
        return f"{node['source_name']}.{node['name']}"
    return f"{node_domain(node)}.{node['name']}"


def all_nodes(manifest: Mapping[str, Any]) -> dict[str, Node]:
    return {**manifest.get("nodes", {}), **manifest.get("sources", {})}


def is_latest_version(node: Node) -> bool:
    """A model without versions, or the latest_version of a versioned one (dbt model versions:
    one version per major of a product's contract; the older ones are still served until their
    deprecation_date)."""
    return node.get("version") is None or str(node["version"]) == str(node.get("latest_version"))


def models(manifest: Mapping[str, Any]) -> Iterator[Node]:
    """The models, a versioned one at its latest version (the product its descriptor describes)."""
    return (
        n
        for n in manifest.get("nodes", {}).values()
        if n["resource_type"] == "model" and is_latest_version(n)
    )


def product_models(manifest: Mapping[str, Any]) -> dict[str, Node]:
    """Product id (`<domain>.<model>`) -> dbt node, for every public model."""
    return {node_label(n): n for n in models(manifest) if n.get("access") == "public"}


def model_by_id(manifest: Mapping[str, Any], product_id: str) -> Node | None:
    domain, _, name = product_id.partition(".")
    return next(
        (n for n in models(manifest) if n["name"] == name and node_domain(n) == domain), None
    )


def attached_tests(manifest: Mapping[str, Any], unique_id: str) -> list[tuple[str, str | None]]:
    """(test name, column or None) of the generic tests attached to a model."""
    tests = []
    for node in manifest.get("nodes", {}).values():
        if node["resource_type"] != "test" or node.get("attached_node") != unique_id:
            continue
        metadata = node.get("test_metadata") or {}
        if metadata.get("name"):
            tests.append((metadata["name"], node.get("column_name")))
    return sorted(tests, key=lambda t: (t[1] or "", t[0]))


def group_owner(manifest: Mapping[str, Any], group: str | None) -> str | None:
    for g in manifest.get("groups", {}).values():
        if g["name"] == group:
            return (g.get("owner") or {}).get("email")
    return None


def domains(manifest: Mapping[str, Any]) -> set[str]:
    return {g["name"] for g in manifest.get("groups", {}).values()}


def raw_entities(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """domain -> the raw entities it lands (its `<domain>_raw` dbt sources)."""
    entities: dict[str, list[str]] = {}
    for source in manifest.get("sources", {}).values():
        if str(source["source_name"]).endswith("_raw"):
            entities.setdefault(node_domain(source) or "", []).append(source["name"])
    return {domain: sorted(names) for domain, names in entities.items()}


def squash(text: str | None) -> str:
    """Whitespace-insensitive text (YAML folding changes line breaks, not meaning)."""
    return " ".join((text or "").split())
