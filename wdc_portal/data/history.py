"""A state product's history as a consumer sees it (docs/time_model.md): the type-2 versions of
each key, how many held on each day, the state as of a chosen day, and the as-of query that reads
the same rows through either port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from wdc_orchestration.governance.descriptor import (
    VALID_FROM,
    VALID_TO,
    Column,
    ProductDescriptor,
)
from wdc_orchestration.governance.product_reader import ProductReader
from wdc_orchestration.governance.publishing import consumer_sql

HISTORY_COLUMNS = ["day", "versions that began", "versions that ended", "keys that held"]


def is_state_product(d: ProductDescriptor) -> bool:
    return d.time_model is not None and d.time_model.kind == "state"


def as_of_predicate(day: dt.date) -> str:
    """The rows that held on `day`: valid_from <= day < valid_to (null: still holds)."""
    literal = f"DATE '{day.isoformat()}'"
    return f"{VALID_FROM} <= {literal} AND ({VALID_TO} IS NULL OR {literal} < {VALID_TO})"


def history_days(reader: ProductReader, d: ProductDescriptor) -> pd.DataFrame:
    """One row per day on which the history changed: versions begun and ended that day, and how
    many keys held a version on it (what an as-of join of a fact of that day can find)."""
    _require_state(d)
    rows = reader.query(
        f"""
        WITH days AS (
            SELECT {VALID_FROM} AS day FROM {d.sql_port}
            UNION SELECT {VALID_TO} FROM {d.sql_port} WHERE {VALID_TO} IS NOT NULL
        )
        SELECT
            CAST(days.day AS VARCHAR) AS "day",
            (SELECT count(*) FROM {d.sql_port} WHERE {VALID_FROM} = days.day) AS "began",
            (SELECT count(*) FROM {d.sql_port} WHERE {VALID_TO} = days.day) AS "ended",
            (SELECT count(*) FROM {d.sql_port} AS v
              WHERE v.{VALID_FROM} <= days.day
                AND (v.{VALID_TO} IS NULL OR days.day < v.{VALID_TO})) AS "held"
        FROM days ORDER BY days.day
        """
    )
    rows.columns = HISTORY_COLUMNS
    return rows


def state_as_of(
    reader: ProductReader,
    d: ProductDescriptor,
    day: dt.date,
    limit: int = 20,
    columns: Iterable[Column] | None = None,
) -> pd.DataFrame:
    """The first rows of the state on `day` (every value as DuckDB's text, like the preview).
    `columns`: the ones the viewer may see (auth/rules.visible_columns; default all)."""
    _require_state(d)
    shown = list(d.columns if columns is None else columns)
    if not shown:
        return pd.DataFrame()
    keys = d.time_model.key if d.time_model and d.time_model.key else []
    # ordered by the table's key columns (`v.`), not by their text aliases: 1, 2, ... not 1, 10
    order = ", ".join(f'v."{k}"' for k in keys) or "ALL"
    columns = ", ".join(f'CAST(v."{c.name}" AS VARCHAR) AS "{c.name}"' for c in shown)
    return reader.query(
        f"SELECT {columns} FROM {d.sql_port} AS v WHERE {as_of_predicate(day)} "
        f"ORDER BY {order} LIMIT {int(limit)}"
    ).fillna("NULL")


def as_of_snippets(d: ProductDescriptor, day: dt.date, lake_url: str) -> str:
    """The same state on `day` read through the SQL port and through the file port."""
    _require_state(d)
    predicate = as_of_predicate(day)
    files = consumer_sql(lake_url, d.domain, d.name, d.major).rsplit("\n", 1)[0]
    return (
        f"-- SQL port: the state of {d.id} as of {day.isoformat()}\n"
        f"SELECT * FROM {d.sql_port} WHERE {predicate};\n\n"
        "-- file port: the same rows from the published Parquet files\n"
        f"{files}\n"
        f"SELECT * FROM read_parquet(getvariable('files')) WHERE {predicate};"
    )


def _require_state(d: ProductDescriptor) -> None:
    if not is_state_product(d):
        raise ValueError(f"{d.id} is not a state product: it has no history of versions")
