"""The finance domain's code location: its spec; the platform builds the rest."""

from domains.finance.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, code_location

SPEC = DomainSpec(
    name="finance",
    team="Finanças",
    owner="financas@wdc.example",
    description="Payments (PIX, boleto, cartão) and refunds, reconciled against sales' orders.",
    raw_entities=ENTITIES,
)


# Built when Dagster loads the location, not at import: the whole-mesh CLI imports SPEC only.
defs = code_location(SPEC)
