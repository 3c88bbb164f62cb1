"""Compliance: every column has a classification; every product has a retention period and an
owner; every raw entity a domain lands has a declared classification and retention (so personal
raw data older than its retention can be purged: governance/purge.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator

from wdc_orchestration.governance.descriptor import (
    DOMAINS_DIR,
    ISO_DURATION,
    Classification,
    DescriptorError,
    ProductDescriptor,
    _Strict,
)
from wdc_orchestration.governance.manifest import raw_entities
from wdc_orchestration.governance.violations import Violation
from wdc_orchestration.yamlio import YamlFileError, read_yaml_file

RAW_RETENTION_FILE = "_raw_retention.yaml"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RawRetention(_Strict):
    """How sensitive a raw entity is and how long its landed days may be kept."""

    classification: Classification
    retention: str

    @field_validator("retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not ISO_DURATION.match(value) or value == "P":
            raise ValueError(f"{value!r} is not an ISO 8601 duration such as P5Y")
        return value


def load_raw_retention(domains_dir: Path = DOMAINS_DIR) -> dict[str, dict[str, RawRetention]]:
    """domain -> entity -> retention, from domains/<domain>/products/_raw_retention.yaml."""
    result: dict[str, dict[str, RawRetention]] = {}
    for path in sorted(domains_dir.glob(f"*/products/{RAW_RETENTION_FILE}")):
        try:
            data = read_yaml_file(path) or {}
        except YamlFileError as error:
            raise DescriptorError(str(error)) from error
        try:
            entities = {
                name: RawRetention.model_validate(entry)
                for name, entry in (data.get("raw") or {}).items()
            }
        except ValidationError as error:
            raise DescriptorError(f"{path}: {error}") from error
        result[path.parent.parent.name] = entities
    return result


def check_compliance(
    descriptors: Mapping[str, ProductDescriptor],
    manifest: Mapping[str, Any],
    raw_retention: Mapping[str, Mapping[str, RawRetention]],
) -> list[Violation]:
    found: list[Violation] = []
    for d in descriptors.values():
        path = f"domains/{d.domain}/products/{d.name}.yaml"
        # one line for all of a product's unclassified columns: after `wdc new-product` that is
        # every column, and the owner decides them together
        unclassified = [c.name for c in d.columns if c.classification is None]
        if unclassified:
            found.append(
                Violation(
                    d.id,
                    "compliance.classification_missing",
                    f"column(s) {', '.join(unclassified)} have no classification",
                    f"set classification (one of {[x.value for x in Classification]}) of each in "
                    f"{path} (replacing TODO), then `wdc contracts sync`",
                )
            )
        sla = d.sla
        unset = [
            f"{odcs} ({what})"
            for odcs, what, value in (
                ("latency", "freshness, e.g. PT26H", sla.freshness),
                ("frequency", "update schedule, a cron such as 0 2 * * *", sla.update_schedule),
                ("retention", "e.g. P5Y", sla.retention),
            )
            if not value
        ]
        if sla.freshness and sla.update_schedule and not sla.retention:
            found.append(
                Violation(
                    d.id,
                    "compliance.retention_missing",
                    "the product has no retention period",
                    f"set slaProperties retention (ISO 8601, e.g. P5Y) in {path}",
                )
            )
        elif unset:
            found.append(
                Violation(
                    d.id,
                    "compliance.sla_missing",
                    f"the product's SLA is not decided: no {', '.join(unset)}",
                    f"set each under slaProperties in {path} (replacing TODO)",
                )
            )
        if not EMAIL.match(d.team.owner):
            found.append(
                Violation(
                    d.id,
                    "compliance.owner_missing",
                    f"the product's owner {d.team.owner!r} is not a team e-mail",
                    f"set the team member with role owner (username: the accountable team's "
                    f"e-mail) in {path}",
                )
            )
    for domain, entities in raw_entities(manifest).items():
        declared = raw_retention.get(domain, {})
        for entity in entities:
            if entity not in declared:
                found.append(
                    Violation(
                        f"{domain}.raw.{entity}",
                        "compliance.raw_retention_missing",
                        f"raw entity {entity} has no declared classification and retention",
                        f"add it under `raw:` in domains/{domain}/products/{RAW_RETENTION_FILE}",
                    )
                )
    return found
