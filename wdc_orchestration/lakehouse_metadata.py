"""Row counts and column schemas of the tables dbt built, read back from DuckLake.

dagster-dbt's own fetch_row_counts/fetch_column_metadata reopen the dbt profile's `:memory:`
database read-only, which cannot see the attached DuckLake; and reading the SQLite catalog while
the dbt process still writes to it risks "database is locked". So the events of one dbt
invocation are held until dbt exits, then enriched over one connection and released in order."""

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from wdc_orchestration.resources.lakehouse import DuckLakeResource

log = logging.getLogger(__name__)

_TABLE_MATERIALIZATIONS = {"table", "incremental"}


def _tables_of(events: list[Any], nodes: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
    tables = {}
    for position, event in enumerate(events):
        if not isinstance(event, dg.Output | dg.AssetMaterialization):
            continue
        node = nodes.get(str(event.metadata.get("unique_id", dg.TextMetadataValue("")).value))
        if node and node["config"].get("materialized") in _TABLE_MATERIALIZATIONS:
            tables[position] = (node["schema"], node.get("alias") or node["name"])
    return tables


def _describe(conn: Any, schema: str, table: str) -> dict[str, Any]:
    (rows,) = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, dtype) for name, dtype in columns]
        ),
        "dagster/table_name": f"lakehouse.{schema}.{table}",
    }


def with_lakehouse_metadata(
    events: Iterable[Any], lakehouse: DuckLakeResource, nodes: Mapping[str, Any]
) -> Iterator[Any]:
    """Yield `events`, with row count and column schema added to every table dbt materialised.
    If dbt fails, what it built is still reported before the failure is raised."""
    held: list[Any] = []
    failure: BaseException | None = None
    try:
        for event in events:
            held.append(event)
    except Exception as error:  # dbt failed: report what it did build, then fail the step
        failure = error
    tables = _tables_of(held, nodes)
    described: dict[int, dict[str, Any]] = {}
    if tables:
        try:
            with lakehouse.get_connection() as conn:
                for position, (schema, table) in tables.items():
                    described[position] = _describe(conn, schema, table)
        except Exception:
            log.warning("could not read table metadata back from DuckLake", exc_info=True)
    for position, event in enumerate(held):
        yield (
            event.with_metadata({**event.metadata, **described[position]})
            if (position in described)
            else event
        )
    if failure is not None:
        raise failure
