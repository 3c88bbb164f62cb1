"""What a simulator is asked to produce, and the deterministic randomness it must use."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from wdc_orchestration.raw.generation.volume import scale_factor_problem

FileFormat = Literal["parquet", "csv", "jsonl"]

# The simulated company starts trading on this date; populations grow from it.
EPOCH = dt.date(2024, 1, 1)


def stable_int(*parts: str | int) -> int:
    """A 64-bit integer that depends only on `parts` (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True)
class GenerationRequest:
    """One day of one source system: the same request always yields the same rows."""

    date: dt.date
    scale_factor: float = 1.0
    seed: int = 42
    # Rows per chunk: simulators yield frames of at most this many rows so memory stays bounded.
    chunk_rows: int = 250_000
    # Named defects to plant (used by the data-quality work); empty for a clean day.
    defects: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # The last line of defence (run config from the UI reaches here unchecked by the CLI).
        problem = scale_factor_problem(self.scale_factor)
        if problem:
            raise ValueError(problem)

    def rng(self, *stream: str | int) -> np.random.Generator:
        """A generator seeded by (seed, date, stream...): independent streams, reproducible."""
        return np.random.default_rng(
            [self.seed & 0xFFFFFFFF, self.date.toordinal(), stable_int(*stream) & 0xFFFFFFFF]
        )

    @property
    def day_index(self) -> int:
        """Days since the simulated company's EPOCH (0 on the epoch)."""
        return (self.date - EPOCH).days


@dataclass(frozen=True)
class RawEntity:
    """A table a source system exports every day, and how to simulate it."""

    name: str
    file_format: FileFormat
    description: str
    generate: Callable[[GenerationRequest], Iterator[pl.DataFrame]]
