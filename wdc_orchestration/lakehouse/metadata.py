"""Row counts and column schemas of the tables dbt built, read back from DuckLake.

dagster-dbt's own fetch_row_counts/fetch_column_metadata reopen the dbt profile's `:memory:`
database read-only, which cannot see the attached DuckLake; so the dbt step reads them over its
own lakehouse connection once dbt has finished (and, under write-audit-publish, once the window
was published: a product's row count is the public table's)."""

from typing import Any

import dagster as dg


def describe_table(conn: Any, schema: str, table: str) -> dict[str, Any]:
    """Row count, column schema and address of `lakehouse.<schema>.<table>`, as asset metadata."""
    (rows,) = conn.execute(f'select count(*) from lakehouse."{schema}"."{table}"').fetchone()
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'lakehouse' and table_schema = ? and table_name = ? "
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
