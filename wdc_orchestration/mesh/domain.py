"""The domain factory: a domain declares what it is and what its source system exports; the
platform builds its raw assets, its dbt assets, its jobs and schedule, as one code location."""

import os
import warnings
from collections.abc import Callable
from functools import partial

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; dagster exports no alias
)
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY,
    DAGSTER_DBT_SELECT_METADATA_KEY,
    build_dbt_specs,
)

from wdc_orchestration.dbt.audited_build import write_audit_publish
from wdc_orchestration.dbt.project import dbt_project, domain_of, load_manifest, translator
from wdc_orchestration.dbt.runner import DbtRunner
from wdc_orchestration.governance import governance_definitions
from wdc_orchestration.governance.audit_gate import policy_gate
from wdc_orchestration.governance.catalog_metadata import PORT_TAG, catalog_metadata
from wdc_orchestration.kpis import kpi_definitions
from wdc_orchestration.lakehouse.catalog_lock import LAKEHOUSE_POOL, lakehouse_pool
from wdc_orchestration.lakehouse.faults import retry_transient
from wdc_orchestration.lakehouse.run_window import RunWindow
from wdc_orchestration.logs import configure_logging
from wdc_orchestration.mesh.partitions import MESH_TIMEZONE, daily_partitions
from wdc_orchestration.mesh.resources import build_resources
from wdc_orchestration.mesh.spec import AuditGate, DomainCapability, DomainSpec
from wdc_orchestration.quality.definitions import quality_definitions
from wdc_orchestration.quality.freshness import freshness_policy
from wdc_orchestration.quality.late_upstream import build_late_upstream_sensor
from wdc_orchestration.quality.upstream import readiness_check_keys
from wdc_orchestration.raw.arrivals import arrival_sensors
from wdc_orchestration.raw.assets import build_raw_asset
from wdc_orchestration.raw.generation.day_cache import release_day_caches
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.lakehouse import DuckLakeResource
from wdc_orchestration.settings import get_settings

__all__ = [
    "DomainSpec",
    "DomainCapability",
    "LAKEHOUSE_POOL",
    "build_domain_definitions",
    "code_location",
    "lakehouse_pool",
]

# Governance is applied with `Definitions.map_resolved_asset_specs` (below), which Dagster 1.13
# flags as preview in every process that loads a code location: said once here.
warnings.filterwarnings(
    "ignore", message="Function `Definitions.map_resolved_asset_specs`", category=dg.PreviewWarning
)


# Writers of the DuckLake catalog queue in a pool whose every slot is one writer (the instance's
# `pools.default_limit: 1`, mesh/workspace.py).
def audit_gates(spec: DomainSpec) -> list[AuditGate]:
    """The capabilities' gates on a dbt step's audited rows, before it publishes."""
    return [gate for gate in (policy_gate(spec),) if gate is not None]


def build_dbt_assets(spec: DomainSpec) -> dg.AssetsDefinition:
    """The domain's dbt models as one multi-asset step: dbt builds the run's window into the
    domain's audit schema and tests it there; the audit gates judge it; only then is it published
    (dbt/audited_build.py, lakehouse/wap.py). The gates' checks are part of the step, reported with
    the models they judge."""
    manifest = load_manifest()
    nodes = manifest["nodes"]
    select = f"fqn:{spec.name}"
    specs, dbt_checks = build_dbt_specs(
        translator=translator(),
        manifest=manifest,
        select=select,
        exclude="",
        selector="",
        io_manager_key=None,
        project=dbt_project(),
    )
    gates = audit_gates(spec)
    sources = [(spec.name, entity.name) for entity in spec.raw_entities]
    pool = lakehouse_pool(spec.name)

    @dg.multi_asset(
        name=f"{spec.name}_dbt_models",
        specs=specs,
        check_specs=[*dbt_checks, *(c for gate in gates for c in gate.check_specs)],
        can_subset=True,
        partitions_def=daily_partitions,
        op_tags={DAGSTER_DBT_SELECT_METADATA_KEY: select, DAGSTER_DBT_EXCLUDE_METADATA_KEY: ""},
        # A backfill of N days is one dbt invocation over the whole window, not N.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=pool,
        allow_arbitrary_check_specs=True,
    )
    def _dbt(
        context: dg.AssetExecutionContext,
        dbt: DbtRunner,
        lakehouse: DuckLakeResource,
        lake: LakeStorage,
    ):
        window = RunWindow.from_time_window(
            context.partition_time_window.start, context.partition_time_window.end
        )
        context.log.info(f"dbt build of {spec.name} for {window} into its audit schema")
        # The simulators' cached days would sit under dbt's DuckDB for the rest of the process
        # (≈2 GiB at SF 100 in `wdc materialize`, generation/day_cache.py): dropped first.
        release_day_caches()
        # The window reaches dbt through the environment, not --vars: --vars would invalidate
        # dbt's partial parsing and cost a full re-parse per invocation (lakehouse/run_window.py).
        # So do the raw sources dbt may read (raw/read_set.py). --full-refresh: the audit schema
        # holds exactly this run's window. The sources' tests ran already, in the raw gate
        # (quality/source_tests.py says why).
        # An outage of the lake or the catalog retries the whole step (lakehouse/faults.py): dbt
        # rebuilds the audit schema from scratch, and nothing was published unless the one
        # publishing transaction committed, which a retry repeats with the same rows (delete,
        # insert). The pool's writer lock is held from the build to the publication's commit,
        # whatever instance runs the step (lakehouse/catalog_lock.py): a pool's limit is instance
        # configuration.
        with (
            retry_transient(context, f"dbt step of {spec.name}"),
            lakehouse.writer(pool, context.log.info) as waited,
        ):
            if waited >= 1:
                context.log.info(f"waited {waited:.0f}s for the writer lock of pool {pool}")
            run = dbt.run_for_assets(
                ["build", "--full-refresh", "--exclude", f"source:{spec.name}_raw"],
                context=context,
                window=window,
                sources=sources,
            )
            yield from write_audit_publish(
                context, run, spec.name, window, lakehouse, lake, gates, nodes
            )

    return _dbt


def domain_assets(spec: DomainSpec) -> list[dg.AssetsDefinition]:
    raw = [build_raw_asset(spec.name, spec.owner, entity) for entity in spec.raw_entities]
    return [*raw, build_dbt_assets(spec)]


def product_governance(asset: dg.AssetSpec, lake_url: str) -> dg.AssetSpec:
    """What governance adds to a data product's specs (a public dbt model and its Parquet port),
    on top of the specs their factories made (the dbt model's from dbt's manifest): the model's
    SLA as a freshness policy (WARN, then FAIL when late; every served major, each read against
    the product's SLA), and on its latest major and its port its contract in the catalog (owner,
    version, SLA, allowed consumers, classification per column, where its ports live, on the lake
    at `lake_url`). Other assets are returned as they are."""
    if asset.tags.get(PORT_TAG) == "parquet":
        domain, _, name = asset.key.path
        return asset.merge_attributes(metadata=catalog_metadata(domain, name, lake_url))
    # dagster-dbt's own metadata on every spec it builds: the node the asset was made from.
    unique_id = asset.metadata.get("dagster_dbt/unique_id")
    node = load_manifest()["nodes"].get(unique_id) if isinstance(unique_id, str) else None
    if node is None or node["resource_type"] != "model" or node.get("access") != "public":
        return asset
    domain, name = domain_of(node), node["name"]
    asset = asset.replace_attributes(freshness_policy=freshness_policy(domain, name))
    if str(node.get("version")) == str(node.get("latest_version")):
        asset = asset.merge_attributes(metadata=catalog_metadata(domain, name, lake_url))
    return asset


def domain_capabilities() -> list[DomainCapability]:
    """The capabilities every domain gets, in the order they are merged."""
    return [quality_definitions, governance_definitions, kpi_definitions]


def domain_definitions(spec: DomainSpec, lake_url: str) -> dg.Definitions:
    """Everything the platform builds for a domain, without resources, jobs or schedules: the
    code location and the whole-mesh CLI both start from this, with the lake of their settings."""
    # Specs from their factories (the dbt models' from the translator); governance applied on the
    # resolved specs, as dagster-open-platform applies its freshness policies.
    return dg.Definitions.merge(
        dg.Definitions(assets=domain_assets(spec)),
        *(capability(spec) for capability in domain_capabilities()),
    ).map_resolved_asset_specs(func=partial(product_governance, lake_url=lake_url))


def domain_selection(*domains: str) -> dg.AssetSelection:
    """What a domain's run materialises and checks: its group, and the readiness checks it puts on
    the other domains' products it reads (it waits there for them: quality/upstream.py)."""

    manifest = load_manifest()
    keys = [key for domain in domains for key in readiness_check_keys(manifest, domain)]
    return dg.AssetSelection.groups(*domains) | dg.AssetSelection.checks(*keys)


def late_upstream_sensors(
    spec: DomainSpec, job: UnresolvedAssetJobDefinition
) -> list[dg.SensorDefinition]:
    sensor = build_late_upstream_sensor(spec.name, load_manifest(), job)
    return [sensor] if sensor is not None else []


def daily_executor() -> dg.ExecutorDefinition:
    """The executor of the daily jobs: in-process (measured: docs/benchmarks.md);
    `WDC_DAILY_EXECUTOR=multiprocess` restores Dagster's default, for comparison."""
    if os.environ.get("WDC_DAILY_EXECUTOR", "in_process") == "multiprocess":
        return dg.multiprocess_executor
    return dg.in_process_executor


def build_domain_definitions(spec: DomainSpec) -> dg.Definitions:
    """One code location: the domain's definitions, a daily job and its nightly schedule. An edge
    of the settings (settings.py): read once here, handed to what the location is built from;
    loading writes nothing and changes no environment variable (the log file, the catalog's
    folder and the extensions are made when first used)."""
    settings = get_settings()
    configure_logging(settings.log_dir)
    daily_job = dg.define_asset_job(
        name=f"{spec.name}_daily",
        selection=domain_selection(spec.name),
        partitions_def=daily_partitions,
        description=f"Land {spec.name}'s raw data for a day and build its models and products.",
        # One process per run, not one per step: a run of 40-odd steps otherwise starts 40
        # Python processes, each importing dagster, dbt and DuckDB (docs/benchmarks.md).
        executor_def=daily_executor(),
    )
    nightly = dg.build_schedule_from_partitioned_job(
        daily_job,
        name=f"{spec.name}_nightly",
        hour_of_day=2,
        minute_of_hour=0,
        description=f"02:00 {MESH_TIMEZONE}: materialise yesterday's partition of {spec.name}.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions.merge(
        domain_definitions(spec, settings.lake_url),
        dg.Definitions(
            jobs=[daily_job],
            schedules=[nightly],
            sensors=[
                # Launches the daily job on one raw asset when its export arrives (S3 lake only).
                *arrival_sensors(spec, daily_job, settings.lake_url),
                # Rebuilds a day whose upstream products were published after it read them.
                *late_upstream_sensors(spec, daily_job),
            ],
            resources=build_resources(settings=settings),
        ),
    )


def code_location(spec: DomainSpec) -> Callable[..., dg.Definitions]:
    """A domain's code location, all its definitions.py declares besides its spec:
    `defs = code_location(SPEC)`. Built when Dagster loads the location (a `@dg.definitions`
    loader, which Dagster and `dg` find at the module's top level), not at import: the
    whole-mesh CLI imports the domains' SPEC only."""
    return dg.definitions(lambda: build_domain_definitions(spec))
