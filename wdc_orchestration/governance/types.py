"""Physical column types as dbt, DuckDB and descriptors spell them, normalised so they compare,
and the order that tells a widening (safe for consumers) from a narrowing (breaking)."""

from __future__ import annotations

import re

_ALIASES = {
    "int8": "bigint",
    "long": "bigint",
    "int": "integer",
    "int4": "integer",
    "signed": "integer",
    "int2": "smallint",
    "short": "smallint",
    "int1": "tinyint",
    "string": "varchar",
    "text": "varchar",
    "char": "varchar",
    "bpchar": "varchar",
    "bool": "boolean",
    "logical": "boolean",
    "float8": "double",
    "float4": "float",
    "real": "float",
    "timestamptz": "timestamp with time zone",
    "datetime": "timestamp",
    "numeric": "decimal",
}
_INTEGER_WIDTH = {"tinyint": 1, "smallint": 2, "integer": 3, "bigint": 4, "hugeint": 5}
_FLOAT_WIDTH = {"float": 1, "double": 2}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
MONEY_TYPE = "decimal(18,2)"
TIMESTAMP_TYPE = "timestamp with time zone"


def normalise_type(physical_type: str) -> str:
    """`DECIMAL(18, 2)` -> `decimal(18,2)`, `TIMESTAMPTZ` -> `timestamp with time zone`, ..."""
    text = " ".join(physical_type.strip().lower().split())
    text = re.sub(r"\s*([(),])\s*", r"\1", text)
    if text.startswith("varchar("):
        return "varchar"
    if text in ("decimal", "numeric"):
        return "decimal(18,3)"  # DuckDB's default precision and scale
    head, paren, rest = text.partition("(")
    head = _ALIASES.get(head, head)
    return f"{head}{paren}{rest}"


def narrowing(old: str, new: str) -> str | None:
    """Why changing a column from `old` to `new` breaks a consumer; None when it does not
    (same type, or a widening: integer -> bigint, decimal(10,2) -> decimal(18,2), float -> double).
    """
    old, new = normalise_type(old), normalise_type(new)
    if old == new:
        return None
    if old in _INTEGER_WIDTH and new in _INTEGER_WIDTH:
        return None if _INTEGER_WIDTH[new] > _INTEGER_WIDTH[old] else f"narrowed {old} -> {new}"
    if old in _FLOAT_WIDTH and new in _FLOAT_WIDTH:
        return None if _FLOAT_WIDTH[new] > _FLOAT_WIDTH[old] else f"narrowed {old} -> {new}"
    old_decimal, new_decimal = _DECIMAL.match(old), _DECIMAL.match(new)
    if old_decimal and new_decimal:
        (p1, s1), (p2, s2) = map(int, old_decimal.groups()), map(int, new_decimal.groups())
        # every old value still fits: no fewer integer digits, no fewer decimals
        if p2 - s2 >= p1 - s1 and s2 >= s1:
            return None
        return f"narrowed {old} -> {new}"
    return f"changed type {old} -> {new}"
