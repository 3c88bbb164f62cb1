"""What the portal reads, opened once per process and shared by every page and browser session:
the settings, the lake (quality records, file ports, access requests), the descriptors, the
products-only DuckDB reader and the Dagster instance. Kept out of the pages' modules on purpose:
Taipy copies a page module's variables into every user's state, and a connection is not state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from wdc_orchestration.governance.descriptor import ProductDescriptor, load_descriptors
from wdc_orchestration.governance.product_reader import ProductReader
from wdc_orchestration.resources.lake import LakeStorage, lake_storage_from_settings
from wdc_orchestration.settings import Settings, get_settings
from wdc_portal import DEFAULT_DAGSTER_URL

if TYPE_CHECKING:
    import dagster as dg

log = logging.getLogger(__name__)


@dataclass
class Portal:
    settings: Settings
    dagster_url: str = DEFAULT_DAGSTER_URL

    @cached_property
    def lake(self) -> LakeStorage:
        return lake_storage_from_settings(self.settings)

    @cached_property
    def descriptors(self) -> dict[str, ProductDescriptor]:
        return load_descriptors()

    @cached_property
    def reader(self) -> ProductReader:
        return ProductReader(self.settings, self.descriptors)

    @cached_property
    def instance(self) -> dg.DagsterInstance:
        import dagster as dg

        self.settings.dagster_home.mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.from_config(str(self.settings.dagster_home))

    @property
    def domains(self) -> list[str]:
        return sorted({d.domain for d in self.descriptors.values()})

    def run_url(self, run_id: str) -> str:
        return f"{self.dagster_url.rstrip('/')}/runs/{run_id}"


_PORTAL: Portal | None = None


def configure(dagster_url: str = DEFAULT_DAGSTER_URL, settings: Settings | None = None) -> Portal:
    """Set the process's portal (called once by the app before serving)."""
    global _PORTAL
    _PORTAL = Portal(settings or get_settings(), dagster_url)
    return _PORTAL


def portal() -> Portal:
    if _PORTAL is None:
        return configure()
    return _PORTAL
