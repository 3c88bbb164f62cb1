"""dbt source tests as blocking Dagster checks on the raw assets, run by the raw gate (`dbt test
--select source:<domain>_raw` for the run's days) instead of inside the domain's dbt step.

Why here: Dagster exempts a multi-asset that itself checks an upstream asset from that asset's
other blocking checks. With the source tests inside the dbt step, the Python raw gate could not
stop the domain's own dbt step (verified: it ran). With them here, every raw check, Python or dbt,
runs before the dbt step, and an ERROR stops it and everything downstream in the run."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from wdc_orchestration.dbt.runner import DbtRunner
from wdc_orchestration.lakehouse.faults import retry_requested, transient_line
from wdc_orchestration.lakehouse.run_window import RunWindow
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.quality.raw_gate import FAILED_PARTITIONS, ROWS_AFFECTED, run_partition_keys
from wdc_orchestration.raw.assets import raw_asset_key


def source_tests(manifest: Mapping[str, Any], domain: str) -> list[dict[str, Any]]:
    """The dbt tests whose only parents are sources of `<domain>_raw`."""
    prefix = f"source.{manifest['metadata']['project_name']}.{domain}_raw."
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node["depends_on"]["nodes"]
        and all(parent.startswith(prefix) for parent in node["depends_on"]["nodes"])
    ]


def _severity(test: Mapping[str, Any]) -> str:
    return (test.get("config", {}).get("severity") or "error").lower()


def build_source_tests_check(
    manifest: Mapping[str, Any], spec: DomainSpec
) -> dg.AssetChecksDefinition | None:
    domain = spec.name
    sources = [(domain, entity.name) for entity in spec.raw_entities]
    tests = source_tests(manifest, domain)
    if not tests:
        return None
    by_id = {test["unique_id"]: test for test in tests}
    specs = [
        dg.AssetCheckSpec(
            name=test["name"],
            asset=raw_asset_key(
                domain, manifest["sources"][test["depends_on"]["nodes"][0]]["name"]
            ),
            blocking=_severity(test) == "error",
            description=f"dbt source test, severity {_severity(test).upper()} "
            + ("(ERROR: blocks staging)." if _severity(test) == "error" else "(WARN: reported)."),
            metadata={"dagster_dbt/unique_id": test["unique_id"], "wdc/severity": _severity(test)},
        )
        for test in tests
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{domain}__raw__dbt_source_tests",
        description=f"dbt's tests on the {domain}_raw sources, for the run's days.",
        # No pool: dbt only reads the raw files here (and attaches the catalog without writing).
        # Materialising one raw asset (the UI's Materialize on catalog/raw/categories) selects
        # only that entity's checks: without subsetting, Dagster refuses to build the run.
        can_subset=True,
    )
    def _source_tests(
        context: dg.AssetCheckExecutionContext, dbt: DbtRunner
    ) -> Iterator[dg.AssetCheckResult]:
        days = run_partition_keys(context)
        window = RunWindow.from_partition_keys(min(days), max(days))
        selected = [spec for spec in specs if spec.key in context.selected_asset_check_keys]
        # dbt selects a test by its name (a space-separated union, one argument); all of them
        # by the source, as before.
        select = (
            f"source:{domain}_raw"
            if len(selected) == len(specs)
            else " ".join(spec.name for spec in selected)
        )
        # The window reaches dbt as the dbt step's does (lakehouse/run_window.py): the tests'
        # `where` reads only the run's days, of the files the manifests list (raw/read_set.py).
        run = dbt.run(
            ["test", "--select", select], step_log=context.log, window=window, sources=sources
        )
        outage = None if run.success else transient_line(run.errors)
        if outage is not None:  # the lake failed under dbt, not a test: run them again
            run.cleanup(keep_on_failure=False)
            raise retry_requested(context, f"source tests of {domain}", outage)
        if not run.success and not run.results:  # dbt could not run at all: say why
            raise run.error()
        results = run.result_by_unique_id()
        for spec in selected:
            unique_id = spec.metadata["dagster_dbt/unique_id"]
            result = results.get(unique_id)
            status = str(result.status) if result else "not run"
            passed = status == "pass"
            failures = int(getattr(result, "failures", None) or 0)
            message = getattr(result, "message", None) or status
            if not passed:
                context.log.error(f"{spec.asset_key.to_user_string()} {spec.name}: {message}")
            yield dg.AssetCheckResult(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=passed,
                severity=dg.AssetCheckSeverity.WARN
                if status == "warn" or _severity(by_id[unique_id]) == "warn"
                else dg.AssetCheckSeverity.ERROR,
                description=f"dbt test {status}: {message}"[:2000],
                metadata={
                    "dbt_status": status,
                    ROWS_AFFECTED: failures,
                    FAILED_PARTITIONS: json.dumps([] if passed else sorted(days)),
                },
            )
        run.cleanup(keep_on_failure=False)  # a failing test is a check result, not a crash

    return _source_tests
