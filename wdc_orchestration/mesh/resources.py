"""The resources of every code location, chosen from the environment in one place."""

from __future__ import annotations

import os
from typing import Any

from wdc_orchestration.dbt.project import DBT_TARGET, dbt_project, export_dbt_env
from wdc_orchestration.dbt.runner import DbtRunner
from wdc_orchestration.resources.lake import lake_storage_from_settings
from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
from wdc_orchestration.resources.simulation import SimulationResource
from wdc_orchestration.resources.upstream import UpstreamWait
from wdc_orchestration.settings import get_settings


def build_resources(
    scale_factor: float | None = None,
    seed: int | None = None,
    upstream_wait_seconds: float | None = None,
) -> dict[str, Any]:
    settings = get_settings()
    export_dbt_env()
    project = dbt_project()
    return {
        "lake": lake_storage_from_settings(settings),
        "lakehouse": lakehouse_from_settings(settings),
        "dbt": DbtRunner(
            project_dir=os.fspath(project.project_dir),
            profiles_dir=os.fspath(project.profiles_dir),
            target=DBT_TARGET,
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
