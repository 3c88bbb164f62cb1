"""The DuckLake port's history: every publication of a product is a DuckLake snapshot (the commit
of the dbt step's write-audit-publish transaction, lakehouse/wap.py), so a consumer can read the
product as it was published at any of them:

    SELECT * FROM lakehouse.sales.fct_orders AT (VERSION => 42);

This lists them, newest first, with the run and window each one published."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from wdc_orchestration.lakehouse.wap import publications


@dataclass(frozen=True)
class ProductPublication:
    """One publication of one product's table."""

    domain: str
    product: str
    snapshot_id: int
    published_at: str
    run_id: str
    window: tuple[str, str]
    rows: int  # rows the publication wrote (the window's, or the whole table's)

    @property
    def time_travel_sql(self) -> str:
        return (
            f"SELECT * FROM lakehouse.{self.domain}.{self.product} "
            f"AT (VERSION => {self.snapshot_id});"
        )


def list_publications(
    conn: duckdb.DuckDBPyConnection, domain: str, product: str
) -> list[ProductPublication]:
    """Every publication of `<domain>.<product>`'s DuckLake table, newest first."""
    found = [
        ProductPublication(
            domain=domain,
            product=product,
            snapshot_id=int(p.snapshot_id or 0),
            published_at=p.published_at,
            run_id=p.run_id,
            window=p.window,
            rows=int(p.tables[product]),
        )
        for p in publications(conn)
        if p.domain == domain and product in p.tables
    ]
    return sorted(found, key=lambda p: p.snapshot_id, reverse=True)


def latest_publication(
    conn: duckdb.DuckDBPyConnection, domain: str, product: str
) -> ProductPublication | None:
    found = list_publications(conn, domain, product)
    return found[0] if found else None
