"""The logistics domain's code location: its spec; the platform builds the rest."""

from domains.logistics.simulator import ENTITIES
from wdc_orchestration.mesh.domain import DomainSpec, code_location

SPEC = DomainSpec(
    name="logistics",
    team="Logística",
    owner="logistica@wdc.example",
    description=(
        "Shipments and tracking events (JSON lines) measured against carriers' SLAs per UF."
    ),
    raw_entities=ENTITIES,
)


# Built when Dagster loads the location, not at import: the whole-mesh CLI imports SPEC only.
defs = code_location(SPEC)
