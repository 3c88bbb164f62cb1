"""Building typed polars columns from numeric numpy arrays, and chunking row ranges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa

MONEY = pl.Decimal(18, 2)
TIMESTAMP = pl.Datetime("us", "UTC")
LOCAL_TZ = ZoneInfo("America/Sao_Paulo")
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_UNIX_EPOCH_DATE = dt.date(1970, 1, 1)
_MICROS_PER_SECOND = 1_000_000
_SECONDS_PER_DAY = 86_400


def money(name: str, cents: np.ndarray) -> pl.Series:
    """A Decimal(18, 2) series from integer cents, exactly (no float rounding on the way).

    Arrow's decimal128 is a little-endian int128 of the unscaled value, so the cents plus their
    sign extension are the buffer itself.
    """
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    array = pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])
    return pl.Series(name, array)


def timestamps(name: str, micros: np.ndarray) -> pl.Series:
    """A UTC timestamp[us] series from microseconds since the Unix epoch."""
    return (
        pl.Series(name, np.asarray(micros, dtype=np.int64)).cast(pl.Datetime("us")).cast(TIMESTAMP)
    )


def dates(name: str, days: np.ndarray) -> pl.Series:
    """A Date series from days since 1970-01-01."""
    return pl.Series(name, np.asarray(days, dtype=np.int32)).cast(pl.Date)


def iso_z(name: str, micros: np.ndarray) -> pl.Series:
    """ISO-8601 UTC text to the second with a trailing Z (what the JSON-lines and CSV exports
    carry), e.g. `2026-11-01T18:20:00Z`.

    Gathering a date pool and a time-of-day pool is about twice as fast as strftime.
    """
    seconds = np.asarray(micros, dtype=np.int64) // _MICROS_PER_SECOND
    day = seconds // _SECONDS_PER_DAY
    if len(day) == 0:
        return pl.Series(name, [], dtype=pl.String)
    first_day = int(day.min())
    date_pool = pl.Series(
        [
            (_UNIX_EPOCH_DATE + dt.timedelta(days=first_day + i)).isoformat()
            for i in range(int(day.max()) - first_day + 1)
        ],
        dtype=pl.String,
    )
    parts = pl.DataFrame(
        [
            date_pool.gather(day - first_day).alias("date"),
            _time_of_day_pool().gather(seconds - day * _SECONDS_PER_DAY).alias("time"),
        ]
    )
    return parts.select(pl.concat_str("date", "time").alias(name)).to_series()


@cache
def _time_of_day_pool() -> pl.Series:
    """`THH:MM:SSZ` for every second of a day (86 400 short strings, built once)."""
    return pl.Series(
        [f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)],
        dtype=pl.String,
    )


def local_day_bounds_us(date: dt.date) -> tuple[int, int]:
    """[start, end) of a calendar day in America/Sao_Paulo, as UTC microseconds since epoch."""
    start = dt.datetime.combine(date, dt.time(), LOCAL_TZ)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), LOCAL_TZ)
    return to_micros(start), to_micros(end)


def to_micros(moment: dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact integer arithmetic)."""
    delta = moment - _UNIX_EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MICROS_PER_SECOND + delta.microseconds


def epoch_days(date: dt.date) -> int:
    """Days since 1970-01-01."""
    return (date - _UNIX_EPOCH_DATE).days


def chunk_bounds(n_rows: int, chunk_rows: int) -> Iterator[tuple[int, int]]:
    """[start, stop) row ranges of at most chunk_rows rows, in order (always at least one)."""
    step = max(1, int(chunk_rows))
    if n_rows == 0:
        yield 0, 0
        return
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def labels(name: str, pool: Sequence[str] | np.ndarray, index: np.ndarray) -> pl.Series:
    """Strings gathered from a small pool by integer index (no per-row Python objects)."""
    return pl.Series(name, list(pool), dtype=pl.String).gather(np.asarray(index, dtype=np.int64))
