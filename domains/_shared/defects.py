"""Named defects a day's raw data can be given on purpose, to prove the quality gates stop them.

Each kind damages exactly one entity of one source system, the way real source systems break:
either the rows (a few rows of the first chunk, so the damage is small and easy to miss) or the
finished file (cut short, emptied, broken lines). Asked for through `GenerationRequest.defects`
(run config `defects: [...]` of the raw assets, or `wdc materialize --defects KIND,...|all`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

# How many rows a row-level defect damages: a handful, like a real bad batch.
DAMAGED_ROWS = 3
# Customer ids far beyond any simulated customer base (N(D) stays in the low millions).
UNKNOWN_CUSTOMER_BASE = 9_000_000_000

FrameDefect = Callable[[pl.DataFrame], pl.DataFrame]
FileDefect = Callable[[Path], None]


@dataclass(frozen=True)
class Defect:
    """One named defect: which entity it damages, how, and what a reader should expect."""

    kind: str
    domain: str
    entity: str
    description: str
    frame: FrameDefect | None = None  # damages the rows of the first chunk
    file: FileDefect | None = None  # damages the finished file
    # Where the platform stops it: "raw gate" (the day never reaches dbt), or "audit" (it passes
    # the raw gate, is built into the audit schema, and a product test or a blocking policy stops
    # its publication).
    caught_by: str = "raw gate"


def _first_rows(n: int = DAMAGED_ROWS) -> pl.Expr:
    return pl.int_range(pl.len()) < n


def _null_keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(_first_rows()).then(None).otherwise(pl.col("payment_id")).alias("payment_id")
    )


def _duplicate_ids(frame: pl.DataFrame) -> pl.DataFrame:
    # The source system sent the same orders twice (a retried export batch).
    return pl.concat([frame, frame.head(DAMAGED_ROWS)])


def _negative_amounts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(_first_rows()).then(-pl.col("amount")).otherwise(pl.col("amount")).alias("amount")
    )


def _invalid_cpfs(frame: pl.DataFrame) -> pl.DataFrame:
    # Same shape (`123.456.789-09`), wrong check digits: only a real validation catches it.
    digits = (pl.col("cpf").str.slice(12, 2).cast(pl.Int32) + 11) % 100
    broken = pl.col("cpf").str.slice(0, 12) + digits.cast(pl.String).str.zfill(2)
    return frame.with_columns(pl.when(_first_rows()).then(broken).otherwise(pl.col("cpf")))


def _unknown_customers(frame: pl.DataFrame) -> pl.DataFrame:
    unknown = UNKNOWN_CUSTOMER_BASE + pl.int_range(pl.len(), dtype=pl.Int64)
    return frame.with_columns(
        pl.when(_first_rows()).then(unknown).otherwise(pl.col("customer_id")).alias("customer_id")
    )


def _dates_outside_partition(frame: pl.DataFrame) -> pl.DataFrame:
    shifted = pl.col("order_ts") - pl.duration(days=3)
    return frame.with_columns(
        pl.when(_first_rows()).then(shifted).otherwise(pl.col("order_ts")).alias("order_ts")
    )


def _renamed_column(frame: pl.DataFrame) -> pl.DataFrame:
    # The ERP release renamed the price column.
    return frame.rename({"preco": "preco_venda"})


def _missing_column(frame: pl.DataFrame) -> pl.DataFrame:
    # The carrier integration stopped sending the promised date.
    return frame.drop("promised_date")


# A channel the OMS started sending before anyone told the data team: the raw source test on it
# only warns (a new category is news), but the product promises the four known channels.
UNKNOWN_CHANNEL = "telepatia"
# Personal data where none belongs: a supplier typed a contact e-mail into a product name.
LEAKED_EMAIL = "contato.fornecedor@example.com.br"


def _unknown_channel(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(_first_rows())
        .then(pl.lit(UNKNOWN_CHANNEL))
        .otherwise(pl.col("channel"))
        .alias("channel")
    )


def _email_in_product_name(frame: pl.DataFrame) -> pl.DataFrame:
    leaked = pl.lit(f"Kit escolar (fale com {LEAKED_EMAIL})")
    return frame.with_columns(
        pl.when(_first_rows()).then(leaked).otherwise(pl.col("nome_produto")).alias("nome_produto")
    )


def _malformed_json(path: Path) -> None:
    """Cut the first lines in half: the objects are no longer valid JSON."""
    lines = path.read_bytes().splitlines(keepends=True)
    for n in range(min(DAMAGED_ROWS, len(lines))):
        lines[n] = lines[n][: len(lines[n]) // 2] + b"\n"
    path.write_bytes(b"".join(lines))


def _truncated_parquet(path: Path) -> None:
    """An upload cut short: the footer (and the schema with it) is gone."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


DEFECTS: dict[str, Defect] = {
    d.kind: d
    for d in (
        Defect("null_keys", "finance", "payments", "payment_id is null", frame=_null_keys),
        Defect("duplicate_ids", "sales", "orders", "orders sent twice", frame=_duplicate_ids),
        Defect(
            "negative_amounts", "finance", "payments", "negative amount", frame=_negative_amounts
        ),
        Defect("invalid_cpfs", "customers", "customers", "wrong CPF check digits", _invalid_cpfs),
        Defect(
            "unknown_customers",
            "sales",
            "orders",
            "customer_id of no customer",
            frame=_unknown_customers,
        ),
        Defect(
            "dates_outside_partition",
            "sales",
            "orders",
            "order_ts three days before the partition day",
            frame=_dates_outside_partition,
        ),
        Defect(
            "renamed_column", "catalog", "products", "preco renamed preco_venda", _renamed_column
        ),
        Defect(
            "missing_column",
            "logistics",
            "shipments",
            "promised_date missing",
            frame=_missing_column,
        ),
        Defect(
            "malformed_json",
            "logistics",
            "carrier_slas",
            "lines cut in half",
            file=_malformed_json,
        ),
        Defect(
            "truncated_parquet",
            "sales",
            "order_items",
            "file cut at half its size",
            file=_truncated_parquet,
        ),
        Defect("empty_file", "catalog", "categories", "a 0-byte file", file=_empty_file),
        Defect(
            "unknown_channel",
            "sales",
            "orders",
            f"channel {UNKNOWN_CHANNEL!r}: the raw gate warns, the product's test fails",
            frame=_unknown_channel,
            caught_by="audit",
        ),
        Defect(
            "email_in_product_name",
            "catalog",
            "products",
            "an e-mail address in product names: the privacy policy blocks dim_products",
            frame=_email_in_product_name,
            caught_by="audit",
        ),
    )
}


class UnknownDefectError(ValueError):
    """A defect name that is not in DEFECTS: refused rather than silently ignored."""


def resolve_defects(names: str | list[str] | frozenset[str]) -> list[str]:
    """`KIND[,KIND...]` or `all` (or a list of names) as known defect names, in DEFECTS order."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    wanted = set(names)
    if "all" in wanted:
        return list(DEFECTS)
    unknown = sorted(wanted - set(DEFECTS))
    if unknown:
        raise UnknownDefectError(f"unknown defect(s) {unknown}; known: {', '.join(DEFECTS)}, all")
    return [kind for kind in DEFECTS if kind in wanted]


def defects_for(entity: str, requested: frozenset[str]) -> list[Defect]:
    """The requested defects that damage `entity` (an unknown name raises)."""
    return [DEFECTS[kind] for kind in resolve_defects(requested) if DEFECTS[kind].entity == entity]
