"""The catalog domain's code location: its spec, handed to the platform's factory."""

import dagster as dg

from domains.catalog.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, build_domain_definitions

SPEC = DomainSpec(
    name="catalog",
    team="Catálogo",
    owner="catalogo@wdc.example",
    description=(
        "Products, categories, prices and stock from the ERP (CSV exports). Publishes dim_products."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the code location, not at import: the whole-mesh CLI imports SPEC only.
@dg.definitions
def defs() -> dg.Definitions:
    return build_domain_definitions(SPEC)
