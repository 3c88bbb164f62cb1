"""The sales domain's code location: its spec; the platform builds the rest."""

from domains.sales.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, code_location

SPEC = DomainSpec(
    name="sales",
    team="Vendas",
    owner="vendas@wdc.example",
    description=(
        "Orders and order items of every channel. Publishes fct_orders and fct_order_items."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the location, not at import: the whole-mesh CLI imports SPEC only.
defs = code_location(SPEC)
