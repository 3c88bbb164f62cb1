"""What `wdc materialize` needs from the quality package: defects as run config, and the
sensors' enforcement for a run (the CLI runs without a daemon)."""

from __future__ import annotations

import logging

import dagster as dg

from wdc_orchestration.quality.enforcement import enforce_run
from wdc_orchestration.quality.incidents import INCIDENTS_PREFIX, Incident
from wdc_orchestration.quality.notifier import notifier_from_env
from wdc_orchestration.resources.lake import lake_storage_from_settings
from wdc_orchestration.settings import get_settings

log = logging.getLogger("wdc_orchestration.cli")


def defects_run_config(job: dg.JobDefinition, defects: list[str]) -> dict[str, object]:
    """`defects` for every raw landing op of the job (each plants only its own entity's)."""
    raw_ops = [node.name for node in job.graph.node_defs if _takes_defects(node)]
    return {name: {"config": {"defects": defects}} for name in sorted(raw_ops)}


def enforce_quality(instance: dg.DagsterInstance, run_id: str) -> list[Incident]:
    settings = get_settings()
    lake = lake_storage_from_settings(settings)
    incidents = enforce_run(lake, notifier_from_env(settings.log_dir), instance, run_id)
    for incident in incidents:
        moved = f"; raw moved to {', '.join(incident.quarantined)}" if incident.quarantined else ""
        log.log(
            logging.ERROR if incident.severity == "ERROR" else logging.WARNING,
            "incident %s: %s %s on %s%s",
            incident.incident_id,
            incident.kind,
            incident.check,
            incident.asset,
            moved,
        )
    if incidents:
        log.error("incidents recorded under %s", lake.url(INCIDENTS_PREFIX))
    return incidents


def _takes_defects(node: dg.NodeDefinition) -> bool:
    """A raw landing op: its config (RawLandingConfig) has a `defects` field."""
    field = getattr(node, "config_field", None)
    fields = getattr(field.config_type, "fields", {}) if field is not None else {}
    return "defects" in fields
