"""The sales domain's code location: its spec, handed to the platform's factory."""

import dagster as dg

from domains.sales.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, build_domain_definitions

SPEC = DomainSpec(
    name="sales",
    team="Vendas",
    owner="vendas@wdc.example",
    description=(
        "Orders and order items of every channel. Publishes fct_orders and fct_order_items."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the code location, not at import: the whole-mesh CLI imports SPEC only.
@dg.definitions
def defs() -> dg.Definitions:
    return build_domain_definitions(SPEC)
