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
commits the whole transaction or nothing.

Versioned products (dbt model versions, one per major of the contract; docs/governance.md, the
lifecycle): the latest version is the table `<domain>.<product>`, the stable name, with the
view `<domain>.<product>_v<latest>` on it; an older major served through its deprecation window
is the table `<domain>.<product>_v<major>`. The first publication of a new major renames the
stable table, which holds the old major's history, to `<product>_v<old>` and creates the new
major's table, rather than evolving the old one; the first publication after an old version's
`deprecation_date` drops its table and logs it (its file port goes in governance/publishing.py)."""

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

from wdc_orchestration.lakehouse.run_window import RunWindow

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
    # dbt model versions: the model's name, its version (= the contract's major), whether it is
    # the latest_version, and an older version's deprecation_date (retired after it).
    product: str | None = None
    version: int | None = None
    latest: bool = True
    deprecation_date: dt.date | None = None

    def retired(self, today: dt.date) -> bool:
        return (
            not self.latest and self.deprecation_date is not None and today > self.deprecation_date
        )


def _deprecation_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


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
        version = node.get("version")
        tables.append(
            AuditedTable(
                name=node.get("alias") or node["name"],
                date_column=key if materialized == "incremental" and isinstance(key, str) else None,
                partitioned_by=tuple(
                    [partitioned] if isinstance(partitioned, str) else partitioned
                ),
                product=node["name"] if version is not None else None,
                version=int(version) if version is not None else None,
                latest=version is None or str(version) == str(node.get("latest_version")),
                deprecation_date=_deprecation_date(node.get("deprecation_date")),
            )
        )
    # an older major first: it may take over the stable table the latest is then created in
    return sorted(tables, key=lambda t: t.latest)


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


def _is_view(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    (found,) = conn.execute(
        "select count(*) from information_schema.tables where table_catalog = ? "
        "and table_schema = ? and table_name = ? and table_type = 'VIEW'",
        [LAKEHOUSE, schema, name],
    ).fetchone()
    return bool(found)


def _take_over_stable_table(
    conn: duckdb.DuckDBPyConnection, domain: str, table: AuditedTable, audit_columns: dict[str, str]
) -> bool:
    """The first publication of an older version (after a major bump): the stable table
    `<product>` still holds that major's rows and history, so it becomes `<product>_v<major>`
    (and the new major gets a table of its own). Only when its columns are that major's, so a
    stable table already holding the latest is never taken."""
    assert table.product is not None
    if _is_view(conn, domain, table.product):
        return False
    if _columns(conn, domain, table.product) != audit_columns:
        return False
    log.warning(
        "%s.%s: major %s moves to %s.%s with its history; the new major gets %s.%s",
        domain,
        table.product,
        table.version,
        domain,
        table.name,
        domain,
        table.product,
    )
    conn.execute(
        f"alter table {LAKEHOUSE}.{_q(domain)}.{_q(table.product)} rename to {_q(table.name)}"
    )
    return True


def _retire(conn: duckdb.DuckDBPyConnection, domain: str, table: AuditedTable) -> None:
    public = f"{LAKEHOUSE}.{_q(domain)}.{_q(table.name)}"
    if _columns(conn, domain, table.name):
        log.warning(
            "retiring %s: major %s of %s.%s is past its deprecation date %s (dropped)",
            public,
            table.version,
            domain,
            table.product,
            table.deprecation_date,
        )
        conn.execute(f"drop table {public}")


def _version_view(conn: duckdb.DuckDBPyConnection, domain: str, table: AuditedTable) -> None:
    """`<product>_v<latest>`: the latest major under its own name too (unqualified, so the view
    binds in its own catalog whatever name a reader attaches it as)."""
    view = f"{LAKEHOUSE}.{_q(domain)}.{_q(f'{table.name}_v{table.version}')}"
    conn.execute(f"create or replace view {view} as select * from {_q(table.name)}")


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
    if _is_view(conn, domain, table.name):
        # was the latest major's view; now that major's own table (taken over just below)
        conn.execute(f"drop view {public}")
    public_columns = _columns(conn, domain, table.name)
    taken = not public_columns and not table.latest and table.product is not None
    if taken and _take_over_stable_table(conn, domain, table, audit_columns):
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
    today: dt.date | None = None,
) -> Publication:
    """Move the run's window of `tables` from the audit schema into the public one, in one
    DuckLake transaction; the publication, with the snapshot its commit made. An older version
    past its deprecation date on `today` is retired instead (not in the publication's tables)."""
    today = today or dt.date.today()
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
        published = {}
        for table in tables:
            if table.retired(today):
                _retire(conn, domain, table)
                continue
            published[table.name] = _publish_table(conn, domain, table, window)
            if table.latest and table.version is not None:
                _version_view(conn, domain, table)
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
