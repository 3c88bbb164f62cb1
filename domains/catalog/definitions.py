"""The catalog domain's code location: its spec, handed to the platform's factory."""

from domains.catalog.simulator import ENTITIES
from wdc_orchestration.domain import DomainSpec, build_domain_definitions

SPEC = DomainSpec(
    name="catalog",
    team="Catálogo",
    owner="catalogo@wdc.example",
    description=(
        "Products, categories, prices and stock from the ERP (CSV exports). Publishes dim_products."
    ),
    raw_entities=ENTITIES,
)

defs = build_domain_definitions(SPEC)
