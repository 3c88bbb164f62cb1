"""The logistics domain's code location: its spec, handed to the platform's factory."""

import dagster as dg

from domains.logistics.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, build_domain_definitions

SPEC = DomainSpec(
    name="logistics",
    team="Logística",
    owner="logistica@wdc.example",
    description=(
        "Shipments and tracking events (JSON lines) measured against carriers' SLAs per UF."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the code location, not at import: the whole-mesh CLI imports SPEC only.
@dg.definitions
def defs() -> dg.Definitions:
    return build_domain_definitions(SPEC)
