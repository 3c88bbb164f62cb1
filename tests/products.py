"""Where a product's rows of a day are, by its contract's time model (docs/time_model.md): an
events product's own rows of that day; a state product's kept snapshot of that day (the private
model its history is computed from), since its versions span days."""

from __future__ import annotations

from functools import cache

from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.descriptor import load_descriptors


@cache
def day_relation(product: str) -> tuple[str, str]:
    """(`<domain>.<table>`, its day column) holding `product`'s rows of a day."""
    d = load_descriptors()[product]
    if d.time_model is None:
        raise ValueError(f"{product} has no time model")
    if d.time_model.kind == "events":
        return product, str(d.time_model.partition_column)
    nodes = load_manifest()["nodes"]
    node = next(n for n in nodes.values() if n["name"] == d.name and n["resource_type"] == "model")
    for parent in node["depends_on"]["nodes"]:
        kept = nodes.get(parent, {})
        config = kept.get("config", {})
        if config.get("materialized") == "incremental" and kept["fqn"][1] == d.domain:
            return f"{d.domain}.{kept['name']}", str(config["unique_key"])
    raise ValueError(f"{product}: no kept snapshot model among its parents")


def on_days(product: str, days: list[str] | tuple[str, ...], database: str = "lakehouse") -> str:
    """`select * from <the relation of product's days> where <its day column> in days`."""
    relation, column = day_relation(product)
    listed = ", ".join(f"date '{day}'" for day in days)
    return f"select * from {database}.{relation} where {column} in ({listed})"
