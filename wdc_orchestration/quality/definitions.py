"""The quality capability: every domain gets its raw gate (checks), the cross-domain reference
checks, and its sensors. Resources come from the core (`lake`, `lakehouse`)."""

from __future__ import annotations

import dagster as dg

from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.quality.raw_gate import build_raw_gate, build_references_check
from wdc_orchestration.quality.rules import rules_for
from wdc_orchestration.quality.sensors import build_quarantine_sensor, build_run_failure_sensor
from wdc_orchestration.quality.source_tests import build_source_tests_check
from wdc_orchestration.quality.upstream import build_readiness_checks


def quality_definitions(spec: DomainSpec) -> dg.Definitions:
    manifest = load_manifest()
    checks: list[dg.AssetChecksDefinition] = []
    for entity in spec.raw_entities:
        rules = rules_for(manifest, spec.name, entity.name)
        checks.append(build_raw_gate(rules, entity))
        if rules.references:
            checks.append(build_references_check(rules, entity))
    source_tests = build_source_tests_check(manifest, spec)
    if source_tests is not None:
        checks.append(source_tests)
    checks += build_readiness_checks(spec, manifest)
    return dg.Definitions(
        asset_checks=checks,
        sensors=[build_quarantine_sensor(spec.name), build_run_failure_sensor(spec.name)],
    )
