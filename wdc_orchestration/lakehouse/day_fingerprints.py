"""What a consumer's day reads of a published table, as one short fingerprint per day.

A producer publishes a day again for many reasons (a rerun, a retry, a late file of another
entity); its consumers' days need rebuilding only when what they read of that day changed
(quality/late_upstream.py). Each publication records, per day of its window, the row count and
an order-free hash of the rows a consumer of that day reads:

- a table with a day column (an incremental fact: its `unique_key`): the rows of that day;
- a type-2 history (`valid_from`/`valid_to`): the versions that held on that day, their key and
  values only (a version closed or started elsewhere does not change the state of that day);
- any other table (rebuilt whole): the whole table, the same for every day.

`bit_xor` of the rows' 64-bit hashes: equal rows give equal fingerprints in any order; the count
beside it keeps a pair of identical rows from cancelling out unseen."""

from __future__ import annotations

import datetime as dt

import duckdb

from wdc_orchestration.governance.descriptor import IS_CURRENT, VALID_FROM, VALID_TO
from wdc_orchestration.lakehouse.run_window import RunWindow

FINGERPRINTS_METADATA = "wdc/day_fingerprints"
HISTORY_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _days(window: RunWindow) -> list[str]:
    count = (window.max_date - window.min_date).days + 1
    return [(window.min_date + dt.timedelta(days=n)).isoformat() for n in range(count)]


def day_fingerprints(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[str],
    window: RunWindow,
    date_column: str | None,
) -> dict[str, str]:
    """Day (ISO) -> `<rows>:<hash>` of `relation` for every day of `window`."""
    days = _days(window)
    first, last = window.min_date.isoformat(), window.max_date.isoformat()
    if date_column is not None:
        hashed = ", ".join(_q(c) for c in columns)
        rows = conn.execute(
            f"select {_q(date_column)}::varchar, count(*), bit_xor(hash({hashed})) "
            f"from {relation} where {_q(date_column)} between date '{first}' and date '{last}' "
            "group by 1"
        ).fetchall()
    elif VALID_FROM in columns and VALID_TO in columns:
        hashed = ", ".join(f"t.{_q(c)}" for c in columns if c not in HISTORY_COLUMNS)
        rows = conn.execute(
            f"select d.day::date::varchar, count(*), bit_xor(hash({hashed})) "
            f"from range(date '{first}', date '{last}' + interval 1 day, interval 1 day) "
            f"as d(day) inner join {relation} as t on t.{VALID_FROM} <= d.day "
            f"and (t.{VALID_TO} is null or t.{VALID_TO} > d.day) group by 1"
        ).fetchall()
    else:
        hashed = ", ".join(_q(c) for c in columns)
        (count, value) = conn.execute(
            f"select count(*), bit_xor(hash({hashed})) from {relation}"
        ).fetchone()
        rows = [(day, count, value) for day in days]
    found = {str(day): f"{count}:{(value or 0):016x}" for day, count, value in rows}
    return {day: found.get(day, "0:0000000000000000") for day in days}
