"""Incidents: what went wrong, where and when, one JSON object per incident on the lake under
`quality/incidents/` (immutable objects: no append race between sensors, and a deterministic id
makes recording the same failure twice a no-op)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from wdc_orchestration.resources.lake import LakeStorage

INCIDENTS_PREFIX = "quality/incidents"


@dataclass(frozen=True)
class Incident:
    """One failure the platform acted on."""

    kind: str  # "check_failed" | "run_failed"
    domain: str
    asset: str
    check: str  # the check's name, or the failed step for a run failure
    partitions: tuple[str, ...]
    severity: str  # "ERROR" | "WARN"
    rows_affected: int
    description: str
    run_id: str
    detected_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    quarantined: tuple[str, ...] = ()  # lake prefixes the raw partitions were moved to
    alerted_at: str | None = None
    # Set when the day was landed and built again (`wdc quarantine retry`) and published.
    resolved_at: str | None = None
    resolution: str | None = None

    @property
    def incident_id(self) -> str:
        """The same failure (run, asset, check) always gets the same id."""
        basis = "\x1f".join((self.kind, self.run_id, self.asset, self.check))
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, object]:
        return {"incident_id": self.incident_id, **dataclasses.asdict(self)}


def incident_key(incident_id: str) -> str:
    return f"{INCIDENTS_PREFIX}/{incident_id}.json"


def load_incident(lake: LakeStorage, incident_id: str) -> Incident | None:
    key = incident_key(incident_id)
    if not lake.exists(key):
        return None
    data = json.loads(lake.read_bytes(key))
    data.pop("incident_id", None)
    data["partitions"] = tuple(data["partitions"])
    data["quarantined"] = tuple(data["quarantined"])
    return Incident(**data)


def save_incident(lake: LakeStorage, incident: Incident) -> None:
    with tempfile.TemporaryDirectory(prefix="wdc-incident-") as scratch:
        payload = json.dumps(incident.to_json(), indent=2).encode()
        lake.put_bytes(payload, incident_key(incident.incident_id), Path(scratch))


def list_incidents(lake: LakeStorage) -> list[Incident]:
    """Every incident on file, oldest first."""
    found = []
    for key in lake.list_keys(INCIDENTS_PREFIX):
        if key.endswith(".json"):
            incident = load_incident(lake, Path(key).stem)
            if incident is not None:
                found.append(incident)
    return sorted(found, key=lambda i: i.detected_at)
