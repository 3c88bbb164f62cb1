"""Write-audit-publish on DuckLake: a run's rows reach the tables consumers read only after they
passed every dbt test and blocking check.

- WRITE: dbt builds the domain into its audit schema, `<domain>__audit` (the dbt project's
  generate_schema_name): the staging views, and the run's window of every table and incremental
  model (a fresh build: `--full-refresh`, so an incremental model holds exactly the window).
- AUDIT: dbt's tests and the platform's blocking checks (the governance policies: privacy scan,
  contract, ...) read the audit relations.
- PUBLISH: one DuckLake transaction replaces the window's rows of each public table
  (`<domain>.<model>`, the SQL port) with the audit rows: delete the window, insert the audit
  rows; a table without a window (a full rebuild, e.g. a dimension) is replaced whole. The commit
  carries a message and the publication's details, so each publication is a DuckLake snapshot a
  consumer can time-travel to (`AT (VERSION => ...)`, governance/publications.py).

A failed test or check publishes nothing: every public table keeps its snapshot and rows, and the
audit tables stay for inspection until the domain's next run (the failed run's incident names the
snapshot to read them at). A process killed mid-way leaves no half-published window: DuckLake
commits the whole transaction or nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from wdc_orchestration.run_window import RunWindow

log = logging.getLogger(__name__)

LAKEHOUSE = "lakehouse"
# Keep in step with dbt_project/macros/generate_schema_name.sql (audit_suffix).
AUDIT_SUFFIX = "__audit"
# The author of the platform's DuckLake commits, and the kind in their extra_info.
COMMIT_AUTHOR = "wdc"
PUBLICATION_KIND = "wdc/publication"


def audit_schema(domain: str) -> str:
    return f"{domain}{AUDIT_SUFFIX}"


def is_audit_schema(schema: str) -> bool:
    return schema.endswith(AUDIT_SUFFIX)


class PublishError(RuntimeError):
    """The audit rows cannot be published as they are (nothing was published)."""


@dataclass(frozen=True)
class AuditedTable:
    """A table or incremental model the run built in the audit schema, to publish."""

    name: str
    # The column whose days an incremental model replaces (its delete+insert `unique_key`);
    # None for a model rebuilt whole on every run.
    date_column: str | None = None
    partitioned_by: tuple[str, ...] = ()


def audited_tables(
    nodes: Mapping[str, Mapping[str, Any]], unique_ids: Sequence[str]
) -> list[AuditedTable]:
    """The tables among the dbt nodes a run built, as they are published."""
    tables = []
    for unique_id in unique_ids:
        node = nodes.get(unique_id)
        if node is None or node.get("resource_type") != "model":
            continue
        config = node.get("config", {})
        materialized = config.get("materialized")
        if materialized not in ("table", "incremental"):
            continue
        key = config.get("unique_key")
        partitioned = config.get("partitioned_by") or ()
        tables.append(
            AuditedTable(
                name=node.get("alias") or node["name"],
                date_column=key if materialized == "incremental" and isinstance(key, str) else None,
                partitioned_by=tuple(
                    [partitioned] if isinstance(partitioned, str) else partitioned
                ),
            )
        )
    return tables


@dataclass(frozen=True)
class Publication:
    """One publication: the DuckLake snapshot that made a run's window of a domain's tables
    visible."""

    publication_id: str
    domain: str
    run_id: str
    window: tuple[str, str]  # inclusive ISO dates
    tables: Mapping[str, int]  # table -> rows published (the window's rows, or the whole table)
    published_at: str
    snapshot_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def commit_info(self) -> str:
        return json.dumps(
            {
                "kind": PUBLICATION_KIND,
                "publication_id": self.publication_id,
                "domain": self.domain,
                "run_id": self.run_id,
                "window": list(self.window),
                "tables": dict(self.tables),
                "published_at": self.published_at,
                **self.extra,
            },
            sort_keys=True,
        )

    @classmethod
    def from_commit(cls, snapshot_id: int, info: str | None) -> Publication | None:
        """The publication a DuckLake commit made, or None for any other commit."""
        try:
            data = json.loads(info or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != PUBLICATION_KIND:
            return None
        known = {"kind", "publication_id", "domain", "run_id", "window", "tables", "published_at"}
        return cls(
            publication_id=data["publication_id"],
            domain=data["domain"],
            run_id=data["run_id"],
            window=tuple(data["window"]),
            tables=data["tables"],
            published_at=data["published_at"],
            snapshot_id=snapshot_id,
            extra={k: v for k, v in data.items() if k not in known},
        )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [LAKEHOUSE, schema, table],
    ).fetchall()
    return dict(rows)


def _window_predicate(table: AuditedTable, window: RunWindow) -> str:
    return (
        f"{_q(table.date_column)} between date '{window.min_date.isoformat()}' "
        f"and date '{window.max_date.isoformat()}'"
    )


def _check_audit(
    conn: duckdb.DuckDBPyConnection, domain: str, table: AuditedTable, window: RunWindow
) -> dict[str, str]:
    """The audit table's columns; refuses rows outside the window of an incremental model (they
    would survive the window's delete and duplicate a day already published)."""
    audit = f"{LAKEHOUSE}.{_q(audit_schema(domain))}.{_q(table.name)}"
    columns = _columns(conn, audit_schema(domain), table.name)
    if not columns:
        raise PublishError(f"{audit} does not exist: the run did not build it")
    if table.date_column is not None:
        if table.date_column not in columns:
            raise PublishError(f"{audit} has no column {table.date_column!r} (its unique_key)")
        (outside,) = conn.execute(
            f"select count(*) from {audit} where not ({_window_predicate(table, window)}) "
            f"or {_q(table.date_column)} is null"
        ).fetchone()
        if outside:
            raise PublishError(
                f"{audit} has {outside} row(s) outside the run window {window} (by "
                f"{table.date_column}): the model must read only its window"
            )
    return columns


def _evolve(
    conn: duckdb.DuckDBPyConnection,
    public: str,
    public_columns: dict[str, str],
    audit_columns: dict[str, str],
) -> None:
    """Additive change only: new columns are added (like dbt's append_new_columns); a dropped or
    retyped column is a breaking change the publication refuses (a new major of the product)."""
    dropped = [c for c in public_columns if c not in audit_columns]
    retyped = [
        f"{c} {public_columns[c]} -> {audit_columns[c]}"
        for c in public_columns
        if c in audit_columns and public_columns[c] != audit_columns[c]
    ]
    if dropped or retyped:
        raise PublishError(
            f"{public}: the new build drops {dropped} / retypes {retyped}; that breaks the "
            "published contract (bump the product's major and rebuild its table)"
        )
    for column, dtype in audit_columns.items():
        if column not in public_columns:
            log.warning("%s: adding column %s %s", public, column, dtype)
            conn.execute(f"alter table {public} add column {_q(column)} {dtype}")


def _publish_table(
    conn: duckdb.DuckDBPyConnection, domain: str, table: AuditedTable, window: RunWindow
) -> int:
    audit_columns = _check_audit(conn, domain, table, window)
    audit = f"{LAKEHOUSE}.{_q(audit_schema(domain))}.{_q(table.name)}"
    public = f"{LAKEHOUSE}.{_q(domain)}.{_q(table.name)}"
    public_columns = _columns(conn, domain, table.name)
    if not public_columns:
        # Created empty, partitioned, then filled: DuckLake inlines a few rows (a new domain's
        # first day at a small scale) into its catalog, and refuses to ALTER a table holding
        # rows inlined in the same transaction.
        conn.execute(f"create table {public} as select * from {audit} limit 0")
        if table.partitioned_by:
            keys = ", ".join(_q(c) for c in table.partitioned_by)
            conn.execute(f"alter table {public} set partitioned by ({keys})")
        conn.execute(f"insert into {public} select * from {audit}")
    else:
        _evolve(conn, public, public_columns, audit_columns)
        where = f" where {_window_predicate(table, window)}" if table.date_column else ""
        conn.execute(f"delete from {public}{where}")
        conn.execute(f"insert into {public} by name select * from {audit}")
    (rows,) = conn.execute(f"select count(*) from {audit}").fetchone()
    return int(rows)


def publish_window(
    conn: duckdb.DuckDBPyConnection,
    domain: str,
    tables: Sequence[AuditedTable],
    window: RunWindow,
    run_id: str,
    extra: Mapping[str, Any] | None = None,
) -> Publication:
    """Move the run's window of `tables` from the audit schema into the public one, in one
    DuckLake transaction; the publication, with the snapshot its commit made."""
    publication = Publication(
        publication_id=uuid.uuid4().hex,
        domain=domain,
        run_id=run_id,
        window=(window.min_date.isoformat(), window.max_date.isoformat()),
        tables={},
        published_at=dt.datetime.now(dt.UTC).isoformat(),
        extra=dict(extra or {}),
    )
    conn.execute(f"create schema if not exists {LAKEHOUSE}.{_q(domain)}")
    conn.execute("begin transaction")
    try:
        published = {table.name: _publish_table(conn, domain, table, window) for table in tables}
        publication = dataclasses.replace(publication, tables=published)
        conn.execute(
            f"call {LAKEHOUSE}.set_commit_message(?, ?, extra_info => ?)",
            [COMMIT_AUTHOR, f"publish {domain} {window}", publication.commit_info()],
        )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    (snapshot_id,) = conn.execute(
        f"select snapshot_id from {LAKEHOUSE}.snapshots() where commit_extra_info = ?",
        [publication.commit_info()],
    ).fetchone()
    publication = dataclasses.replace(publication, snapshot_id=int(snapshot_id))
    log.info(
        "published %s %s in DuckLake snapshot %s: %s",
        domain,
        window,
        snapshot_id,
        ", ".join(f"{name} {rows} rows" for name, rows in published.items()),
    )
    return publication


def publications(conn: duckdb.DuckDBPyConnection) -> list[Publication]:
    """Every publication on the catalog, oldest first."""
    rows = conn.execute(
        f"select snapshot_id, commit_extra_info from {LAKEHOUSE}.snapshots() "
        "where author = ? order by snapshot_id",
        [COMMIT_AUTHOR],
    ).fetchall()
    found = (Publication.from_commit(int(sid), info) for sid, info in rows)
    return [p for p in found if p is not None]


def current_snapshot(conn: duckdb.DuckDBPyConnection) -> int:
    (snapshot_id,) = conn.execute(f"select id from {LAKEHOUSE}.current_snapshot()").fetchone()
    return int(snapshot_id)
