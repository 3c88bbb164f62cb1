"""The privacy scanner: finds values that look like Brazilian personal identifiers in a table's
DATA, whatever its columns are called or classified. A CPF or CNPJ only counts with valid check
digits (an id that merely has 11 digits is not one); e-mails and phones by their shape.

Candidates are found in DuckDB with regular expressions over every column cast to text, in ONE
scan of the relation (an aggregate per column and kind), then confirmed in Python; findings never
carry the value in clear (masked)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb

# Token boundaries: not glued to letters, digits or the characters that make up longer tokens
# (so a hex pseudonym or a longer number does not contain a "CPF").
_B = r"(?:^|[^0-9A-Za-z@._-])"
_E = r"(?:$|[^0-9A-Za-z@_-])"
PATTERNS = {
    "cpf": r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}",
    "cnpj": r"\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    # +55 with a 2-digit area code, or a formatted (DDD) / DDD 9XXXX-XXXX number
    "phone": (
        r"(?:\+55[ -]?\(?\d{2}\)?[ -]?9?\d{4}-?\d{4}"
        r"|\(\d{2}\) ?9?\d{4}-\d{4}"
        r"|\d{2} 9\d{4}-\d{4})"
    ),
}
SAMPLE_LIMIT = 200  # candidate values fetched per column and kind


def _digits(value: str) -> list[int]:
    return [int(c) for c in value if c.isdigit()]


def is_valid_cpf(value: str) -> bool:
    digits = _digits(value)
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        check = (total * 10) % 11 % 10
        if check != digits[size]:
            return False
    return True


def is_valid_cnpj(value: str) -> bool:
    digits = _digits(value)
    if len(digits) != 14 or len(set(digits)) == 1:
        return False
    weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    for size, w in ((12, weights), (13, [6, *weights])):
        remainder = sum(d * k for d, k in zip(digits[:size], w, strict=True)) % 11
        check = 0 if remainder < 2 else 11 - remainder
        if check != digits[size]:
            return False
    return True


_VALIDATORS = {"cpf": is_valid_cpf, "cnpj": is_valid_cnpj}


def mask(value: str) -> str:
    """Keep the shape, hide the content: `123.456.789-09` -> `1**.***.***-*9`."""
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + re.sub(r"[0-9A-Za-z]", "*", value[1:-1]) + value[-1]


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str  # cpf | cnpj | email | phone
    count: int  # confirmed values among the sampled candidates
    example: str  # masked

    def describe(self) -> str:
        return (
            f"{self.count}+ value(s) of {self.column} look like a {self.kind} (e.g. {self.example})"
        )


def confirm(kind: str, candidate: str) -> bool:
    validator = _VALIDATORS.get(kind)
    return validator(candidate) if validator else True


def extract_candidates(kind: str, text: str) -> list[str]:
    pattern = re.compile(_B + "(" + PATTERNS[kind] + ")" + _E)
    return [m.group(1) for m in pattern.finditer(text)]


# Columns of these types print as dates, times or true/false: none of the patterns can match.
_NEVER_MATCHING_TYPES = ("DATE", "TIME", "TIMESTAMP", "BOOLEAN", "INTERVAL")


def _scannable(columns: Iterable[str] | Mapping[str, str]) -> list[str]:
    if not isinstance(columns, Mapping):
        return list(columns)
    return [c for c, t in columns.items() if not str(t).upper().startswith(_NEVER_MATCHING_TYPES)]


def scan_relation(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Iterable[str] | Mapping[str, str],
) -> list[Finding]:
    """Scan `relation` (a table name, or `read_parquet(...)`): `columns` are names, or names with
    their DuckDB types (then date, time and boolean columns are skipped). One pass over the data:
    per column and kind, up to SAMPLE_LIMIT distinct candidate values, confirmed in Python."""
    slots: list[tuple[str, str]] = []
    aggregates: list[str] = []
    parameters: list[str] = []
    for column in _scannable(columns):
        text = f'cast("{column}" as varchar)'
        for kind, pattern in PATTERNS.items():
            slots.append((column, kind))
            aggregates.append(
                f"min(distinct {text}, {SAMPLE_LIMIT}) filter (where regexp_matches({text}, ?))"
            )
            parameters.append(_B + "(" + pattern + ")" + _E)
    if not slots:
        return []
    row = conn.execute(f"select {', '.join(aggregates)} from {relation}", parameters).fetchone()
    findings = []
    for (column, kind), values in zip(slots, row or (), strict=True):
        confirmed = [
            c for value in values or () for c in extract_candidates(kind, value) if confirm(kind, c)
        ]
        if confirmed:
            findings.append(Finding(column, kind, len(confirmed), mask(confirmed[0])))
    return findings
