"""The finance domain's code location: its spec, handed to the platform's factory."""

import dagster as dg

from domains.finance.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, build_domain_definitions

SPEC = DomainSpec(
    name="finance",
    team="Finanças",
    owner="financas@wdc.example",
    description="Payments (PIX, boleto, cartão) and refunds, reconciled against sales' orders.",
    raw_entities=ENTITIES,
)


# Built when Dagster loads the code location, not at import: the whole-mesh CLI imports SPEC only.
@dg.definitions
def defs() -> dg.Definitions:
    return build_domain_definitions(SPEC)
