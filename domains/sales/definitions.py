"""The sales domain's code location: its spec, handed to the platform's factory."""

from domains.sales.simulator import ENTITIES
from wdc_orchestration.domain import DomainSpec, build_domain_definitions

SPEC = DomainSpec(
    name="sales",
    team="Vendas",
    owner="vendas@wdc.example",
    description=(
        "Orders and order items of every channel. Publishes fct_orders and fct_order_items."
    ),
    raw_entities=ENTITIES,
)

defs = build_domain_definitions(SPEC)
