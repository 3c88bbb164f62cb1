"""CRM source system: a daily full snapshot of the customer base (Parquet, Portuguese names)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from domains._shared.columns import chunk_bounds, dates, labels, timestamps
from domains._shared.pools import name_pools
from domains._shared.postprocess import with_postprocess
from domains._shared.reference import geography
from domains._shared.world import (
    SEGMENTS,
    CustomerAttributes,
    customer_attributes,
    customer_count,
    email_domains,
)
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity


def generate_customers(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """Customers 1..N(D) in id order, one chunk of ids at a time (strings built per chunk)."""
    n = customer_count(request.date, request.scale_factor)
    for start, stop in chunk_bounds(n, request.chunk_rows):
        ids = np.arange(start + 1, stop + 1, dtype=np.int64)
        yield customers_frame(customer_attributes(ids, request.scale_factor, request.seed))


def customers_frame(attrs: CustomerAttributes) -> pl.DataFrame:
    """The CRM rows of these customers."""
    geo, names = geography(), name_pools()
    last_2 = pl.Series(attrs.last_name_2)
    numeric = pl.DataFrame(
        {
            "id_cliente": attrs.ids,
            "first": names.first.gather(attrs.first_name),
            "first_slug": names.first_slug.gather(attrs.first_name),
            "last_1": names.last.gather(attrs.last_name_1),
            "last_1_slug": names.last_slug.gather(attrs.last_name_1),
            # A missing second surname gathers a null, which concat_str skips below.
            "last_2": names.last.gather(last_2.set(last_2 < 0, None)),
            "separator": labels("separator", (".", "_", ""), attrs.email_separator),
            "domain": labels("domain", email_domains(), attrs.email_domain),
            "ddd": geo.city_ddd[attrs.city],
            "phone": attrs.phone_subscriber,
            "cpf_number": attrs.cpf,
            "cidade": labels("cidade", geo.city_name, attrs.city),
            "uf": labels("uf", geo.uf, attrs.uf),
            "data_nascimento": dates("data_nascimento", attrs.birth_day),
            "data_cadastro": dates("data_cadastro", attrs.signup_day),
            "segmento": labels("segmento", SEGMENTS, attrs.segment),
            "atualizado_em": timestamps("atualizado_em", attrs.signup_us),
        }
    )
    cpf = pl.col("cpf_number").cast(pl.String).str.zfill(11)
    phone = pl.col("phone").cast(pl.String)
    return numeric.select(
        "id_cliente",
        pl.concat_str(["first", "last_1", "last_2"], separator=" ", ignore_nulls=True).alias(
            "nome"
        ),
        pl.concat_str(
            cpf.str.slice(0, 3),
            pl.lit("."),
            cpf.str.slice(3, 3),
            pl.lit("."),
            cpf.str.slice(6, 3),
            pl.lit("-"),
            cpf.str.slice(9, 2),
        ).alias("cpf"),
        pl.concat_str(
            "first_slug",
            "separator",
            "last_1_slug",
            pl.col("id_cliente").cast(pl.String),
            pl.lit("@"),
            "domain",
        ).alias("email"),
        pl.concat_str(
            pl.lit("+55 "),
            pl.col("ddd").cast(pl.String),
            pl.lit(" 9"),
            phone.str.slice(0, 4),
            pl.lit("-"),
            phone.str.slice(4, 4),
        ).alias("telefone"),
        "cidade",
        "uf",
        "data_nascimento",
        "data_cadastro",
        "segmento",
        "atualizado_em",
    )


ENTITIES: tuple[RawEntity, ...] = (
    RawEntity(
        name="customers",
        file_format="parquet",
        description="Daily full snapshot of the CRM customer base (ids 1..N(D)).",
        generate=with_postprocess("customers", generate_customers),
    ),
)
