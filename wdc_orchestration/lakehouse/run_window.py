"""The run window of a dbt invocation (the inclusive partition dates it reads and replaces), handed
to dbt through the environment instead of `--vars`.

The day's one typed path: a daily partition key (`partition_day`), a run's keys
(`RunWindow.from_partition_keys`, `run_window_of` for a run's tags) or a step's partition time
window (`RunWindow.from_time_window`) becomes a `RunWindow`; the one hand-off to dbt is
`DbtRunner.run(..., window=, sources=)` (dbt/runner.py), which sets `invocation_env(window,
sources)` around that one invocation only, beside the platform's settings (dbt/manifest.py:
`dbt_environment`);
dbt-duckdb's plugin (`dbt/duckdb_plugins/session.py`) reads them back with `window_from_env` when
dbt opens its database and sets them as DuckDB session variables, which the window macros read with
`getvariable()`. Nothing else parses partition keys into dates.

Why not `--vars`: dbt hashes the command-line vars into its parse state, so a window that changes
every night forced a full re-parse of the project in every invocation (≈1.5 s each, five per day).
The window now travels as two environment variables that only dbt-duckdb's plugin reads
(`dbt/duckdb_plugins/session.py`), at connection time, as DuckDB session variables; the SQL text dbt
parses never changes, so the prepared partial-parse state is reused (dbt_project/macros/window.sql).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from wdc_orchestration.settings import environment

# environment variable -> DuckDB session variable the window macros read
MIN_DATE_ENV = "WDC_RUN_MIN_DATE"
MAX_DATE_ENV = "WDC_RUN_MAX_DATE"
DUCKDB_VARIABLES = {MIN_DATE_ENV: "wdc_min_date", MAX_DATE_ENV: "wdc_max_date"}
# The raw sources an invocation may read (`<domain>.<entity>,...`): the dbt plugin sets their read
# sets (raw/read_set.py), and only theirs: a domain's build cannot read another domain's raw data.
SOURCES_ENV = "WDC_RUN_SOURCES"


class RunWindowError(ValueError):
    """The run window in the environment is incomplete, not ISO dates, or backwards."""


@dataclass(frozen=True)
class RunWindow:
    min_date: dt.date
    max_date: dt.date

    def __post_init__(self) -> None:
        if self.max_date < self.min_date:
            raise RunWindowError(
                f"run window ends ({self.max_date}) before it starts ({self.min_date})"
            )

    def __str__(self) -> str:
        if self.min_date == self.max_date:
            return self.min_date.isoformat()
        return f"{self.min_date.isoformat()}..{self.max_date.isoformat()}"

    @classmethod
    def from_time_window(cls, start: dt.datetime, end: dt.datetime) -> RunWindow:
        """A partition time window [start, end) as inclusive dates."""
        return cls(start.date(), (end - dt.timedelta(days=1)).date())

    @classmethod
    def from_partition_keys(cls, first: str, last: str | None = None) -> RunWindow:
        """The days from daily partition key `first` to `last` (default: `first`), inclusive."""
        return cls(partition_day(first), partition_day(last or first))

    def as_env(self) -> dict[str, str]:
        return {MIN_DATE_ENV: self.min_date.isoformat(), MAX_DATE_ENV: self.max_date.isoformat()}


def partition_day(partition_key: str) -> dt.date:
    """The day a daily partition key names (partitions.daily_partitions: `YYYY-MM-DD`)."""
    return dt.date.fromisoformat(partition_key)


def run_window_of(tags: Mapping[str, str]) -> RunWindow | None:
    """The days a Dagster run covers, from its tags: one partition, or a single-run backfill's
    range; None for a run without partitions."""
    first = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_start")
    last = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_end")
    if not (first and last):
        return None
    return RunWindow.from_partition_keys(first, last)


def window_from_env(environ: Mapping[str, str] = os.environ) -> RunWindow | None:
    """The window the orchestrator set, or None (a plain `dbt build`: everything)."""
    values = {name: environ.get(name, "").strip() for name in DUCKDB_VARIABLES}
    if not any(values.values()):
        return None
    if not all(values.values()):
        raise RunWindowError(f"set both {MIN_DATE_ENV} and {MAX_DATE_ENV}, or neither: {values}")
    try:
        return RunWindow(
            dt.date.fromisoformat(values[MIN_DATE_ENV]),
            dt.date.fromisoformat(values[MAX_DATE_ENV]),
        )
    except ValueError as error:
        if isinstance(error, RunWindowError):
            raise
        raise RunWindowError(f"the run window must be ISO dates (YYYY-MM-DD): {values}") from error


def sources_from_env(environ: Mapping[str, str] = os.environ) -> list[tuple[str, str]] | None:
    """The (domain, entity) pairs the orchestrator scoped the invocation to; None when unset."""
    value = environ.get(SOURCES_ENV, "").strip()
    if not value:
        return None
    return [tuple(item.split(".", 1)) for item in value.split(",")]  # type: ignore[misc]


def invocation_env(window: RunWindow, sources: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """What one dbt invocation is told of its run: `window`, and the raw `sources` it may read."""
    scope = {SOURCES_ENV: ",".join(f"{domain}.{entity}" for domain, entity in sources)}
    return {**window.as_env(), **scope}


@contextmanager
def run_window_environment(
    window: RunWindow, sources: Sequence[tuple[str, str]] = ()
) -> Iterator[None]:
    """Expose `window`, and the raw `sources` dbt may read, to the dbt invocations made inside the
    block (dbt-duckdb's plugin reads them when dbt opens its database), then restore the
    environment: for dbt run outside a `DbtRunner` step (tests, a `dbt` subprocess); the
    platform's steps pass the window to `DbtRunner.run` instead."""
    with environment(invocation_env(window, sources)):
        yield
