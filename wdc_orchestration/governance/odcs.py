"""What a contract is written with, whatever its shape: the ODCS version, the dbt tests' quality
dimensions and a product's two ports (servers). The current descriptor (descriptor.py) and the
conversion of the pre-ODCS shape (descriptor_legacy.py) both build on these, and on nothing else of
each other."""

from __future__ import annotations

from typing import Any

API_VERSION = "v3.0.2"
# The lake of the embedded default (settings' WDC_LAKE_URL default, relative to the project
# root): the servers of a descriptor describe the ports there; production differs only in the
# lake's root (docs/governance.md).
EMBEDDED_LAKE = ".lake"
EMBEDDED_CATALOG = f"ducklake:sqlite:{EMBEDDED_LAKE}/catalog/wdc.sqlite"
SQL_SERVER, FILE_SERVER = "sql", "files"
LAKEHOUSE = "lakehouse"  # the DuckLake catalog's attach alias (dbt profile, lakehouse resource)

# The ODCS data-quality dimension each dbt generic test measures (written by sync/new-product).
TEST_DIMENSIONS = {
    "not_null": "completeness",
    "unique": "uniqueness",
    "unique_combination": "uniqueness",
    "accepted_values": "conformity",
    "relationships": "consistency",
}


def product_prefix(domain: str, name: str, major: int) -> str:
    return f"products/{domain}/{name}/v{major}/"


def servers_for(domain: str, name: str, major: int) -> list[dict[str, Any]]:
    """The `servers` of a product: its two ports on the embedded default lake, and what changes
    in production (the lake's root and the DuckLake catalog come from WDC_* settings)."""
    prefix = product_prefix(domain, name, major)
    return [
        {
            "server": SQL_SERVER,
            "type": "custom",
            "format": "ducklake",
            "database": EMBEDDED_CATALOG,
            "catalog": LAKEHOUSE,
            "schema": domain,
            "path": f"{EMBEDDED_LAKE}/lakehouse/",
            "description": (
                f"SQL port: the DuckLake table {LAKEHOUSE}.{domain}.{name}. Embedded default, "
                f"from the project root: ATTACH '{EMBEDDED_CATALOG}' AS {LAKEHOUSE} "
                f"(DATA_PATH '{EMBEDDED_LAKE}/lakehouse/', READ_ONLY). Production: the catalog "
                "is WDC_DUCKLAKE_CATALOG (postgres:...) and the data path WDC_DUCKLAKE_DATA_PATH "
                "(s3://...)."
            ),
        },
        {
            "server": FILE_SERVER,
            "type": "local",
            "format": "parquet",
            "path": f"{EMBEDDED_LAKE}/{prefix}",
            "description": (
                f"File port of major {major}: immutable Parquet snapshots under snapshots/<id>/; "
                "current.json lists the current snapshot's files, relative to this folder (read "
                "them as docs/governance.md shows). Production: the same layout under "
                f"WDC_LAKE_URL (s3://<bucket>/<prefix>/{prefix})."
            ),
        },
    ]
