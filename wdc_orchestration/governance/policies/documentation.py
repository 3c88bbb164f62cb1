"""Documentation: every product and every column has a description; every product has an owner,
a purpose and a time model (how its rows relate to days: docs/time_model.md), descriptor and dbt
alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wdc_orchestration.governance.descriptor import TODO, ProductDescriptor
from wdc_orchestration.governance.manifest import model_by_id, squash
from wdc_orchestration.governance.violations import Violation

MIN_LENGTH = 10  # a purpose or product description shorter than this is a placeholder


def check_documentation(
    descriptors: Mapping[str, ProductDescriptor], manifest: Mapping[str, Any]
) -> list[Violation]:
    found: list[Violation] = []
    for d in descriptors.values():
        path = f"domains/{d.domain}/products/{d.name}.yaml"
        if not d.team.owner:
            found.append(
                Violation(
                    d.id,
                    "documentation.owner_missing",
                    "the product has no owner",
                    f"set team.owner (the team's e-mail) in {path}",
                )
            )
        if len(squash(d.description.purpose)) < MIN_LENGTH:
            found.append(
                Violation(
                    d.id,
                    "documentation.purpose_missing",
                    "the product has no purpose",
                    f"say what the product is for under description.purpose in {path}",
                )
            )
        if len(squash(d.table.description)) < MIN_LENGTH:
            found.append(
                Violation(
                    d.id,
                    "documentation.product_description_missing",
                    "the product has no description",
                    f"describe its grain and content in schema[0].description of {path}",
                )
            )
        if d.time_model is None:
            found.append(
                Violation(
                    d.id,
                    "documentation.time_model_missing",
                    "the product does not say how it moves in time",
                    "set the custom property timeModel in "
                    f"{path}: {{kind: events, partitionColumn: <day column>}} for facts, or "
                    "{kind: state, key: [<key columns>]} for a type-2 history "
                    "(docs/time_model.md)",
                )
            )
        node = model_by_id(manifest, d.id) or {}
        dbt_columns = node.get("columns", {})
        for c in d.columns:
            dbt_description = (dbt_columns.get(c.name) or {}).get("description")
            missing = not squash(c.description) or squash(c.description) == TODO
            if missing or (node and not squash(dbt_description)):
                found.append(
                    Violation(
                        d.id,
                        "documentation.column_description_missing",
                        f"column {c.name} has no description",
                        f"describe it in {path} and the same text in the dbt YAML",
                    )
                )
            elif squash(c.description).lower().rstrip(".").replace(" ", "_") == c.name:
                found.append(
                    Violation(
                        d.id,
                        "documentation.column_description_missing",
                        f"column {c.name} is described only by its own name",
                        f"say what {c.name} means, its unit and where it comes from",
                    )
                )
    return found
