"""Payment gateway / finance system: one payment per order and the day's refunds (Parquet)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from domains._shared.columns import chunk_bounds, labels, local_day_bounds_us, money, timestamps
from domains._shared.hashing import weighted_index
from domains._shared.postprocess import with_postprocess
from domains._shared.world import daily_id_base, freeze_arrays, order_book
from wdc_orchestration.raw.generation.day_cache import day_cache
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity

METHODS = ("pix", "boleto", "cartao")
METHOD_WEIGHTS = (0.40, 0.15, 0.45)
PIX, BOLETO, CARTAO = range(3)
PAYMENT_STATUSES = ("aprovado", "pendente", "recusado")
APROVADO, PENDENTE, RECUSADO = range(3)
REFUND_REASONS = (
    "desistencia_do_cliente",
    "produto_indisponivel",
    "suspeita_de_fraude",
    "endereco_nao_atendido",
)
REFUND_REASON_WEIGHTS = (0.55, 0.20, 0.15, 0.10)
_SECOND_US = 1_000_000
# (min, max) seconds from the order to the payment event, per method: pix is paid in minutes,
# cards authorise in seconds, boletos are paid hours later (if at all that day).
_PAYMENT_DELAY_S = np.array([[20, 900], [3_600, 18 * 3_600], [2, 40]], dtype=np.int64)


@dataclass(frozen=True)
class PaymentBook:
    """The day's payments (sorted by paid time) and refunds (sorted by refund time)."""

    payment_id: np.ndarray
    order_id: np.ndarray
    method: np.ndarray  # index into METHODS
    installments: np.ndarray  # int32
    amount_cents: np.ndarray
    status: np.ndarray  # index into PAYMENT_STATUSES
    paid_us: np.ndarray
    refund_id: np.ndarray
    refund_payment: np.ndarray  # index into the payment arrays
    refund_reason: np.ndarray  # index into REFUND_REASONS
    refund_us: np.ndarray


def payment_book_for(request: GenerationRequest) -> PaymentBook:
    """The payment book of the request's day (shared by payments and refunds, cached)."""
    return payment_book(request.date, request.scale_factor, request.seed)


@day_cache(maxsize=2)
def payment_book(date: dt.date, scale_factor: float, seed: int) -> PaymentBook:
    """Payments of the day's orders and the refunds of approved payments of cancelled orders."""
    book = order_book(date, scale_factor, seed)
    rng = GenerationRequest(date=date, scale_factor=scale_factor, seed=seed).rng(
        "finance", "payments"
    )
    n = book.n_orders
    _, day_end_us = local_day_bounds_us(date)
    method = weighted_index(rng.random(n), METHOD_WEIGHTS)
    status = _payment_status(rng, method, book.cancelled)
    # Expensive baskets are split into more card installments (up to 12x).
    cap = np.clip(book.total_cents // 10_000, 1, 12)
    installments = np.where(
        method == CARTAO, np.minimum(1 + (rng.random(n) ** 1.5 * cap).astype(np.int64), cap), 1
    ).astype(np.int32)
    low, high = _PAYMENT_DELAY_S[method, 0], _PAYMENT_DELAY_S[method, 1]
    delay_s = low + (rng.random(n) * (high - low)).astype(np.int64)
    # A pending or refused payment carries the time of the attempt, seconds after the order.
    delay_s = np.where(status == APROVADO, delay_s, 1 + rng.integers(0, 30, n))
    # The export runs at the end of the local day: nothing after it is known yet.
    paid_us = np.minimum(book.order_us + delay_s * _SECOND_US, day_end_us - 1)

    by_time = np.argsort(paid_us, kind="stable")
    refund_payment, refund_reason, refund_us = _refunds(
        rng, paid_us[by_time], status[by_time], book.cancelled[by_time], day_end_us
    )
    book_of_payments = PaymentBook(
        payment_id=daily_id_base(date) + np.arange(1, n + 1, dtype=np.int64),
        order_id=book.order_id[by_time],
        method=method[by_time],
        installments=installments[by_time],
        amount_cents=book.total_cents[by_time],
        status=status[by_time],
        paid_us=paid_us[by_time],
        refund_id=daily_id_base(date) + np.arange(1, len(refund_payment) + 1, dtype=np.int64),
        refund_payment=refund_payment,
        refund_reason=refund_reason,
        refund_us=refund_us,
    )
    return freeze_arrays(book_of_payments)


def _payment_status(
    rng: np.random.Generator, method: np.ndarray, cancelled: np.ndarray
) -> np.ndarray:
    """Confirmed orders are paid or awaiting payment (boletos mostly wait); cancelled orders
    were refused, abandoned or paid and then refunded."""
    u = rng.random(len(method))
    pending_share = np.where(method == BOLETO, 0.6, np.where(method == PIX, 0.03, 0.0))
    confirmed = np.where(u < pending_share, PENDENTE, APROVADO)
    cancelled_status = np.where(u < 0.45, RECUSADO, np.where(u < 0.60, PENDENTE, APROVADO))
    return np.where(cancelled, cancelled_status, confirmed).astype(np.int64)


def _refunds(
    rng: np.random.Generator,
    paid_us: np.ndarray,
    status: np.ndarray,
    cancelled: np.ndarray,
    day_end_us: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One refund per approved payment of a cancelled order, later the same day."""
    payment = np.flatnonzero((status == APROVADO) & cancelled)
    reason = weighted_index(rng.random(len(payment)), REFUND_REASON_WEIGHTS)
    room = day_end_us - 1 - paid_us[payment]
    refund_us = paid_us[payment] + (rng.random(len(payment)) * room).astype(np.int64)
    by_time = np.argsort(refund_us, kind="stable")
    return payment[by_time], reason[by_time], refund_us[by_time]


def generate_payments(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """The day's payments in payment_id (= payment time) order."""
    pay = payment_book_for(request)
    for start, stop in chunk_bounds(len(pay.payment_id), request.chunk_rows):
        rows = slice(start, stop)
        yield pl.DataFrame(
            [
                pl.Series("payment_id", pay.payment_id[rows]),
                pl.Series("order_id", pay.order_id[rows]),
                labels("method", METHODS, pay.method[rows]),
                pl.Series("installments", pay.installments[rows], dtype=pl.Int32),
                money("amount", pay.amount_cents[rows]),
                labels("status", PAYMENT_STATUSES, pay.status[rows]),
                timestamps("paid_ts", pay.paid_us[rows]),
            ]
        )


def generate_refunds(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """The day's refunds in refund_id (= refund time) order."""
    pay = payment_book_for(request)
    for start, stop in chunk_bounds(len(pay.refund_id), request.chunk_rows):
        payment = pay.refund_payment[start:stop]
        yield pl.DataFrame(
            [
                pl.Series("refund_id", pay.refund_id[start:stop]),
                pl.Series("payment_id", pay.payment_id[payment]),
                pl.Series("order_id", pay.order_id[payment]),
                money("amount", pay.amount_cents[payment]),
                labels("reason", REFUND_REASONS, pay.refund_reason[start:stop]),
                timestamps("refund_ts", pay.refund_us[start:stop]),
            ]
        )


ENTITIES: tuple[RawEntity, ...] = (
    RawEntity(
        name="payments",
        file_format="parquet",
        description="One payment per order of the day; amount equals the order total.",
        generate=with_postprocess("payments", generate_payments),
    ),
    RawEntity(
        name="refunds",
        file_format="parquet",
        description="One refund per approved payment of a cancelled order of the day.",
        generate=with_postprocess("refunds", generate_refunds),
    ),
)
