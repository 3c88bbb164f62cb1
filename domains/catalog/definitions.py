"""The catalog domain's code location: its spec; the platform builds the rest."""

from domains.catalog.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, code_location

SPEC = DomainSpec(
    name="catalog",
    team="Catálogo",
    owner="catalogo@wdc.example",
    description=(
        "Products, categories, prices and stock from the ERP (CSV exports). Publishes dim_products."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the location, not at import: the whole-mesh CLI imports SPEC only.
defs = code_location(SPEC)
