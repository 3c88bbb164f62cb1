"""The domain factory: a domain declares what it is and what its source system exports; the
platform builds its raw assets, its dbt assets, its jobs and schedule, as one code location."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster_dbt import dbt_assets

from wdc_orchestration.dbt import dbt_project, ensure_manifest, load_manifest, translator
from wdc_orchestration.dbt_runner import DbtRunner, asset_events
from wdc_orchestration.generation.request import RawEntity
from wdc_orchestration.lakehouse_metadata import with_lakehouse_metadata
from wdc_orchestration.logs import configure_logging
from wdc_orchestration.partitions import MESH_TIMEZONE, daily_partitions
from wdc_orchestration.raw import build_raw_asset
from wdc_orchestration.resources.lakehouse import DuckLakeResource
from wdc_orchestration.resources.registry import build_resources
from wdc_orchestration.run_window import RunWindow, run_window_environment

# DuckLake on a SQLite catalog takes one writer at a time: dbt steps of every domain queue here.
LAKEHOUSE_POOL = "ducklake"


@dataclass(frozen=True)
class DomainSpec:
    """Everything the platform needs to know about a business domain."""

    name: str
    team: str
    owner: str  # e-mail of the owning team; shown as the owner of every asset of the domain
    description: str
    raw_entities: Sequence[RawEntity]


def build_dbt_assets(spec: DomainSpec) -> dg.AssetsDefinition:
    nodes = load_manifest()["nodes"]

    @dbt_assets(
        manifest=ensure_manifest(),
        project=dbt_project(),
        select=f"fqn:{spec.name}",
        name=f"{spec.name}_dbt_models",
        dagster_dbt_translator=translator(),
        partitions_def=daily_partitions,
        # A backfill of N days is one dbt invocation over the whole window, not N.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=LAKEHOUSE_POOL,
    )
    def _dbt(context: dg.AssetExecutionContext, dbt: DbtRunner, lakehouse: DuckLakeResource):
        window = RunWindow.from_time_window(
            context.partition_time_window.start, context.partition_time_window.end
        )
        context.log.info(f"dbt build of {spec.name} for {window}")
        # The window reaches dbt through the environment, not --vars: --vars would invalidate
        # dbt's partial parsing and cost a full re-parse per invocation (run_window.py).
        # The sources' tests ran already, in the raw gate (quality/source_tests.py says why).
        with run_window_environment(window):
            run = dbt.run_for_assets(
                ["build", "--exclude", f"source:{spec.name}_raw"], context=context
            )
        yield from with_lakehouse_metadata(asset_events(run, context), lakehouse, nodes)

    return _dbt


def domain_assets(spec: DomainSpec) -> list[dg.AssetsDefinition]:
    raw = [build_raw_asset(spec.name, spec.owner, entity) for entity in spec.raw_entities]
    return [*raw, build_dbt_assets(spec)]


# Platform capabilities that add definitions to every domain (checks, publishing, sensors...).
# Each takes the domain's spec and returns Definitions without resources (the core provides them).
DomainPlugin = Callable[[DomainSpec], dg.Definitions]


def domain_plugins() -> list[DomainPlugin]:
    """The capabilities every domain gets, in the order they are merged."""
    # Imported here: the plugins build on this module (DomainSpec, the pool).
    from wdc_orchestration.governance import governance_definitions
    from wdc_orchestration.kpis import kpi_definitions
    from wdc_orchestration.quality.definitions import quality_definitions

    return [quality_definitions, governance_definitions, kpi_definitions]


def domain_definitions(spec: DomainSpec) -> dg.Definitions:
    """Everything the platform builds for a domain, without resources, jobs or schedules: the
    code location and the whole-mesh CLI both start from this."""
    return dg.Definitions.merge(
        dg.Definitions(assets=domain_assets(spec)), *(plugin(spec) for plugin in domain_plugins())
    )


def build_domain_definitions(spec: DomainSpec) -> dg.Definitions:
    """One code location: the domain's definitions, a daily job and its nightly schedule."""
    configure_logging()
    daily_job = dg.define_asset_job(
        name=f"{spec.name}_daily",
        selection=dg.AssetSelection.groups(spec.name),
        partitions_def=daily_partitions,
        description=f"Land {spec.name}'s raw data for a day and build its models and products.",
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
        domain_definitions(spec),
        dg.Definitions(jobs=[daily_job], schedules=[nightly], resources=build_resources()),
    )
