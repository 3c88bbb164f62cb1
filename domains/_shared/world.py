"""The simulated company: who its customers and products are, and what was sold on a day.

Everything here is a pure function of (ids, date, scale factor, seed), computed with vectorised
integer hashing or with the request's seeded generators, so every domain's simulator derives the
same customer, the same price and the same order without reading another domain's files.
Only numeric arrays live here; simulators turn them into text one chunk at a time.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np

from domains._shared.columns import epoch_days, local_day_bounds_us
from domains._shared.hashing import below, uniform, weighted_index
from domains._shared.pools import EMAIL_DOMAIN_WEIGHTS, EMAIL_DOMAINS, colour_pool, name_pools
from domains._shared.reference import CATEGORIES, PRODUCT_LINES, geography
from wdc_orchestration.raw.generation.day_cache import day_cache
from wdc_orchestration.raw.generation.request import EPOCH, GenerationRequest

_T = TypeVar("_T")

# ---------------------------------------------------------------------------------------------
# Populations
# ---------------------------------------------------------------------------------------------
CUSTOMERS_AT_EPOCH, CUSTOMERS_PER_DAY, MIN_CUSTOMERS = 20_000, 40, 60
PRODUCTS_AT_EPOCH, PRODUCTS_PER_DAY, MIN_PRODUCTS = 2_000, 2, 40
ORDERS_PER_DAY, MIN_ORDERS = 50_000, 40
# Monday..Sunday demand: Brazilian e-commerce peaks early in the week and dips at weekends.
WEEKDAY_FACTOR = (1.15, 1.10, 1.05, 1.00, 0.95, 0.85, 0.80)
# Local-hour demand profile (0h..23h): quiet nights, lunch and evening peaks.
HOURLY_WEIGHT = (
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.5, 1.0, 1.6, 2.2, 2.6, 2.9,
    3.1, 3.0, 2.8, 2.7, 2.7, 2.9, 3.2, 3.6, 3.9, 3.7, 2.8, 1.5,
)  # fmt: skip
CHANNELS = ("site", "app", "marketplace", "televendas")
CHANNEL_WEIGHTS = (0.45, 0.35, 0.15, 0.05)
ORDER_STATUSES = ("confirmado", "cancelado")
CANCEL_RATE = 0.03
SEGMENTS = ("varejo", "premium", "corporativo")
SEGMENT_WEIGHTS = (0.82, 0.15, 0.03)
# Sequence numbers of a day's ids: YYYYMMDD * 10^7 + seq, so ids are unique across days.
DAILY_ID_FACTOR = 10_000_000

_MICROS_PER_DAY = 86_400 * 1_000_000
# Brazil has had no daylight saving since 2019, so past local days are UTC-3 exactly; legacy
# signups are placed after the last DST period so a fixed offset is exact for them too.
_SAO_PAULO_OFFSET_US = -3 * 3_600 * 1_000_000
_LEGACY_SIGNUP_START = dt.date(2019, 3, 1)


def _population(
    scale_factor: float, base: int, per_day: int, minimum: int, days: np.ndarray
) -> np.ndarray:
    """floor(SF * (base + per_day * days)), at least `minimum`; days before the epoch count 0."""
    raw = np.floor(scale_factor * (base + per_day * np.maximum(days, 0).astype(np.float64)))
    return np.maximum(raw.astype(np.int64), minimum)


def customer_count(date: dt.date, scale_factor: float) -> int:
    """N(D): customers 1..N(D) exist in the day's snapshot; N grows by 40·SF a day."""
    days = np.array([(date - EPOCH).days])
    return int(
        _population(scale_factor, CUSTOMERS_AT_EPOCH, CUSTOMERS_PER_DAY, MIN_CUSTOMERS, days)[0]
    )


def product_count(date: dt.date, scale_factor: float) -> int:
    """P(D): products 1..P(D) exist in the day's catalog; P grows by 2·SF a day."""
    days = np.array([(date - EPOCH).days])
    return int(
        _population(scale_factor, PRODUCTS_AT_EPOCH, PRODUCTS_PER_DAY, MIN_PRODUCTS, days)[0]
    )


def weekday_factor(date: dt.date) -> float:
    """Demand multiplier of the day of week (0.8..1.2)."""
    return WEEKDAY_FACTOR[date.weekday()]


def order_count(date: dt.date, scale_factor: float, seed: int) -> int:
    """Orders placed on a local day: 50k·SF·weekday factor, with ±5% daily noise."""
    noise = (
        GenerationRequest(date=date, scale_factor=scale_factor, seed=seed)
        .rng("world", "order_count")
        .uniform(0.95, 1.05)
    )
    factor = min(1.2, max(0.8, weekday_factor(date) * noise))
    return max(MIN_ORDERS, round(ORDERS_PER_DAY * scale_factor * factor))


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------
# CPF bases are a bijection of the id onto the 9-digit numbers that are not repdigits
# (000000000, 111111111, ... are rejected by every CPF validator).
_CPF_SPACE = 10**9 - 10
_CPF_MULTIPLIER = 2_654_435_761 % _CPF_SPACE
_REPDIGIT_RANKS = np.arange(10, dtype=np.int64) * 111_111_111 - np.arange(10, dtype=np.int64)
assert math.gcd(_CPF_MULTIPLIER, _CPF_SPACE) == 1


@dataclass(frozen=True)
class CustomerAttributes:
    """Stable numeric attributes of customers (aligned with the ids asked for)."""

    ids: np.ndarray
    city: np.ndarray  # index into geography().city_name
    uf: np.ndarray  # index into geography().uf
    first_name: np.ndarray  # index into name_pools().first
    last_name_1: np.ndarray  # index into name_pools().last
    last_name_2: np.ndarray  # index into name_pools().last, -1 when the customer has one surname
    email_separator: np.ndarray  # 0 ".", 1 "_", 2 ""
    email_domain: np.ndarray  # index into EMAIL_DOMAINS
    phone_subscriber: np.ndarray  # 8 digits after the leading 9
    cpf: np.ndarray  # 11-digit number: base * 100 + check digits
    birth_day: np.ndarray  # days since 1970-01-01
    signup_day: np.ndarray  # days since 1970-01-01
    signup_us: np.ndarray  # microseconds since the Unix epoch (UTC)
    segment: np.ndarray  # index into SEGMENTS


def cpf_numbers(ids: np.ndarray, seed: int) -> np.ndarray:
    """11-digit CPFs (base * 100 + two check digits), unique per id, valid check digits."""
    offset = int(uniform(np.zeros(1, dtype=np.int64), seed, "cpf_offset")[0] * _CPF_SPACE)
    rank = (np.asarray(ids, dtype=np.int64) % _CPF_SPACE * _CPF_MULTIPLIER + offset) % _CPF_SPACE
    base = rank + np.searchsorted(_REPDIGIT_RANKS, rank, side="right")
    digits = (base[:, None] // 10 ** np.arange(8, -1, -1, dtype=np.int64)) % 10
    first = _cpf_check_digit(digits, np.arange(10, 1, -1))
    digits = np.column_stack([digits, first])
    second = _cpf_check_digit(digits, np.arange(11, 1, -1))
    return base * 100 + first * 10 + second


def _cpf_check_digit(digits: np.ndarray, weights: np.ndarray) -> np.ndarray:
    remainder = (digits @ weights) * 10 % 11
    return np.where(remainder == 10, 0, remainder)


def signup_days(ids: np.ndarray, scale_factor: float, seed: int) -> np.ndarray:
    """The day each customer signed up (days since 1970): the first day N(day) reached the id.

    Customers already there on the epoch are the legacy base, spread over the years before it.
    """
    ids = np.asarray(ids, dtype=np.int64)
    at_epoch = customer_count(EPOCH, scale_factor)
    step = scale_factor * CUSTOMERS_PER_DAY
    estimate = np.ceil((ids / scale_factor - CUSTOMERS_AT_EPOCH) / CUSTOMERS_PER_DAY)
    day = np.maximum(estimate.astype(np.int64), 1) if step > 0 else np.ones_like(ids)

    def count(d: np.ndarray) -> np.ndarray:
        return _population(scale_factor, CUSTOMERS_AT_EPOCH, CUSTOMERS_PER_DAY, MIN_CUSTOMERS, d)

    # The float estimate can be one day off around the floor(); settle it exactly.
    for _ in range(2):
        day = np.where(count(day) < ids, day + 1, day)
        day = np.where((day > 1) & (count(day - 1) >= ids), day - 1, day)
    legacy_span = (EPOCH - _LEGACY_SIGNUP_START).days
    legacy = epoch_days(_LEGACY_SIGNUP_START) + below(ids, legacy_span, seed, "signup_legacy")
    return np.where(ids <= at_epoch, legacy, epoch_days(EPOCH) + day)


def signup_micros(ids: np.ndarray, signup_day: np.ndarray, seed: int) -> np.ndarray:
    """Signup moment (UTC microseconds, whole seconds) inside the customer's local signup day."""
    local_midnight_us = signup_day * _MICROS_PER_DAY - _SAO_PAULO_OFFSET_US
    return local_midnight_us + below(ids, 86_400, seed, "signup_time") * 1_000_000


def customer_attributes(ids: np.ndarray, scale_factor: float, seed: int) -> CustomerAttributes:
    """Attributes of customers by id; they never depend on the snapshot date."""
    ids = np.asarray(ids, dtype=np.int64)
    geo, names = geography(), name_pools()
    city = weighted_index(uniform(ids, seed, "city"), geo.city_weight)
    signup_day = signup_days(ids, scale_factor, seed)
    signup_us = signup_micros(ids, signup_day, seed)
    # 18..75 years old at signup, so still 18..90 for the decade after it.
    age_days = 6_575 + below(ids, int(57 * 365.25), seed, "age")
    two_surnames = uniform(ids, seed, "two_surnames") < 0.7
    return CustomerAttributes(
        ids=ids,
        city=city,
        uf=geo.city_uf[city],
        first_name=below(ids, len(names.first), seed, "first_name"),
        last_name_1=below(ids, len(names.last), seed, "last_name_1"),
        last_name_2=np.where(two_surnames, below(ids, len(names.last), seed, "last_name_2"), -1),
        email_separator=below(ids, 3, seed, "email_separator"),
        email_domain=weighted_index(uniform(ids, seed, "email_domain"), EMAIL_DOMAIN_WEIGHTS),
        phone_subscriber=60_000_000 + below(ids, 40_000_000, seed, "phone"),
        cpf=cpf_numbers(ids, seed),
        birth_day=signup_day - age_days,
        signup_day=signup_day,
        signup_us=signup_us,
        segment=weighted_index(uniform(ids, seed, "segment"), SEGMENT_WEIGHTS),
    )


def email_domains() -> tuple[str, ...]:
    """Email domains indexed by CustomerAttributes.email_domain."""
    return EMAIL_DOMAINS


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------
# Prices drift up ~4.5% a year; some (product, day) pairs are on promotion.
_DAILY_INFLATION = 0.00012
_PROMO_RATE = 0.12
_INACTIVE_RATE = 0.06


@dataclass(frozen=True)
class ProductAttributes:
    """Stable numeric attributes of products (aligned with the ids asked for)."""

    ids: np.ndarray
    category: np.ndarray  # index into CATEGORIES (id_categoria = index + 1)
    noun: np.ndarray  # index into category_nouns()
    brand: np.ndarray  # index into category_brands()
    line: np.ndarray  # index into PRODUCT_LINES
    colour: np.ndarray  # index into colour_pool()
    base_price_cents: np.ndarray
    popularity: np.ndarray  # relative demand weight


@lru_cache(maxsize=1)
def _category_vocab() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened per-category nouns and brands, with each category's offset and count."""
    nouns = [n for c in CATEGORIES for n in c.nouns]
    brands = [b for c in CATEGORIES for b in c.brands]
    noun_count = np.array([len(c.nouns) for c in CATEGORIES], dtype=np.int64)
    brand_count = np.array([len(c.brands) for c in CATEGORIES], dtype=np.int64)
    offsets = np.stack(
        [
            np.cumsum(noun_count) - noun_count,
            noun_count,
            np.cumsum(brand_count) - brand_count,
            brand_count,
        ]
    )
    return np.array(nouns), np.array(brands), offsets[0], offsets[1], np.stack(offsets[2:])


def category_nouns() -> np.ndarray:
    """Product nouns of all categories, flattened (ProductAttributes.noun indexes it)."""
    return _category_vocab()[0]


def category_brands() -> np.ndarray:
    """Brands of all categories, flattened (ProductAttributes.brand indexes it)."""
    return _category_vocab()[1]


def product_attributes(ids: np.ndarray, seed: int) -> ProductAttributes:
    """Attributes of products by id; they never depend on the snapshot date."""
    ids = np.asarray(ids, dtype=np.int64)
    _, _, noun_offset, noun_count, brand = _category_vocab()
    category = below(ids, len(CATEGORIES), seed, "category")
    low = np.log(np.array([c.price_range[0] for c in CATEGORIES]))[category]
    high = np.log(np.array([c.price_range[1] for c in CATEGORIES]))[category]
    reais = np.floor(np.exp(low + (high - low) * uniform(ids, seed, "base_price")))
    # Retail prices end in ,90 or ,99.
    cents_tail = np.where(uniform(ids, seed, "price_tail") < 0.6, 90, 99)
    base_price_cents = reais.astype(np.int64) * 100 + cents_tail
    # Heavy-tailed demand, cheaper items selling more units.
    heavy_tail = (0.02 + uniform(ids, seed, "popularity")) ** -1.1
    return ProductAttributes(
        ids=ids,
        category=category,
        noun=noun_offset[category] + below(ids, noun_count[category], seed, "noun"),
        brand=brand[0][category] + below(ids, brand[1][category], seed, "brand"),
        line=below(ids, len(PRODUCT_LINES), seed, "line"),
        colour=below(ids, len(colour_pool()), seed, "colour"),
        base_price_cents=base_price_cents,
        popularity=heavy_tail / (base_price_cents / 10_000) ** 0.8,
    )


def product_prices_cents(ids: np.ndarray, date: dt.date, seed: int) -> np.ndarray:
    """The catalog price of each product on a day, in cents (what sales charge that day)."""
    ids = np.asarray(ids, dtype=np.int64)
    day = (date - EPOCH).days
    base = product_attributes(ids, seed).base_price_cents
    drift = 1.0 + _DAILY_INFLATION * max(day, 0)
    on_promo = uniform(ids, seed, "promo", day) < _PROMO_RATE
    discount = np.where(on_promo, 0.05 + 0.25 * uniform(ids, seed, "promo_depth", day), 0.0)
    # Keep the retail ending (,90 / ,99) after drift and promotion, like a pricing engine does.
    reais = np.floor(base // 100 * drift * (1.0 - discount)).astype(np.int64)
    return np.maximum(reais, 1) * 100 + base % 100


def product_active(ids: np.ndarray, date: dt.date, seed: int) -> np.ndarray:
    """Whether each product is sellable on a day (the ERP toggles products week by week)."""
    week = (date - EPOCH).days // 7
    return uniform(ids, seed, "inactive", week) >= _INACTIVE_RATE


def product_stock(ids: np.ndarray, date: dt.date, seed: int) -> np.ndarray:
    """Units in stock on a day (>= 0; some products are out of stock)."""
    day = (date - EPOCH).days
    depth = 5 + below(ids, 400, seed, "stock_depth")
    level = below(ids, depth, seed, "stock", day)
    return np.where(uniform(ids, seed, "stockout", day) < 0.04, 0, level)


# ---------------------------------------------------------------------------------------------
# The order book of a day
# ---------------------------------------------------------------------------------------------
_ITEM_QUANTITY_WEIGHTS = (0.78, 0.13, 0.05, 0.03, 0.01)
_DISCOUNT_RATE, _DISCOUNT_PERCENTS = 0.22, np.array([5, 10, 15], dtype=np.int64)
_FREIGHT_BY_TIER_CENTS = np.array([990, 1_490, 1_990, 2_490, 2_990], dtype=np.int64)
_FREIGHT_PER_EXTRA_ITEM_CENTS = 250
_FREE_FREIGHT_FROM_CENTS = 29_900


@dataclass(frozen=True)
class OrderBook:
    """Orders and items placed on one local day, as read-only numeric arrays.

    Orders are sorted by order_ts; items are grouped by order (item_order is non-decreasing).
    """

    date: dt.date
    order_id: np.ndarray  # int64
    customer_id: np.ndarray  # int64, in 1..N(D)
    customer_uf: np.ndarray  # index into geography().uf
    customer_city: np.ndarray  # index into geography().city_name
    order_us: np.ndarray  # UTC microseconds, within the local day
    channel: np.ndarray  # index into CHANNELS
    cancelled: np.ndarray  # bool
    items_cents: np.ndarray
    discount_cents: np.ndarray
    freight_cents: np.ndarray
    total_cents: np.ndarray
    item_order: np.ndarray  # index of the item's order in the order arrays
    item_seq: np.ndarray  # int32, 1.. within the order
    product_id: np.ndarray  # int64, an active product of the day
    quantity: np.ndarray  # int32
    unit_price_cents: np.ndarray
    line_cents: np.ndarray

    @property
    def n_orders(self) -> int:
        return len(self.order_id)

    @property
    def n_items(self) -> int:
        return len(self.product_id)


def daily_id_base(date: dt.date) -> int:
    """YYYYMMDD * 10^7: add a 1-based sequence number to get an id unique across days."""
    return (date.year * 10_000 + date.month * 100 + date.day) * DAILY_ID_FACTOR


def order_book_for(request: GenerationRequest) -> OrderBook:
    """The order book of the request's day (shared, cached)."""
    return order_book(request.date, request.scale_factor, request.seed)


@day_cache(maxsize=2)
def order_book(date: dt.date, scale_factor: float, seed: int) -> OrderBook:
    """Everything sold on a local day; sales, finance and logistics all derive from it."""
    rng = GenerationRequest(date=date, scale_factor=scale_factor, seed=seed).rng("world", "orders")
    n = order_count(date, scale_factor, seed)
    order_us = _order_times(rng, date, n)
    customer_id = _pick_customers(rng, date, scale_factor, seed, order_us)
    customers = customer_attributes(customer_id, scale_factor, seed)
    channel = weighted_index(rng.random(n), CHANNEL_WEIGHTS)
    cancelled = rng.random(n) < CANCEL_RATE

    items_per_order = 1 + np.minimum(rng.poisson(1.5, n), 9)
    item_order = np.repeat(np.arange(n, dtype=np.int64), items_per_order)
    first_item = np.cumsum(items_per_order) - items_per_order
    item_seq = (np.arange(len(item_order)) - first_item[item_order] + 1).astype(np.int32)
    product_id, unit_price = _pick_products(rng, date, scale_factor, seed, item_order)
    quantity = (1 + weighted_index(rng.random(len(item_order)), _ITEM_QUANTITY_WEIGHTS)).astype(
        np.int32
    )
    line_cents = unit_price * quantity

    items_cents = np.add.reduceat(line_cents, first_item)
    percent = _DISCOUNT_PERCENTS[rng.integers(0, len(_DISCOUNT_PERCENTS), n)]
    discount_cents = np.where(rng.random(n) < _DISCOUNT_RATE, items_cents * percent // 100, 0)
    freight_cents = np.where(
        items_cents >= _FREE_FREIGHT_FROM_CENTS,
        0,
        _FREIGHT_BY_TIER_CENTS[geography().tier[customers.uf]]
        + _FREIGHT_PER_EXTRA_ITEM_CENTS * (items_per_order - 1),
    )
    book = OrderBook(
        date=date,
        order_id=daily_id_base(date) + np.arange(1, n + 1, dtype=np.int64),
        customer_id=customer_id,
        customer_uf=customers.uf,
        customer_city=customers.city,
        order_us=order_us,
        channel=channel,
        cancelled=cancelled,
        items_cents=items_cents,
        discount_cents=discount_cents,
        freight_cents=freight_cents,
        total_cents=items_cents - discount_cents + freight_cents,
        item_order=item_order,
        item_seq=item_seq,
        product_id=product_id,
        quantity=quantity,
        unit_price_cents=unit_price,
        line_cents=line_cents,
    )
    return freeze_arrays(book)


def freeze_arrays(book: _T) -> _T:
    """Make a cached dataclass's numpy arrays read-only: every simulator of the process shares
    it through the cache, so nobody may mutate it."""
    for value in vars(book).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return book


def _order_times(rng: np.random.Generator, date: dt.date, n: int) -> np.ndarray:
    """Sorted UTC microseconds inside the local day, following the hourly demand profile."""
    start_us, end_us = local_day_bounds_us(date)
    hour = weighted_index(rng.random(n), HOURLY_WEIGHT)
    offset = ((hour + rng.random(n)) * 3_600 * 1_000_000).astype(np.int64)
    return np.sort(np.minimum(start_us + offset, end_us - 1))


def _pick_customers(
    rng: np.random.Generator, date: dt.date, scale_factor: float, seed: int, order_us: np.ndarray
) -> np.ndarray:
    """Buyers of the orders: any customer of the day's snapshot, signed up before the order."""
    n_customers = customer_count(date, scale_factor)
    # Older customers (lower ids) are more loyal, so they buy more often.
    customer_id = 1 + np.minimum(
        (n_customers * rng.random(len(order_us)) ** 1.25).astype(np.int64), n_customers - 1
    )
    # Someone signing up later today cannot have bought earlier today: such orders go to a
    # customer who already existed yesterday.
    signup_day = signup_days(customer_id, scale_factor, seed)
    not_yet = signup_micros(customer_id, signup_day, seed) > order_us
    existing = customer_count(date - dt.timedelta(days=1), scale_factor)
    return np.where(not_yet, 1 + (customer_id - 1) % existing, customer_id)


def _pick_products(
    rng: np.random.Generator, date: dt.date, scale_factor: float, seed: int, item_order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Active products by popularity, distinct within an order, with the day's unit prices."""
    all_ids = np.arange(1, product_count(date, scale_factor) + 1, dtype=np.int64)
    active = all_ids[product_active(all_ids, date, seed)]
    popularity = product_attributes(active, seed).popularity
    pick = weighted_index(rng.random(len(item_order)), popularity)
    # Re-draw the repeats of a product inside an order (vectorised over all repeats at once;
    # a few rounds suffice because an order has at most 10 items).
    for _ in range(64):
        repeat = _repeats_within_order(item_order, pick, len(active))
        if not repeat.any():
            break
        pick[repeat] = rng.integers(0, len(active), int(repeat.sum()))
    product_id = active[pick]
    prices = product_prices_cents(active, date, seed)
    return product_id, prices[pick]


def _repeats_within_order(item_order: np.ndarray, pick: np.ndarray, n_products: int) -> np.ndarray:
    """Mask of items whose product already appeared earlier in the same order."""
    key = item_order * n_products + pick
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    repeat_sorted = np.zeros(len(key), dtype=bool)
    repeat_sorted[1:] = sorted_key[1:] == sorted_key[:-1]
    repeat = np.zeros(len(key), dtype=bool)
    repeat[order] = repeat_sorted
    return repeat
