"""The customers domain's code location: its spec, handed to the platform's factory."""

import dagster as dg

from domains.customers.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, build_domain_definitions

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


# Built when Dagster loads the code location, not at import: the whole-mesh CLI imports SPEC only.
@dg.definitions
def defs() -> dg.Definitions:
    return build_domain_definitions(SPEC)
