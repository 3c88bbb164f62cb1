"""Interoperability: snake_case names; money as DECIMAL(18,2) in BRL; timestamps as UTC
`timestamp with time zone`; the shared keys (customer, order, product) with the same name and
type in every domain; logical and physical types that agree."""

from __future__ import annotations

import re
from collections.abc import Mapping

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.governance.types import MONEY_TYPE, TIMESTAMP_TYPE, normalise_type
from wdc_orchestration.governance.violations import Violation

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MONEY_NAME = re.compile(r"(^|_)(amount|price|revenue|cost|brl)($|_)")
TIMESTAMP_NAME = re.compile(r"_(at|ts)$")
# The shared keys, the product that owns each, and names that mean the same key.
SHARED_KEYS = {
    "customer_id": "customers.dim_customers",
    "order_id": "sales.fct_orders",
    "product_id": "catalog.dim_products",
}
KEY_ALIASES = {
    "customer_id": {"id_cliente", "cliente_id", "cust_id", "customer_key", "client_id"},
    "order_id": {"id_pedido", "pedido_id", "order_key", "order_number"},
    "product_id": {"id_produto", "produto_id", "product_key", "prod_id"},
}
_LOGICAL = {
    "integer": {"tinyint", "smallint", "integer", "bigint", "hugeint"},
    "boolean": {"boolean"},
    "date": {"date"},
    "string": {"varchar", "uuid"},
}


def _logical_matches(logical: str, physical: str) -> bool:
    if logical == "number":
        return physical.startswith("decimal") or physical in {"double", "float"}
    if logical == "timestamp":
        return physical.startswith("timestamp")
    return physical in _LOGICAL.get(logical, set())


def check_interoperability(descriptors: Mapping[str, ProductDescriptor]) -> list[Violation]:
    found: list[Violation] = []
    for d in descriptors.values():
        path = f"domains/{d.domain}/products/{d.name}.yaml"
        if not SNAKE_CASE.match(d.name):
            found.append(
                Violation(
                    d.id,
                    "interoperability.naming",
                    f"product name {d.name!r} is not snake_case",
                    "rename the model (and the descriptor) in snake_case",
                )
            )
        for c in d.columns:
            physical = normalise_type(c.physical_type)
            if not SNAKE_CASE.match(c.name):
                found.append(
                    Violation(
                        d.id,
                        "interoperability.naming",
                        f"column {c.name!r} is not snake_case",
                        "rename it in snake_case (a major version bump if already published)",
                    )
                )
            is_money = c.unit is not None or MONEY_NAME.search(c.name)
            if is_money and (physical != MONEY_TYPE or c.unit != "BRL"):
                found.append(
                    Violation(
                        d.id,
                        "interoperability.money",
                        f"money column {c.name} is {physical}"
                        + (f" in {c.unit}" if c.unit else " without a unit")
                        + f"; the mesh's money is {MONEY_TYPE} in BRL",
                        f"cast it to decimal(18, 2) in the model and set physicalType: "
                        f"{MONEY_TYPE} and the custom property unit: BRL in {path} (floats lose "
                        "cents)",
                    )
                )
            is_time = (
                c.logical_type == "timestamp"
                or physical.startswith("timestamp")
                or TIMESTAMP_NAME.search(c.name)
            )
            if is_time and (physical != TIMESTAMP_TYPE or c.logical_type != "timestamp"):
                found.append(
                    Violation(
                        d.id,
                        "interoperability.timestamp",
                        f"timestamp column {c.name} is {physical} ({c.logical_type}); the mesh's "
                        f"timestamps are UTC {TIMESTAMP_TYPE}",
                        f"cast it to timestamptz in the model; logicalType: date, "
                        f"physicalType: {TIMESTAMP_TYPE}",
                    )
                )
            elif not _logical_matches(c.logical_type, physical):
                found.append(
                    Violation(
                        d.id,
                        "interoperability.logical_type",
                        f"column {c.name} is logically {c.logical_type} but physically {physical}",
                        f"make logicalType and physicalType of {c.name} agree in {path}",
                    )
                )
            for key, aliases in KEY_ALIASES.items():
                if c.name in aliases:
                    found.append(
                        Violation(
                            d.id,
                            "interoperability.shared_key_name",
                            f"column {c.name} is the shared {key} under another name",
                            f"name it {key}, as every domain does",
                        )
                    )
            owner = descriptors.get(SHARED_KEYS.get(c.name, ""))
            reference = owner.column(c.name) if owner else None
            if reference and owner is not d:
                reference_type = normalise_type(reference.physical_type)
                if physical != reference_type:
                    found.append(
                        Violation(
                            d.id,
                            "interoperability.shared_key_type",
                            f"shared key {c.name} is {physical} here but {reference_type} in "
                            f"{owner.id}, which owns it",
                            f"publish {c.name} as {reference_type}, exactly like {owner.id}",
                        )
                    )
    return found
