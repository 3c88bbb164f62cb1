"""The contract shape before ODCS conformance, converted to ODCS v3.0.2.

Contracts published beside a product's Parquet snapshots before the change keep that shape
(`team: {name, owner}`, `sla`, `consumers`, `outputPorts`, a top-level `quality` list, `unit` and
`privacy` on columns, logicalType `timestamp`). The versioning policy compares the current
contract with the last published one, so those must still be readable: this turns one into the
ODCS document the descriptor reads, meaning for meaning."""

from __future__ import annotations

import copy
from typing import Any

from wdc_orchestration.governance.odcs import (
    API_VERSION,
    TEST_DIMENSIONS,
    servers_for,
)


def quality_check(rule: str, description: str = "") -> dict[str, Any]:
    """The ODCS quality item that promises the dbt test `rule`."""
    check: dict[str, Any] = {"type": "custom", "engine": "dbt", "implementation": rule}
    if rule in TEST_DIMENSIONS:
        check["dimension"] = TEST_DIMENSIONS[rule]
    if description:
        check["description"] = description
    return check


def _column(old: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    column = {k: v for k, v in old.items() if k not in ("unit", "privacy", "logicalType")}
    column = {"name": old["name"], "logicalType": old["logicalType"], **column}
    if column["logicalType"] == "timestamp":
        column["logicalType"] = "date"  # ODCS v3.0.2 has no timestamp: a date with a time
    custom = [{"property": k, "value": old[k]} for k in ("unit", "privacy") if old.get(k)]
    if rules:
        column["quality"] = [quality_check(r["rule"], r.get("description", "")) for r in rules]
    if custom:
        column["customProperties"] = custom
    return column


def legacy_to_odcs(data: dict[str, Any]) -> dict[str, Any]:
    """The ODCS v3.0.2 document that says what the pre-ODCS contract `data` says."""
    old = copy.deepcopy(data)
    rules = old.get("quality") or []
    table = dict(old["schema"][0])
    table["properties"] = [
        _column(c, [r for r in rules if r.get("column") == c["name"]]) for c in table["properties"]
    ]
    model_rules = [r for r in rules if not r.get("column")]
    if model_rules:
        table = {
            **{k: v for k, v in table.items() if k != "properties"},
            "quality": [quality_check(r["rule"], r.get("description", "")) for r in model_rules],
            "properties": table["properties"],
        }
    team = old.get("team") or {}
    sla = old.get("sla") or {}
    sla_properties = [
        {"property": name, "value": sla[key]}
        for name, key in (
            ("latency", "freshness"),
            ("frequency", "updateSchedule"),
            ("retention", "retention"),
        )
        if sla.get(key)
    ]
    major = int(str(old["version"]).split(".")[0])
    custom: list[dict[str, Any]] = [
        {"property": "allowedConsumers", "value": list(old.get("consumers") or [])}
    ]
    if old.get("deprecation"):
        deprecation = dict(old["deprecation"])
        deprecation["until"] = str(deprecation["until"])
        custom.append({"property": "deprecation", "value": deprecation})
    return {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": old["id"],
        "name": old["name"],
        "version": old["version"],
        "status": old["status"],
        "domain": old["domain"],
        "description": old.get("description") or {},
        "team": [
            {"username": team.get("owner", ""), "name": team.get("name", ""), "role": "owner"}
        ],
        "schema": [table],
        "slaProperties": sla_properties,
        "servers": servers_for(old["domain"], old["name"], major),
        "customProperties": custom,
    }
