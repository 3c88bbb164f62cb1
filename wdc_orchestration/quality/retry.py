"""Recovery without a person, and the trail of it: the quarantined raw days on the lake, and the
retry of a failed day once its source is fixed (land it again, rebuild it and what consumes it,
record what was done beside the incidents).

A failed day leaves no trace in the read path (its raw files are quarantined, its rows were never
published), so the next days run and publish without it; the retry fills the gap later."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from wdc_orchestration.quality.incidents import Incident, list_incidents, save_incident
from wdc_orchestration.quality.quarantine import QUARANTINE_ROOT
from wdc_orchestration.resources.lake import LakeStorage

RETRIES_PREFIX = "quality/retries"


@dataclass(frozen=True)
class QuarantinedDay:
    """One raw day moved out of the read path by one failed run."""

    domain: str
    entity: str
    day: dt.date
    run_id: str  # the run whose failure quarantined it
    prefix: str
    files: tuple[str, ...]
    incidents: tuple[str, ...] = ()
    resolved: bool = False


def list_quarantined(lake: LakeStorage) -> list[QuarantinedDay]:
    """Every quarantined raw day, oldest day first, with the incidents that moved it and whether
    a retry has since resolved them."""
    groups: dict[str, list[str]] = {}
    for key in lake.list_keys(QUARANTINE_ROOT + "/"):
        parts = key.split("/")  # quarantine/<domain>/<entity>/date=D/<run id>/<file>
        if len(parts) >= 6 and parts[3].startswith("date="):
            groups.setdefault("/".join(parts[:5]), []).append(key)
    incidents = list_incidents(lake)
    found = []
    for prefix, keys in groups.items():
        _, domain, entity, folder, run_id = prefix.split("/")
        related = [i for i in incidents if prefix in i.quarantined]
        found.append(
            QuarantinedDay(
                domain=domain,
                entity=entity,
                day=dt.date.fromisoformat(folder.removeprefix("date=")),
                run_id=run_id,
                prefix=prefix,
                files=tuple(k.removeprefix(prefix + "/") for k in sorted(keys)),
                incidents=tuple(i.incident_id for i in related),
                resolved=bool(related) and all(i.resolved_at for i in related),
            )
        )
    return sorted(found, key=lambda q: (q.day, q.domain, q.entity, q.run_id))


def open_incidents(lake: LakeStorage, domain: str, day: dt.date) -> list[Incident]:
    """Incidents of `domain` covering `day` that no retry has resolved yet."""
    return [
        i
        for i in list_incidents(lake)
        if i.domain == domain and day.isoformat() in i.partitions and not i.resolved_at
    ]


def consumers_of(domain: str, manifest: Mapping[str, Any]) -> list[str]:
    """The domains whose models read `domain`'s products, directly or not (from the dbt graph),
    in dependency order: they must be rebuilt for a day `domain` rebuilt."""
    from wdc_orchestration.dbt.project import domain_of

    nodes = manifest["nodes"]
    reads: dict[str, set[str]] = {}
    for node in nodes.values():
        if node["resource_type"] != "model":
            continue
        reader = domain_of(node)
        for parent in node["depends_on"]["nodes"]:
            if parent in nodes and nodes[parent]["resource_type"] == "model":
                source = domain_of(nodes[parent])
                if source != reader:
                    reads.setdefault(reader, set()).add(source)
    found: list[str] = []
    frontier = [domain]
    while frontier:
        current = frontier.pop(0)
        for reader, sources in sorted(reads.items()):
            if current in sources and reader not in found and reader != domain:
                found.append(reader)
                frontier.append(reader)
    order = TopologicalSorter({reader: sorted(sources) for reader, sources in reads.items()})
    return [d for d in order.static_order() if d in found]


@dataclass(frozen=True)
class Retry:
    """What one retry did: the trail kept under `quality/retries/` on the lake."""

    domain: str
    day: dt.date
    domains: Sequence[str]  # the domain, then its consumers, rebuilt in one run
    run_id: str
    success: bool
    incidents: Sequence[str]
    quarantined: Sequence[str]  # the prefixes the failed day's files stay in
    started_at: str
    finished_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    @property
    def key(self) -> str:
        return f"{RETRIES_PREFIX}/{self.day.isoformat()}/{self.domain}-{self.run_id}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "day": self.day.isoformat(),
            "domains": list(self.domains),
            "run_id": self.run_id,
            "success": self.success,
            "incidents": list(self.incidents),
            "quarantined": list(self.quarantined),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def record_retry(lake: LakeStorage, retry: Retry, incidents: Sequence[Incident]) -> None:
    """Keep the retry on the lake, and mark the incidents it resolved (only when it published:
    a retry that failed again leaves them open, and raised incidents of its own)."""
    with tempfile.TemporaryDirectory(prefix="wdc-retry-") as scratch:
        payload = json.dumps(retry.to_json(), indent=2).encode()
        lake.put_bytes(payload, retry.key, Path(scratch))
    if not retry.success:
        return
    for incident in incidents:
        save_incident(lake, _resolved(incident, retry))


def _resolved(incident: Incident, retry: Retry) -> Incident:
    return dataclasses.replace(
        incident,
        resolved_at=retry.finished_at,
        resolution=(
            f"{retry.day} landed and built again by `wdc quarantine retry` in run {retry.run_id} "
            f"({', '.join(retry.domains)}); trail: {retry.key}"
        ),
    )
