"""The resources of every code location, chosen from the environment in one place."""

from __future__ import annotations

import os
from typing import Any

from wdc_orchestration.dbt.project import DBT_TARGET, dbt_project
from wdc_orchestration.dbt.runner import DbtRunner
from wdc_orchestration.resources.lake import lake_storage_from_settings
from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
from wdc_orchestration.resources.simulation import SimulationResource
from wdc_orchestration.resources.upstream import UpstreamWait
from wdc_orchestration.settings import Settings, get_settings, mask_secrets

# The resource key of the platform's `Settings` (a plain value: Dagster wraps it; it has no
# config, so nothing of it, credentials included, shows in the UI or in run config).
SETTINGS_RESOURCE = "settings"


def build_resources(
    scale_factor: float | None = None,
    seed: int | None = None,
    upstream_wait_seconds: float | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The resources, from `settings` (read here when not given: an edge, settings.py). The
    `settings` resource carries them to what has no narrower resource (sensors' notifier, the
    KPIs' product reader): assets and sensors take it as `dg.ResourceParam[Settings]`."""
    settings = settings or get_settings()
    # Nothing here touches the environment or the disk: dbt gets its settings per invocation
    # (`env`), the lake and the catalog are made when first used.
    project = dbt_project()
    return {
        SETTINGS_RESOURCE: settings,
        "lake": lake_storage_from_settings(settings),
        "lakehouse": lakehouse_from_settings(settings),
        "dbt": DbtRunner(
            project_dir=os.fspath(project.project_dir),
            profiles_dir=os.fspath(project.profiles_dir),
            target=DBT_TARGET,
            env={
                **settings.dbt_env(),
                # a field shows in the UI: the catalog's secrets masked (DbtRunner.env)
                "WDC_DUCKLAKE_CATALOG": mask_secrets(settings.ducklake_catalog),
            },
        ),
        "wait": UpstreamWait(
            timeout_seconds=settings.upstream_wait_seconds
            if upstream_wait_seconds is None
            else upstream_wait_seconds,
            poll_seconds=settings.upstream_poll_seconds,
        ),
        "simulation": SimulationResource(
            scale_factor=settings.scale_factor if scale_factor is None else scale_factor,
            seed=settings.seed if seed is None else seed,
        ),
    }
