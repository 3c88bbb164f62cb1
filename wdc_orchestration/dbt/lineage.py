"""Column lineage from compiled SQL, with sqlglot, the way dagster-dbt derives its
`dagster/column_lineage` metadata (dagster_dbt/core/dbt_cli_event.py): qualify and optimise the
query against the columns of the relations it reads, then walk sqlglot's lineage graph of each
output column down to its leaves, the columns of those relations.

Two layers:
- `column_lineage(sql, schemas)`: a pure function of one query and the columns of the relations it
  reads, for any caller (the portal; the dbt step, to attach `dagster/column_lineage`).
- `dbt_column_lineage(manifest, compiled)`: every model of a dbt project, its relations mapped
  back to dbt nodes. A source that dbt-duckdb renders as a table function (`read_parquet('...')`,
  the raw files) is renamed to a plain relation first, so its columns resolve like a table's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlglot import MappingSchema, exp, parse_one, to_table
from sqlglot.errors import SqlglotError
from sqlglot.expressions import normalize_table_name
from sqlglot.lineage import lineage
from sqlglot.optimizer import optimize

log = logging.getLogger(__name__)

DIALECT = "duckdb"
# The catalog of the stand-in relations of sources read through table functions.
SOURCES_CATALOG = "__dbt_sources"


class ColumnRef(NamedTuple):
    """One column of one relation (a relation name as given; a dbt unique id in the dbt layer)."""

    relation: str
    column: str


def _normalised(relation: str, dialect: str) -> str:
    return normalize_table_name(to_table(relation, dialect=dialect), dialect=dialect)


def column_lineage(
    sql: str, schemas: Mapping[str, Mapping[str, str]], dialect: str = DIALECT
) -> dict[str, list[ColumnRef]]:
    """Output column (lower case) -> the columns of the relations in `schemas` it is computed
    from. `schemas` maps each relation the query reads (as `db.schema.table`, quoted or not) to
    its columns and types. Relations not in `schemas` give no lineage (their columns cannot be
    resolved); raises sqlglot's errors when the query cannot be qualified against them."""
    mapping = MappingSchema(dialect=dialect)
    by_normalised: dict[str, str] = {}
    for relation, columns in schemas.items():
        mapping.add_table(to_table(relation, dialect=dialect), dict(columns), dialect=dialect)
        by_normalised[_normalised(relation, dialect)] = relation
    optimised = optimize(parse_one(sql, dialect=dialect), schema=mapping, dialect=dialect)
    # As dagster-dbt does: lineage() re-parses the optimised SQL text (newer sqlglot leaves
    # plain-string aliases in an optimised AST that lineage() cannot walk).
    optimised_sql = optimised.sql(dialect=dialect)
    found: dict[str, list[ColumnRef]] = {}
    for column in optimised.named_selects:
        refs: set[ColumnRef] = set()
        for node in lineage(column, sql=optimised_sql, schema=mapping, dialect=dialect).walk():
            if node.downstream:  # only the leaves are columns of the input relations
                continue
            table = node.expression.find(exp.Table)
            if table is None:
                continue
            relation = by_normalised.get(normalize_table_name(table, dialect=dialect))
            if relation is not None:
                refs.add(ColumnRef(relation, exp.to_column(node.name).name.lower()))
        found[column.lower()] = sorted(refs)
    return found


# dbt layer ---------------------------------------------------------------------------------------


def _source_relation(source: Mapping[str, Any]) -> str:
    """A plain relation name standing for a source rendered as a table function (three parts,
    like every other relation: sqlglot's schema needs one nesting level)."""
    return f'"{SOURCES_CATALOG}"."{source["source_name"]}"."{source["name"]}"'


def _declared_columns(node: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: (column.get("data_type") or "unknown")
        for name, column in node.get("columns", {}).items()
    }


def dbt_column_lineage(
    manifest: Mapping[str, Any],
    compiled: Mapping[str, str],
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, list[ColumnRef]]]:
    """Model unique id -> output column -> its upstream (unique id, column) pairs, for every
    model in `compiled` (unique id -> compiled SQL, e.g. from `dbt compile`). The columns of each
    relation come from `columns` (unique id -> column -> type, e.g. the warehouse's) and else from
    the manifest (the dbt YAML). Ephemeral models are CTEs of their children's compiled SQL, so a
    model's lineage goes through them to the relations they read. A model whose SQL cannot be
    resolved is logged and left out."""
    columns = columns or {}
    relations: dict[str, str] = {}  # relation name as it appears in compiled SQL -> unique id
    schemas: dict[str, dict[str, str]] = {}
    rename: dict[str, str] = {}  # a source's table function -> its stand-in relation
    for unique_id, node in [*manifest["sources"].items(), *manifest["nodes"].items()]:
        relation = node.get("relation_name")
        if not relation or node["resource_type"] not in ("source", "model", "seed", "snapshot"):
            continue
        if node["resource_type"] == "source" and "(" in relation:
            rename[relation] = _source_relation(node)
            relation = rename[relation]
        relations[relation] = unique_id
        schemas[relation] = dict(columns.get(unique_id) or _declared_columns(node))
    lineage_by_model: dict[str, dict[str, list[ColumnRef]]] = {}
    for unique_id, sql in compiled.items():
        for table_function, stand_in in rename.items():
            sql = sql.replace(table_function, stand_in)
        try:
            per_column = column_lineage(sql, schemas)
        except (SqlglotError, ValueError, KeyError) as error:
            log.warning("no column lineage for %s: %s", unique_id, error)
            continue
        lineage_by_model[unique_id] = {
            column: [ColumnRef(relations[ref.relation], ref.column) for ref in refs]
            for column, refs in per_column.items()
        }
    return lineage_by_model
