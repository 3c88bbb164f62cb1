"""Pools of pt_BR values built once with a fixed Faker seed; rows index into them with numpy.

Faker is far too slow to call per row; a few hundred distinct names gathered into polars Series
give realistic text at numpy speed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import polars as pl
from faker import Faker

# The pools are part of the simulated world, not of a request: a fixed seed keeps them stable.
_FAKER_SEED = 20240101
_DRAWS = 4_000

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br", "bol.com.br",
    "icloud.com", "terra.com.br",
)  # fmt: skip
# Relative frequency of each email domain (gmail dominates in Brazil).
EMAIL_DOMAIN_WEIGHTS: tuple[float, ...] = (0.55, 0.18, 0.08, 0.07, 0.04, 0.03, 0.03, 0.02)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII without spaces or accents, for email local parts."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _distinct(values: list[str]) -> list[str]:
    """Distinct values in order of first appearance (deterministic for a fixed Faker seed)."""
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class NamePools:
    """Names as polars Series (for gathers) plus their email-ready slugs."""

    first: pl.Series
    first_slug: pl.Series
    last: pl.Series
    last_slug: pl.Series


@cache
def name_pools() -> NamePools:
    """pt_BR first names and surnames, built once per process."""
    fake = Faker("pt_BR")
    fake.seed_instance(_FAKER_SEED)
    first = _distinct([fake.first_name() for _ in range(_DRAWS)])
    last = _distinct([fake.last_name() for _ in range(_DRAWS)])
    return NamePools(
        first=pl.Series("first", first, dtype=pl.String),
        first_slug=pl.Series("first_slug", [ascii_slug(v) for v in first], dtype=pl.String),
        last=pl.Series("last", last, dtype=pl.String),
        last_slug=pl.Series("last_slug", [ascii_slug(v) for v in last], dtype=pl.String),
    )


@cache
def colour_pool() -> pl.Series:
    """Short pt_BR colour names (one or two words) for product variants."""
    fake = Faker("pt_BR")
    fake.seed_instance(_FAKER_SEED)
    colours = _distinct([fake.color_name() for _ in range(_DRAWS // 4)])
    short = sorted((c for c in colours if len(c.split()) <= 2), key=colours.index)
    return pl.Series("colour", short, dtype=pl.String)
