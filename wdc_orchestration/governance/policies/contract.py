"""The descriptor is the contract; the dbt YAML must say the same (no drift): same columns in the
same order, types, descriptions, classification (column `meta`), public access with an enforced
contract, the owner, and the quality rules as dbt tests. Plus, with data: the DuckLake table has
the contracted columns and types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.governance.manifest import (
    attached_tests,
    group_owner,
    model_by_id,
    product_models,
    squash,
)
from wdc_orchestration.governance.types import normalise_type
from wdc_orchestration.governance.violations import Violation

YAML_HINT = "dbt_project/models/<domain>/marts/_<domain>__marts.yml"


def _column_drift(
    d: ProductDescriptor, node: Mapping[str, Any], manifest: Mapping[str, Any]
) -> list[Violation]:
    found: list[Violation] = []
    dbt_columns = node.get("columns", {})
    contract_names = [c.name for c in d.columns]
    dbt_names = list(dbt_columns)

    def drift(why: str, fix: str) -> None:
        found.append(Violation(d.id, "contract.drift", why, fix))

    for name in contract_names:
        if name not in dbt_columns:
            drift(
                f"column {name} is in the descriptor but not in the dbt YAML",
                "`wdc contracts sync` (adds it to the dbt YAML), or remove it from the descriptor",
            )
    for name in dbt_names:
        if name not in contract_names:
            drift(
                f"column {name} is in the dbt YAML but not in the descriptor",
                f"describe it in domains/{d.domain}/products/{d.name}.yaml (or drop it)",
            )
    common = [n for n in contract_names if n in dbt_columns]
    if common != [n for n in dbt_names if n in contract_names]:
        drift(
            "columns are in a different order in the descriptor and the dbt YAML",
            "`wdc contracts sync` (orders the dbt columns as the descriptor does)",
        )
    tests = set(attached_tests(manifest, node["unique_id"]))
    for column in d.columns:
        dbt = dbt_columns.get(column.name)
        if dbt is None:
            continue
        meta = dbt.get("meta") or {}
        if normalise_type(dbt.get("data_type") or "") != normalise_type(column.physical_type):
            drift(
                f"column {column.name} is {column.physical_type} in the descriptor but "
                f"{dbt.get('data_type')} in dbt",
                "`wdc contracts sync` (the descriptor is the source of truth)",
            )
        if squash(dbt.get("description")) != squash(column.description):
            drift(
                f"column {column.name} has a different description in dbt",
                "`wdc contracts sync` (copies the descriptor's description into the dbt YAML)",
            )
        expected_class = column.classification.value if column.classification else None
        if meta.get("classification") != expected_class:
            drift(
                f"column {column.name} is classified {expected_class} in the descriptor but "
                f"{meta.get('classification')} in dbt's meta",
                f"`wdc contracts sync` (sets `meta: {{classification: {expected_class}}}` on the "
                "dbt column)",
            )
        expected_privacy = column.privacy.value if column.privacy else None
        if meta.get("privacy") != expected_privacy:
            drift(
                f"column {column.name} has privacy {expected_privacy} in the descriptor but "
                f"{meta.get('privacy')} in dbt's meta",
                "`wdc contracts sync` (makes the column meta `privacy` match the descriptor)",
            )
        constraints = {c.get("type") for c in dbt.get("constraints", [])}
        if (
            column.required
            and "not_null" not in constraints
            and ("not_null", column.name) not in tests
        ):
            drift(
                f"column {column.name} is required but dbt neither constrains nor tests not_null",
                "add a not_null constraint or data test to the dbt column",
            )
        if column.unique and ("unique", column.name) not in tests:
            drift(f"column {column.name} is unique but dbt does not test it", "add a unique test")
    promised = {(q.rule, q.column) for q in d.quality}
    for rule, column in sorted(promised - tests, key=str):
        drift(
            f"quality rule {rule} on {column or 'the model'} has no dbt test",
            "add the test to the dbt YAML or remove the quality item from the descriptor",
        )
    for rule, column in sorted(tests - promised, key=str):
        drift(
            f"dbt test {rule} on {column or 'the model'} is not a quality rule of the descriptor",
            f"promise it in the descriptor: `quality: [{{type: custom, engine: dbt, "
            f"implementation: {rule}}}]` of {column or 'schema[0]'} (consumers rely on what is "
            "promised)",
        )
    return found


def check_contract(
    descriptors: Mapping[str, ProductDescriptor], manifest: Mapping[str, Any]
) -> list[Violation]:
    found: list[Violation] = []
    public = product_models(manifest)
    for product_id in sorted(set(public) - set(descriptors)):
        found.append(
            Violation(
                product_id,
                "contract.missing_descriptor",
                "the dbt model is public (a data product) but has no descriptor",
                f"add domains/{product_id.split('.')[0]}/products/{product_id.split('.')[1]}.yaml"
                " or make the model private",
            )
        )
    for d in descriptors.values():
        node = model_by_id(manifest, d.id)
        if node is None:
            found.append(
                Violation(
                    d.id,
                    "contract.missing_model",
                    f"no dbt model {d.name} under models/{d.domain}/",
                    "build the model or remove the descriptor",
                )
            )
            continue
        if node.get("access") != "public":
            found.append(
                Violation(
                    d.id,
                    "contract.not_public",
                    f"the dbt model has access {node.get('access')}, but a product is public",
                    f"set `access: public` on {d.name} in {YAML_HINT}",
                )
            )
        if not (node.get("config", {}).get("contract") or {}).get("enforced"):
            found.append(
                Violation(
                    d.id,
                    "contract.not_enforced",
                    "the dbt contract is not enforced, so the SQL may drift from the descriptor",
                    f"set `contract: {{enforced: true}}` on {d.name} in {YAML_HINT}",
                )
            )
        if squash(node.get("description")) != squash(d.table.description):
            found.append(
                Violation(
                    d.id,
                    "contract.drift",
                    "the model description differs between the descriptor and dbt",
                    "`wdc contracts sync` (copies schema[0].description into the dbt YAML)",
                )
            )
        owner = group_owner(manifest, node.get("group"))
        if owner != d.team.owner:
            found.append(
                Violation(
                    d.id,
                    "contract.drift",
                    f"owner {d.team.owner!r} in the descriptor but dbt group {node.get('group')}"
                    f" is owned by {owner!r}",
                    "make the descriptor's team member with role owner the domain group's owner "
                    "e-mail",
                )
            )
        found.extend(_column_drift(d, node, manifest))
    return found


def check_table_matches_contract(
    d: ProductDescriptor, actual: Mapping[str, str] | None
) -> list[Violation]:
    """`actual`: column -> type of the built DuckLake table (None: not built yet)."""
    if actual is None:
        return []
    found = []
    expected = {c.name: normalise_type(c.physical_type) for c in d.columns}
    got = {name: normalise_type(kind) for name, kind in actual.items()}
    if list(expected) != list(got):
        found.append(
            Violation(
                d.id,
                "contract.table_drift",
                f"{d.sql_port} has columns {list(got)}, the contract {list(expected)}",
                "rebuild the model (dbt build --full-refresh -s <model>) so it matches",
            )
        )
    for name, kind in expected.items():
        if name in got and got[name] != kind:
            found.append(
                Violation(
                    d.id,
                    "contract.table_drift",
                    f"{d.sql_port}.{name} is {got[name]}, the contract says {kind}",
                    "rebuild the model with --full-refresh so the table takes the contracted type",
                )
            )
    return found
