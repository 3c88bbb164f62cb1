"""What the Dagster UI shows about a product (the UI is the catalog): owner, purpose, version,
classification per column, SLA, allowed consumers and where its ports live. Where the lake is
comes from the settings the definitions were built with (an argument: settings.py's edges)."""

from __future__ import annotations

from functools import cache
from typing import Any

import dagster as dg

from wdc_orchestration.governance.descriptor import ProductDescriptor, load_descriptors

# The tag of a product's port assets (its value, the kind of port: "parquet").
PORT_TAG = "wdc/port"


def column_schema(d: ProductDescriptor) -> dg.TableSchema:
    columns = []
    for c in d.columns:
        tags = {"classification": c.classification.value if c.classification else "unclassified"}
        if c.privacy:
            tags["privacy"] = c.privacy.value
        if c.unit:
            tags["unit"] = c.unit
        constraints = dg.TableColumnConstraints(nullable=not c.required, unique=c.unique)
        columns.append(
            dg.TableColumn(
                c.name,
                c.physical_type,
                description=c.description,
                constraints=constraints,
                tags=tags,
            )
        )
    return dg.TableSchema(columns=columns)


def product_metadata(d: ProductDescriptor, lake_url: str) -> dict[str, Any]:
    lake_url = lake_url.rstrip("/")
    return {
        "wdc/product": d.id,
        "wdc/version": d.version,
        "wdc/status": d.status,
        "wdc/owner": d.team.owner,
        "wdc/team": d.team.name,
        "wdc/purpose": d.description.purpose,
        "wdc/usage": d.description.usage,
        "wdc/sla": dg.JsonMetadataValue(d.sla.model_dump(by_alias=True)),
        "wdc/allowed_consumers": ", ".join(d.consumers) or "none",
        "wdc/sql_port": d.sql_port,
        "wdc/file_port": dg.PathMetadataValue(f"{lake_url}/{d.file_port_prefix}"),
        "wdc/descriptor": dg.PathMetadataValue(f"domains/{d.domain}/products/{d.name}.yaml"),
        "dagster/column_schema": column_schema(d),
    }


@cache
def _descriptors() -> dict[str, ProductDescriptor]:
    return load_descriptors()


def catalog_metadata(domain: str, name: str, lake_url: str) -> dict[str, Any]:
    """The catalog metadata of a data product (its dbt model's and its Parquet port's), from its
    descriptor ({} when it has none: the contract policy reports that)."""
    d = _descriptors().get(f"{domain}.{name}")
    return product_metadata(d, lake_url) if d else {}
