"""ERP source system: daily CSV exports of the categories and the product catalog."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from domains._shared.columns import (
    chunk_bounds,
    iso_z,
    labels,
    local_day_bounds_us,
    money,
)
from domains._shared.hashing import below
from domains._shared.pools import colour_pool
from domains._shared.postprocess import with_postprocess
from domains._shared.reference import CATEGORIES, PRODUCT_LINES
from domains._shared.world import (
    category_brands,
    category_nouns,
    product_active,
    product_attributes,
    product_count,
    product_prices_cents,
    product_stock,
)
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity

# The ERP's nightly price and stock job runs in the early local morning (00:00..06:00).
_PRICE_JOB_WINDOW_S = 6 * 3_600


def generate_categories(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """The fixed category tree (id_categoria, nome_categoria, departamento)."""
    frame = pl.DataFrame(
        {
            "id_categoria": pl.Series(np.arange(1, len(CATEGORIES) + 1), dtype=pl.Int64),
            "nome_categoria": [c.name for c in CATEGORIES],
            "departamento": [c.department for c in CATEGORIES],
        }
    )
    for start, stop in chunk_bounds(frame.height, request.chunk_rows):
        yield frame.slice(start, stop - start)


def generate_products(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """Products 1..P(D) in id order with the day's price, stock and active flag."""
    n = product_count(request.date, request.scale_factor)
    for start, stop in chunk_bounds(n, request.chunk_rows):
        ids = np.arange(start + 1, stop + 1, dtype=np.int64)
        yield products_frame(request, ids)


def products_frame(request: GenerationRequest, ids: np.ndarray) -> pl.DataFrame:
    """The ERP rows of these products on the request's day."""
    attrs = product_attributes(ids, request.seed)
    day_start_us, _ = local_day_bounds_us(request.date)
    updated_us = (
        day_start_us
        + below(ids, _PRICE_JOB_WINDOW_S, request.seed, "price_job", request.day_index) * 1_000_000
    )
    parts = pl.DataFrame(
        {
            "id_produto": ids,
            "noun": labels("noun", category_nouns(), attrs.noun),
            "marca": labels("marca", category_brands(), attrs.brand),
            "line": labels("line", PRODUCT_LINES, attrs.line),
            "colour": colour_pool().gather(attrs.colour),
            "id_categoria": attrs.category + 1,
            "preco": money("preco", product_prices_cents(ids, request.date, request.seed)),
            "estoque": product_stock(ids, request.date, request.seed),
            "ativo": product_active(ids, request.date, request.seed),
            "atualizado_em": iso_z("atualizado_em", updated_us),
        }
    )
    return parts.select(
        "id_produto",
        pl.concat_str(pl.lit("SKU-"), pl.col("id_produto").cast(pl.String).str.zfill(6)).alias(
            "sku"
        ),
        pl.concat_str(["noun", "marca", "line", "colour"], separator=" ").alias("nome_produto"),
        "id_categoria",
        "marca",
        "preco",
        "estoque",
        "ativo",
        "atualizado_em",
    )


ENTITIES: tuple[RawEntity, ...] = (
    RawEntity(
        name="categories",
        file_format="csv",
        description="Category tree of the catalog (id_categoria, nome_categoria, departamento).",
        generate=with_postprocess("categories", generate_categories),
    ),
    RawEntity(
        name="products",
        file_format="csv",
        description="Daily full snapshot of the product catalog with the day's price and stock.",
        generate=with_postprocess("products", generate_products),
    ),
)
