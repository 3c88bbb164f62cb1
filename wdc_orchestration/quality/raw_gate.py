"""The raw → staging gate: Dagster asset checks on every raw asset, blocking (ERROR) so a bad day
never reaches the domain's dbt step, nor any consuming domain's, in the run that landed it."""

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack

import dagster as dg
import duckdb

from wdc_orchestration.lakehouse.connection import connect_duckdb
from wdc_orchestration.lakehouse.faults import retry_transient
from wdc_orchestration.lakehouse.run_window import partition_day, run_window_of
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.quality.evaluate import (
    FILES,
    KEYS,
    REFERENCES,
    SCHEMA,
    VALUES,
    VOLUME,
    WARN,
    Finding,
    UnreadableRawFile,
    check_files,
    check_keys,
    check_schema,
    check_values,
    check_volume,
    landed_rows,
    local_file,
    open_day,
    unreadable,
)
from wdc_orchestration.quality.incidents import INCIDENTS_PREFIX
from wdc_orchestration.quality.rules import RawRules, Reference
from wdc_orchestration.raw.assets import MANIFEST_NAME, partition_prefix, raw_asset_key
from wdc_orchestration.raw.generation.request import RawEntity
from wdc_orchestration.raw.generation.writer import EXTENSIONS
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.lakehouse import DuckLakeResource
from wdc_orchestration.resources.upstream import UpstreamWait
from wdc_orchestration.settings import Settings

# Metadata the quarantine sensor reads from a failed check.
FAILED_PARTITIONS = "wdc/failed_partitions"
UPSTREAM_MISSING = "wdc/upstream_missing"
ROWS_AFFECTED = "wdc/rows_affected"

DESCRIPTIONS = {
    FILES: "The day's folder holds exactly the files its manifest lists, byte for byte (sha256): "
    "what staging reads. An unexpected file (another system's, a re-sent export, a manual fix) "
    "or a replaced one fails, named.",
    SCHEMA: "The day's file reads as staging reads it, with every column staging expects "
    "(missing: ERROR; unexpected extra columns: WARN).",
    KEYS: "Key columns present and unique; required columns not null.",
    VALUES: "Amounts not negative, dates inside the partition day, formats (CPF) valid.",
    VOLUME: "Row count within the band of the trailing landed days' median (WARN only).",
    REFERENCES: "Foreign keys resolve in the owning domain's data for the day.",
}


def run_partition_keys(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The days a run covers (one, or a single-run backfill range), from its tags."""
    window = run_window_of(context.run.tags)
    if window is None:
        raise dg.Failure("the raw gate runs on a partitioned run (a day or a range of days)")
    return daily_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange(window.min_date.isoformat(), window.max_date.isoformat())
    )


def file_key(rules: RawRules, entity: RawEntity, day: str) -> str:
    prefix = partition_prefix(rules.domain, entity.name, partition_day(day))
    return f"{prefix}/{entity.name}.{EXTENSIONS[entity.file_format]}"


def result_of(
    asset_key: dg.AssetKey, check: str, findings: Sequence[Finding], lake: LakeStorage
) -> dg.AssetCheckResult:
    """One check's result over the run's days: failed if any day failed; the failed days, the
    rows affected and a link to the incidents go into its metadata."""
    failed = [f for f in findings if not f.passed]
    severity = dg.AssetCheckSeverity.ERROR
    if (
        failed
        and all(f.severity == WARN for f in failed)
        or not failed
        and findings[0].severity == WARN
    ):
        severity = WARN
    shown = failed or findings
    description = "; ".join(f"{f.day}: {f.message}" for f in shown[:5])
    metadata: dict[str, object] = {
        ROWS_AFFECTED: sum(f.rows_affected for f in failed),
        FAILED_PARTITIONS: json.dumps(sorted({f.day for f in failed})),
        UPSTREAM_MISSING: bool(failed) and all(f.upstream_missing for f in failed),
    }
    if failed:
        metadata["incidents"] = dg.MetadataValue.path(lake.url(INCIDENTS_PREFIX))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check,
        passed=not failed,
        severity=severity,
        description=description[:2000],
        metadata=metadata,
    )


def gate_checks(rules: RawRules) -> list[str]:
    checks = [FILES, SCHEMA]
    if rules.key or rules.unique or rules.not_null:
        checks.append(KEYS)
    if rules.non_negative or rules.in_partition or rules.not_after_partition or rules.formats:
        checks.append(VALUES)
    return checks


def build_raw_gate(rules: RawRules, entity: RawEntity) -> dg.AssetChecksDefinition:
    """Schema, keys, values (blocking) and volume (WARN) of one raw entity: one step that reads
    the day's file once."""
    asset_key = raw_asset_key(rules.domain, entity.name)
    blocking = gate_checks(rules)
    specs = [
        dg.AssetCheckSpec(name, asset=asset_key, blocking=True, description=DESCRIPTIONS[name])
        for name in blocking
    ] + [
        dg.AssetCheckSpec(VOLUME, asset=asset_key, blocking=False, description=DESCRIPTIONS[VOLUME])
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{rules.domain}__raw__{entity.name}__gate",
        description=f"Raw gate of {rules.domain}.{entity.name}: a bad day stops here.",
    )
    def _gate(
        context: dg.AssetCheckExecutionContext,
        lake: LakeStorage,
        settings: dg.ResourceParam[Settings],
    ) -> Iterator[dg.AssetCheckResult]:
        findings: dict[str, list[Finding]] = {name: [] for name in [*blocking, VOLUME]}
        with retry_transient(context, f"raw gate of {rules.domain}.{entity.name}"):
            for day in run_partition_keys(context):
                for finding in evaluate_day(lake, rules, entity, day, blocking, settings):
                    findings[finding.check].append(finding)
        for name, day_findings in findings.items():
            result = result_of(asset_key, name, day_findings, lake)
            if not result.passed:
                context.log.error(
                    f"{asset_key.to_user_string()} {name} failed: {result.description}"
                )
            yield result

    return _gate


def evaluate_day(
    lake: LakeStorage,
    rules: RawRules,
    entity: RawEntity,
    day: str,
    checks: Iterable[str],
    settings: Settings,
) -> list[Finding]:
    """Every gate check of one day (the volume check included), read with a DuckDB of
    `settings`. The files check comes first: the
    others read the file the manifest lists, and are not evaluated when the folder does not
    match it (the files check names what is wrong)."""
    checks = [c for c in checks if c != FILES]
    files, landed = check_files(lake, rules, entity.file_format, day)
    if not landed:
        missing = [Finding(c, day, False, files.message) for c in checks]
        return [files, *missing, Finding(VOLUME, day, False, files.message, 0, WARN)]
    if not files.passed:
        rows = landed_rows(lake, rules.domain, entity.name, partition_day(day)) or 0
        skipped = [
            Finding(c, day, False, "not evaluated: the day's files do not match its manifest")
            for c in checks
        ]
        return [files, *skipped, check_volume(lake, rules, day, rows)]
    key = file_key(rules, entity, day)
    with local_file(lake, key) as path, connect_duckdb(settings) as con:
        if path is None:  # listed, yet gone since the files check: say so, never read around it
            gone = [Finding(c, day, False, f"{key} disappeared during the check") for c in checks]
            return [files, *gone, Finding(VOLUME, day, False, f"{key} disappeared", 0, WARN)]
        try:
            rows = open_day(con, entity.file_format, path)
        except UnreadableRawFile as error:
            landed = landed_rows(lake, rules.domain, entity.name, partition_day(day))
            return [
                files,
                *(unreadable(c, day, str(error), landed or 0) for c in checks),
                check_volume(lake, rules, day, 0),
            ]
        schema = check_schema(con, rules, day)
        results = [files, schema]
        for check, run in ((KEYS, check_keys), (VALUES, check_values)):
            if check not in checks:
                continue
            if not schema.passed and schema.severity != WARN:
                results.append(
                    Finding(
                        check, day, False, f"not evaluated: {schema.message}", schema.rows_affected
                    )
                )
                continue
            try:
                results.append(run(con, rules, day))
            except duckdb.Error as error:
                results.append(Finding(check, day, False, f"cannot evaluate: {error}", rows))
        results.append(check_volume(lake, rules, day, rows))
        return results


def reference_available(
    context: dg.AssetCheckExecutionContext, lake: LakeStorage, reference: Reference, day: str
) -> bool:
    """Whether the referenced data exists for `day` yet: a landed raw day, or a published
    partition of the product (the check cannot decide before; it does not blame this data)."""
    if reference.is_raw:
        domain, _, entity = reference.target_asset_path
        key = f"{partition_prefix(domain, entity, partition_day(day))}/{MANIFEST_NAME}"
        return lake.exists(key)
    target = dg.AssetKey(reference.target_asset_path)
    return day in context.instance.get_materialized_partitions(target)


def _reference_relation(stack: ExitStack, lake: LakeStorage, reference: Reference, day: str) -> str:
    """SQL for the referenced data: the owning system's export of the day (read where it is, or
    fetched from object storage), or the product table in the lakehouse."""
    if reference.is_raw:
        domain, _, entity = reference.target_asset_path
        prefix = partition_prefix(domain, entity, partition_day(day))
        (data,) = [k for k in lake.list_keys(prefix) if not k.endswith(MANIFEST_NAME)]
        path = stack.enter_context(local_file(lake, data))
        return f"read_parquet('{path}', hive_partitioning = false)"
    domain, product = reference.target_asset_path
    return f"lakehouse.{domain}.{product}"


def build_references_check(rules: RawRules, entity: RawEntity) -> dg.AssetChecksDefinition:
    """Foreign keys of the day resolve in the owning domain's data (blocking). Waits for the
    referenced data of the day (in a run that builds it: after it; otherwise until the owning
    domain published it, within `UpstreamWait`); what is still missing after that fails as
    'cannot verify yet' (the consumer must not build on it) without blaming this day's raw data."""
    asset_key = raw_asset_key(rules.domain, entity.name)
    targets = sorted({dg.AssetKey(r.target_asset_path) for r in rules.references}, key=str)

    @dg.asset_check(
        asset=asset_key,
        name=REFERENCES,
        description=DESCRIPTIONS[REFERENCES]
        + " "
        + ", ".join(f"{r.column} → {r.target}" for r in rules.references),
        blocking=True,
        additional_deps=targets,
        # No pool: it only reads the lakehouse (published products), which a DuckLake writer
        # does not lock out.
    )
    def _references(
        context: dg.AssetCheckExecutionContext,
        lake: LakeStorage,
        lakehouse: DuckLakeResource,
        wait: UpstreamWait,
        settings: dg.ResourceParam[Settings],
    ) -> dg.AssetCheckResult:
        days = run_partition_keys(context)

        def missing() -> list[str]:
            return [
                f"{r.target} {day}"
                for day in days
                for r in rules.references
                if not reference_available(context, lake, r, day)
            ]

        def report(late: list[str], waited: float) -> None:
            context.log.info(f"waiting for {', '.join(late)} ({waited:.0f}s so far)")

        # the owning domains' data of the day may not be there yet: wait for it (quality/
        # upstream.py), then judge; what is still missing after the wait "cannot be verified"
        wait.until(missing, report)
        findings = []
        for day in days:
            findings.append(
                _references_of_day(context, lake, lakehouse, settings, rules, entity, day)
            )
        result = result_of(asset_key, REFERENCES, findings, lake)
        if not result.passed:
            context.log.error(
                f"{asset_key.to_user_string()} {REFERENCES} failed: {result.description}"
            )
        return result

    return _references


def _references_of_day(
    context: dg.AssetCheckExecutionContext,
    lake: LakeStorage,
    lakehouse: DuckLakeResource,
    settings: Settings,
    rules: RawRules,
    entity: RawEntity,
    day: str,
) -> Finding:
    late = [r.target for r in rules.references if not reference_available(context, lake, r, day)]
    if late:
        return Finding(
            REFERENCES,
            day,
            False,
            f"cannot verify yet: no data for {day} in {late}",
            0,
            upstream_missing=True,
        )
    key = file_key(rules, entity, day)
    needs_lakehouse = any(not r.is_raw for r in rules.references)
    with ExitStack() as stack:
        path = stack.enter_context(local_file(lake, key))
        if path is None:
            return Finding(REFERENCES, day, False, f"{key} has not landed (or was quarantined)")
        connection = lakehouse.get_connection() if needs_lakehouse else _plain(settings)
        with connection as con:
            try:
                open_day(con, entity.file_format, path)
                problems, affected = [], 0
                for reference in rules.references:
                    target = _reference_relation(stack, lake, reference, day)
                    c, t = f'"{reference.column}"', f'"{reference.target_column}"'
                    orphans = con.execute(
                        f"select count(*) from raw_day r where r.{c} is not null and not exists "
                        f"(select 1 from {target} t where t.{t} = r.{c})"
                    ).fetchone()[0]
                    if orphans:
                        problems.append(f"{orphans} {reference.column} not in {reference.target}")
                        affected += orphans
            except (UnreadableRawFile, duckdb.Error) as error:
                return Finding(REFERENCES, day, False, f"cannot evaluate: {error}")
    if problems:
        return Finding(REFERENCES, day, False, "; ".join(problems), affected)
    return Finding(REFERENCES, day, True, "every reference resolves")


class _plain:
    """A plain in-memory DuckDB, as a context manager like the lakehouse resource's."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self._con = connect_duckdb(self._settings)
        return self._con

    def __exit__(self, *exc: object) -> None:
        self._con.close()
