"""The raw gate's verdicts for one landed day, computed with DuckDB over the day's file exactly as
it landed: the checks see what staging would read."""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from wdc_orchestration.lakehouse.run_window import partition_day
from wdc_orchestration.mesh.partitions import MESH_TIMEZONE
from wdc_orchestration.quality.rules import RawRules
from wdc_orchestration.raw.generation.request import FileFormat
from wdc_orchestration.raw.read_set import MANIFEST_NAME, partition_prefix, verify_day
from wdc_orchestration.resources.lake import LakeStorage, LocalLakeStorage

FILES = "files_match_manifest"
SCHEMA = "raw_schema_matches_staging"
KEYS = "keys_not_null_and_unique"
VALUES = "values_in_range"
VOLUME = "volume_vs_trailing_days"
REFERENCES = "references_resolve"

# Volume: compare with up to this many earlier landed days, once at least MIN_HISTORY exist.
TRAILING_DAYS = 7
MIN_HISTORY = 2

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one day."""

    check: str
    day: str
    passed: bool
    message: str
    rows_affected: int = 0
    severity: dg.AssetCheckSeverity = ERROR
    upstream_missing: bool = False  # could not be decided yet: nothing wrong with this data


class UnreadableRawFile(Exception):
    """The day's file cannot be read the way staging reads it."""


def _readers(file_format: FileFormat, path: str) -> str:
    quoted = path.replace("'", "''")
    if file_format == "parquet":
        return f"read_parquet('{quoted}', hive_partitioning = false)"
    if file_format == "csv":
        # As staging reads it: text, typed explicitly later.
        return (
            f"read_csv('{quoted}', header = true, delim = ',', all_varchar = true, "
            "hive_partitioning = false)"
        )
    return f"read_json('{quoted}', format = 'newline_delimited', hive_partitioning = false)"


@contextmanager
def local_file(lake: LakeStorage, key: str) -> Iterator[Path | None]:
    """The object at `key` as a local file (the lake's own file when local; a temporary copy from
    object storage otherwise); None when it does not exist."""
    if not lake.exists(key):
        yield None
        return
    if isinstance(lake, LocalLakeStorage):
        yield Path(lake.url(key))
        return
    with tempfile.TemporaryDirectory(prefix="wdc-check-") as scratch:
        path = Path(scratch) / Path(key).name
        path.write_bytes(lake.read_bytes(key))
        yield path


def open_day(con: duckdb.DuckDBPyConnection, file_format: FileFormat, path: Path) -> int:
    """Expose the day's file as the view `raw_day`; its row count. Raises UnreadableRawFile."""
    if path.stat().st_size == 0:
        raise UnreadableRawFile(f"{path.name} is empty (0 bytes)")
    try:
        reader = _readers(file_format, str(path))
        con.execute(f"create or replace temp view raw_day as select * from {reader}")
        return con.execute("select count(*) from raw_day").fetchone()[0]
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise UnreadableRawFile(
            f"{path.name} cannot be read as {file_format}: {first_line}"
        ) from error


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)


def check_schema(con: duckdb.DuckDBPyConnection, rules: RawRules, day: str) -> Finding:
    columns = [row[0] for row in con.execute("describe raw_day").fetchall()]
    missing = [c for c in rules.expected_columns if c not in columns]
    extra = [c for c in columns if c not in rules.expected_columns]
    if missing:
        rows = _count(con, "select count(*) from raw_day")
        hint = f"; unexpected: {extra}" if extra else ""
        return Finding(SCHEMA, day, False, f"missing columns staging reads: {missing}{hint}", rows)
    if extra:
        # Staging ignores them: worth a look (a new field, or a rename half done), not a stop.
        return Finding(SCHEMA, day, False, f"unexpected columns: {extra}", 0, WARN)
    return Finding(SCHEMA, day, True, f"{len(columns)} columns as staging expects")


def check_keys(con: duckdb.DuckDBPyConnection, rules: RawRules, day: str) -> Finding:
    problems: list[str] = []
    affected = 0
    for column in (*rules.key, *rules.not_null):
        nulls = _count(con, f"select count(*) from raw_day where {_ident(column)} is null")
        if nulls:
            problems.append(f"{nulls} null {column}")
            affected += nulls
    groups = [rules.key] if rules.key else []
    groups += [(column,) for column in rules.unique]
    for group in groups:
        cols = ", ".join(_ident(c) for c in group)
        extra = _count(
            con,
            f"select sum(n - 1) from (select count(*) as n from raw_day "
            f"where ({cols}) is not null group by {cols} having count(*) > 1)",
        )
        if extra:
            problems.append(f"{extra} duplicate {'+'.join(group)}")
            affected += extra
    if problems:
        return Finding(KEYS, day, False, "; ".join(problems), affected)
    return Finding(KEYS, day, True, "keys present and unique")


def valid_cpf(value: str | None) -> bool:
    """A CPF with its two check digits right (formatting ignored)."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    numbers = [int(d) for d in digits]
    for position in (9, 10):
        total = sum(
            n * w for n, w in zip(numbers[:position], range(position + 1, 1, -1), strict=True)
        )
        if (total * 10 % 11) % 10 != numbers[position]:
            return False
    return True


VALIDATORS = {"cpf": valid_cpf}


def check_values(con: duckdb.DuckDBPyConnection, rules: RawRules, day: str) -> Finding:
    problems: list[str] = []
    affected = 0
    date = f"date '{day}'"
    for column in rules.non_negative:
        c = _ident(column)
        bad = _count(
            con,
            f"select count(*) from raw_day where try_cast({c} as double) < 0 "
            f"or ({c} is not null and try_cast({c} as double) is null)",
        )
        if bad:
            problems.append(f"{bad} negative or non-numeric {column}")
            affected += bad
    for column in rules.in_partition:
        c = _ident(column)
        bad = _count(
            con,
            f"select count(*) from raw_day where {c} is not null and "
            f"(cast({c} as timestamptz) at time zone '{MESH_TIMEZONE}')::date <> {date}",
        )
        if bad:
            problems.append(f"{bad} {column} outside {day} ({MESH_TIMEZONE})")
            affected += bad
    for column in rules.not_after_partition:
        c = _ident(column)
        bad = _count(con, f"select count(*) from raw_day where cast({c} as date) > {date}")
        if bad:
            problems.append(f"{bad} {column} after {day}")
            affected += bad
    for column, validator in rules.formats.items():
        valid = VALIDATORS[validator]
        values = con.execute(f"select {_ident(column)} from raw_day").fetchall()
        bad = sum(1 for (value,) in values if value is not None and not valid(str(value)))
        if bad:
            problems.append(f"{bad} invalid {validator} in {column}")
            affected += bad
    if problems:
        return Finding(VALUES, day, False, "; ".join(problems), affected)
    return Finding(VALUES, day, True, "values in range")


def describe_unexpected(lake: LakeStorage, key: str, file_format: FileFormat) -> tuple[str, int]:
    """What an unexpected file in a landed day's folder is, in a few words, and its rows when it
    reads as the entity's format (the rows that would have reached staging through a glob)."""
    with local_file(lake, key) as path, duckdb.connect() as con:
        if path is None:
            return "gone", 0
        try:
            rows = open_day(con, file_format, path)
        except UnreadableRawFile as error:
            return str(error), 0
        columns = [row[0] for row in con.execute("describe raw_day").fetchall()]
        return f"{rows} rows as {file_format}, columns {columns}", rows


def check_files(
    lake: LakeStorage, rules: RawRules, file_format: FileFormat, day: str
) -> tuple[Finding, bool]:
    """The day's folder holds exactly the files its manifest lists, unchanged (what staging reads,
    raw/read_set.py); and whether the day landed at all."""
    state = verify_day(lake, rules.domain, rules.entity, partition_day(day))
    if not state.landed:
        stray = f"; files without a manifest: {list(state.unexpected)}" if state.unexpected else ""
        return Finding(FILES, day, False, f"{state.prefix} has not landed{stray}"), False
    if state.ok:
        return Finding(FILES, day, True, "the files are the manifest's, unchanged"), True
    rows_by_key: dict[str, int] = {}

    def describe(key: str) -> str:
        description, rows_by_key[key] = describe_unexpected(lake, key, file_format)
        return description

    problems = state.problems(describe)
    return Finding(FILES, day, False, "; ".join(problems), sum(rows_by_key.values())), True


def unreadable(check: str, day: str, reason: str, rows: int) -> Finding:
    return Finding(check, day, False, f"file unreadable: {reason}", rows)


def landed_rows(lake: LakeStorage, domain: str, entity: str, day: dt.date) -> int | None:
    """Rows of a landed (and not quarantined) day, from its manifest; None if not landed."""
    key = f"{partition_prefix(domain, entity, day)}/{MANIFEST_NAME}"
    if not lake.exists(key):
        return None
    return int(json.loads(lake.read_bytes(key))["rows"])


def volume_tolerance(expected: float) -> float:
    """How far from the trailing median a day may be: weekdays swing ±20% and tiny counts are
    noisy (Poisson-like), so the band is the wider of 60% and four standard deviations."""
    return max(0.6 * expected, 4 * expected**0.5, 3.0)


def check_volume(lake: LakeStorage, rules: RawRules, day: str, rows: int) -> Finding:
    """Rows of the day against the median of the trailing landed days (an anomaly, not a fixed
    number); WARN only: a surprising volume is worth a look, not a stop."""
    today = partition_day(day)
    history = [
        n
        for k in range(1, TRAILING_DAYS + 1)
        if (n := landed_rows(lake, rules.domain, rules.entity, today - dt.timedelta(days=k)))
        is not None
    ]
    if len(history) < MIN_HISTORY:
        return Finding(
            VOLUME,
            day,
            True,
            f"{rows} rows; {len(history)} trailing day(s), too few to judge",
            0,
            WARN,
        )
    expected = statistics.median(history)
    tolerance = volume_tolerance(expected)
    message = (
        f"{rows} rows vs median {expected:g} of {len(history)} trailing days (±{tolerance:.0f})"
    )
    if abs(rows - expected) > tolerance:
        return Finding(
            VOLUME, day, False, f"volume anomaly: {message}", abs(rows - int(expected)), WARN
        )
    return Finding(VOLUME, day, True, message, 0, WARN)
