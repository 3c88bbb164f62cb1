"""Order management system: the day's orders and their items (Parquet)."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from domains._shared.columns import chunk_bounds, labels, money, timestamps
from domains._shared.postprocess import with_postprocess
from domains._shared.world import CHANNELS, ORDER_STATUSES, OrderBook, order_book_for
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity


def generate_orders(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """The day's orders in order_id (= time) order."""
    book = order_book_for(request)
    for start, stop in chunk_bounds(book.n_orders, request.chunk_rows):
        yield orders_frame(book, slice(start, stop))


def orders_frame(book: OrderBook, rows: slice) -> pl.DataFrame:
    """Rows `rows` of the day's orders."""
    return pl.DataFrame(
        [
            pl.Series("order_id", book.order_id[rows]),
            pl.Series("customer_id", book.customer_id[rows]),
            timestamps("order_ts", book.order_us[rows]),
            labels("channel", CHANNELS, book.channel[rows]),
            labels("status", ORDER_STATUSES, book.cancelled[rows].astype("int64")),
            money("items_amount", book.items_cents[rows]),
            money("discount_amount", book.discount_cents[rows]),
            money("freight_amount", book.freight_cents[rows]),
            money("total_amount", book.total_cents[rows]),
        ]
    )


def generate_order_items(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """The day's order items, grouped by order and numbered by item_seq."""
    book = order_book_for(request)
    for start, stop in chunk_bounds(book.n_items, request.chunk_rows):
        yield order_items_frame(book, slice(start, stop))


def order_items_frame(book: OrderBook, rows: slice) -> pl.DataFrame:
    """Rows `rows` of the day's order items."""
    return pl.DataFrame(
        [
            pl.Series("order_id", book.order_id[book.item_order[rows]]),
            pl.Series("item_seq", book.item_seq[rows], dtype=pl.Int32),
            pl.Series("product_id", book.product_id[rows]),
            pl.Series("quantity", book.quantity[rows], dtype=pl.Int32),
            money("unit_price", book.unit_price_cents[rows]),
            money("line_amount", book.line_cents[rows]),
        ]
    )


ENTITIES: tuple[RawEntity, ...] = (
    RawEntity(
        name="orders",
        file_format="parquet",
        description="Orders placed on the local day, with their amounts.",
        generate=with_postprocess("orders", generate_orders),
    ),
    RawEntity(
        name="order_items",
        file_format="parquet",
        description="Items of the day's orders, priced at the catalog's price of the day.",
        generate=with_postprocess("order_items", generate_order_items),
    ),
)
