"""The customers domain's code location: its spec; the platform builds the rest."""

from domains.customers.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, code_location

SPEC = DomainSpec(
    name="customers",
    team="CRM",
    owner="crm@wdc.example",
    description=(
        "Customers and their personal data, owned by the CRM team. Publishes "
        "dim_customers without personal data (LGPD)."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the location, not at import: the whole-mesh CLI imports SPEC only.
defs = code_location(SPEC)
