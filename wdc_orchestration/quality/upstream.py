"""Consumers wait for their producers, in their own runs. Every domain's nightly run starts at the
same time; a domain whose models read another domain's products (sales reads customers' and
catalog's, finance and logistics read sales') must not build its day before those products are
published for that day. So each consuming domain puts a blocking readiness check on every product
it reads, `ready_for_<consumer>`, defined in its own code location (the consumer states what it
needs): in the consumer's run it waits, holding no pool slot, until the producer published the
run's days, then passes, and the consumer's dbt step goes on. A producer that fails or is late
leaves the consumer's run waiting (in progress, saying what it waits for), and it catches up by
itself once the producer is rerun and publishes; only after `UpstreamWait.timeout_seconds` (a
day) does it give up.

In a run that also builds the producer (`wdc materialize`), the check runs after the producer's
step and passes at once; if the producer's step failed, the check and the consumer are skipped."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from wdc_orchestration.dbt.project import domain_of, translator
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.quality.raw_gate import (
    FAILED_PARTITIONS,
    UPSTREAM_MISSING,
    run_partition_keys,
)
from wdc_orchestration.resources.upstream import UpstreamWait


def readiness_check_name(consumer: str) -> str:
    return f"ready_for_{consumer}"


def upstream_products(manifest: Mapping[str, Any], domain: str) -> list[dg.AssetKey]:
    """The other domains' models that `domain`'s models read (ref), as asset keys."""
    nodes = manifest["nodes"]
    keys = set()
    for node in nodes.values():
        if node["resource_type"] != "model" or domain_of(node) != domain:
            continue
        for parent in node["depends_on"]["nodes"]:
            props = nodes.get(parent)
            if props and props["resource_type"] == "model" and domain_of(props) != domain:
                keys.add(translator().get_asset_key(props))
    return sorted(keys, key=lambda key: key.to_user_string())


def readiness_check_keys(manifest: Mapping[str, Any], domain: str) -> list[dg.AssetCheckKey]:
    name = readiness_check_name(domain)
    return [dg.AssetCheckKey(key, name) for key in upstream_products(manifest, domain)]


def missing_partitions(
    instance: dg.DagsterInstance, key: dg.AssetKey, days: list[str]
) -> list[str]:
    """The days of `days` the asset has no materialisation for (under write-audit-publish: not
    published)."""
    published = instance.get_materialized_partitions(key)
    return [day for day in days if day not in published]


def build_readiness_check(spec: DomainSpec, product: dg.AssetKey) -> dg.AssetChecksDefinition:
    consumer = spec.name
    name = readiness_check_name(consumer)

    @dg.asset_check(
        asset=product,
        name=name,
        blocking=True,
        description=(
            f"{consumer} waits here, in its own run and holding no pool slot, until "
            f"{product.to_user_string()} is published for the run's days; then {consumer}'s "
            "models read it. Fails only after the wait's timeout (a day)."
        ),
    )
    def _ready(context: dg.AssetCheckExecutionContext, wait: UpstreamWait) -> dg.AssetCheckResult:
        days = run_partition_keys(context)

        def report(missing: list[str], waited: float) -> None:
            context.log.info(
                f"{consumer} waits for {product.to_user_string()} {', '.join(missing)} to be "
                f"published ({waited:.0f}s so far)"
            )

        missing, waited = wait.until(
            lambda: missing_partitions(context.instance, product, days), report
        )
        metadata = {
            "waited_seconds": round(waited, 1),
            FAILED_PARTITIONS: json.dumps(missing),
            UPSTREAM_MISSING: bool(missing),
        }
        if missing:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    f"{product.to_user_string()} is not published for {', '.join(missing)} "
                    f"(waited {waited:.0f}s): {consumer} cannot build those days yet; run "
                    f"{product.path[0]} first"
                ),
                metadata=metadata,
            )
        return dg.AssetCheckResult(
            passed=True,
            description=f"published for {', '.join(days)} (waited {waited:.1f}s)",
            metadata=metadata,
        )

    return _ready


def build_readiness_checks(
    spec: DomainSpec, manifest: Mapping[str, Any]
) -> list[dg.AssetChecksDefinition]:
    return [build_readiness_check(spec, key) for key in upstream_products(manifest, spec.name)]
