"""Logistics platform: carrier SLAs and shipment tracking, exported as JSON lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

from domains._shared.columns import chunk_bounds, dates, iso_z, labels
from domains._shared.hashing import weighted_index
from domains._shared.postprocess import with_postprocess
from domains._shared.reference import CARRIER_SERVICES, DISTRIBUTION_CENTRE, geography, sla_days
from domains._shared.world import daily_id_base, freeze_arrays, order_book
from wdc_orchestration.raw.generation.day_cache import day_cache
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity

EVENT_STATUSES = ("postado", "em_transito", "saiu_para_entrega", "entregue")
POSTADO, EM_TRANSITO, SAIU, ENTREGUE = range(4)
# Event slots of a shipment: postado, em_transito (hub), em_transito (destination capital, only
# far away), saiu_para_entrega, entregue. A shipment has 2..5 of them.
_SLOT_STATUS = np.array([POSTADO, EM_TRANSITO, EM_TRANSITO, SAIU, ENTREGUE], dtype=np.int64)
_SLOTS = len(_SLOT_STATUS)
# Outcomes: delivered on time, delivered late, not delivered yet.
ON_TIME, LATE, IN_FLIGHT = range(3)
_OUTCOME_WEIGHTS = (0.82, 0.10, 0.08)
_HOUR_US = 3_600 * 1_000_000
_DAY_US = 24 * _HOUR_US
# Sao Paulo local time is UTC-3 (no daylight saving since 2019).
_LOCAL_OFFSET_US = -3 * _HOUR_US
_FAR_TIER = 3


def generate_carrier_slas(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """One line per carrier service and UF: the promised delivery days."""
    geo = geography()
    n_uf = len(geo.uf)
    service = np.repeat(np.arange(len(CARRIER_SERVICES)), n_uf)
    uf = np.tile(np.arange(n_uf), len(CARRIER_SERVICES))
    frame = pl.DataFrame(
        [
            labels("carrier", [s[0] for s in CARRIER_SERVICES], service),
            labels("service", [s[1] for s in CARRIER_SERVICES], service),
            labels("uf", geo.uf, uf),
            pl.Series("sla_days", sla_days(service, uf), dtype=pl.Int64),
        ]
    )
    for start, stop in chunk_bounds(frame.height, request.chunk_rows):
        yield frame.slice(start, stop - start)


@dataclass(frozen=True)
class ShipmentBook:
    """The day's shipments (sorted by shipped time) and their event slots, numerically."""

    shipment_id: np.ndarray
    order_id: np.ndarray
    service: np.ndarray  # index into CARRIER_SERVICES
    uf: np.ndarray  # index into geography().uf
    city: np.ndarray  # index into geography().city_name
    shipped_us: np.ndarray
    promised_day: np.ndarray  # days since 1970
    event_us: np.ndarray  # (n, 5) event times per slot
    event_location: np.ndarray  # (n, 5) index into location_pool()
    event_present: np.ndarray  # (n, 5) bool: the slot happened


def shipment_book_for(request: GenerationRequest) -> ShipmentBook:
    """The shipment book of the request's day (cached)."""
    return shipment_book(request.date, request.scale_factor, request.seed)


@day_cache(maxsize=2)
def shipment_book(date: dt.date, scale_factor: float, seed: int) -> ShipmentBook:
    """One shipment per confirmed order of the day, with its tracking events."""
    book = order_book(date, scale_factor, seed)
    rng = GenerationRequest(date=date, scale_factor=scale_factor, seed=seed).rng(
        "logistics", "shipments"
    )
    confirmed = np.flatnonzero(~book.cancelled)
    n = len(confirmed)
    uf, city = book.customer_uf[confirmed], book.customer_city[confirmed]
    service = weighted_index(rng.random(n), [s[4] for s in CARRIER_SERVICES])
    # Picking and packing at the distribution centre takes 2..30 hours.
    shipped_us = book.order_us[confirmed] + (rng.uniform(2, 30, n) * _HOUR_US).astype(np.int64)
    shipped_day = _local_day(shipped_us)
    sla = sla_days(service, uf)
    outcome = weighted_index(rng.random(n), _OUTCOME_WEIGHTS)
    transit_days = np.where(
        outcome == LATE,
        sla + rng.integers(1, 6, n),
        1 + (rng.random(n) * sla).astype(np.int64),
    )
    event_us = _event_times(rng, shipped_us, shipped_day + transit_days)
    far = geography().tier[uf] >= _FAR_TIER
    present = np.ones((n, _SLOTS), dtype=bool)
    present[:, 2] = far
    # In-flight shipments stop after the hub scan or after leaving for delivery.
    stops_at_hub = rng.random(n) < 0.5
    present[:, 3] &= ~((outcome == IN_FLIGHT) & stops_at_hub)
    present[:, 4] &= outcome != IN_FLIGHT
    by_time = np.argsort(shipped_us, kind="stable")
    shipments = ShipmentBook(
        shipment_id=daily_id_base(date) + np.arange(1, n + 1, dtype=np.int64),
        order_id=book.order_id[confirmed][by_time],
        service=service[by_time],
        uf=uf[by_time],
        city=city[by_time],
        shipped_us=shipped_us[by_time],
        promised_day=(shipped_day + sla)[by_time],
        event_us=event_us[by_time],
        event_location=_event_locations(uf, city)[by_time],
        event_present=present[by_time],
    )
    return freeze_arrays(shipments)


def _local_day(utc_us: np.ndarray) -> np.ndarray:
    """Local (America/Sao_Paulo) calendar day, as days since 1970, of UTC microseconds."""
    return (utc_us + _LOCAL_OFFSET_US) // _DAY_US


def _event_times(
    rng: np.random.Generator, shipped_us: np.ndarray, delivery_day: np.ndarray
) -> np.ndarray:
    """Times of the 5 event slots: scans spread between posting and the delivery morning."""
    n = len(shipped_us)
    out_for_delivery = (
        delivery_day * _DAY_US - _LOCAL_OFFSET_US + (rng.uniform(7, 10, n) * _HOUR_US)
    ).astype(np.int64)
    gap = out_for_delivery - shipped_us
    hub = shipped_us + (gap * rng.uniform(0.05, 0.35, n)).astype(np.int64)
    destination_hub = shipped_us + (gap * rng.uniform(0.55, 0.9, n)).astype(np.int64)
    delivered = out_for_delivery + (rng.uniform(0.5, 9, n) * _HOUR_US).astype(np.int64)
    return np.column_stack([shipped_us, hub, destination_hub, out_for_delivery, delivered])


@lru_cache(maxsize=1)
def location_pool() -> pl.Series:
    """`City/UF` of every reference city, then the distribution centre and the SP hub."""
    geo = geography()
    cities = [f"{name}/{geo.uf[uf]}" for name, uf in zip(geo.city_name, geo.city_uf, strict=True)]
    return pl.Series("location", [*cities, DISTRIBUTION_CENTRE, "São Paulo/SP"], dtype=pl.String)


def _event_locations(uf: np.ndarray, city: np.ndarray) -> np.ndarray:
    """Location of each slot: DC, SP hub, destination capital, destination city (twice)."""
    geo = geography()
    n_cities = len(geo.city_name)
    capital_of_uf = np.searchsorted(geo.city_uf, np.arange(len(geo.uf)))
    dc, sp_hub = n_cities, n_cities + 1
    n = len(uf)
    return np.column_stack(
        [np.full(n, dc), np.full(n, sp_hub), capital_of_uf[uf], city, city]
    ).astype(np.int64)


def generate_shipments(request: GenerationRequest) -> Iterator[pl.DataFrame]:
    """The day's shipments in shipment_id (= shipped time) order, with nested events."""
    ships = shipment_book_for(request)
    for start, stop in chunk_bounds(len(ships.shipment_id), request.chunk_rows):
        yield shipments_frame(ships, slice(start, stop))


def shipments_frame(ships: ShipmentBook, rows: slice) -> pl.DataFrame:
    """Rows `rows` of the shipments, shaped like the platform's JSON objects."""
    geo = geography()
    service = ships.service[rows]
    codes, services = [s[0] for s in CARRIER_SERVICES], [s[1] for s in CARRIER_SERVICES]
    flat = pl.DataFrame(
        [
            pl.Series("shipment_id", ships.shipment_id[rows]),
            pl.Series("order_id", ships.order_id[rows]),
            labels("code", codes, service),
            labels("service", services, service),
            labels("uf", geo.uf, ships.uf[rows]),
            labels("city", geo.city_name, ships.city[rows]),
            iso_z("shipped_at", ships.shipped_us[rows]),
            dates("promised_date", ships.promised_day[rows]),
        ]
    )
    return flat.select(
        "shipment_id",
        "order_id",
        pl.struct("code", "service").alias("carrier"),
        pl.struct("uf", "city").alias("destination"),
        "shipped_at",
        "promised_date",
    ).with_columns(_events(ships, rows))


def _events(ships: ShipmentBook, rows: slice) -> pl.Series:
    """The events list column: present slots, in time order, as {status, ts, location}."""
    present = ships.event_present[rows]
    counts = present.sum(axis=1)
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    flat_events = pl.DataFrame(
        [
            labels("status", EVENT_STATUSES, np.broadcast_to(_SLOT_STATUS, present.shape)[present]),
            iso_z("ts", ships.event_us[rows][present]),
            location_pool().gather(ships.event_location[rows][present]),
        ]
    ).select(pl.struct("status", "ts", "location").alias("events"))
    structs = flat_events.to_series().to_arrow()
    return pl.Series("events", pa.ListArray.from_arrays(pa.array(offsets), structs))


ENTITIES: tuple[RawEntity, ...] = (
    RawEntity(
        name="carrier_slas",
        file_format="jsonl",
        description="Promised delivery days per carrier service and destination UF.",
        generate=with_postprocess("carrier_slas", generate_carrier_slas),
    ),
    RawEntity(
        name="shipments",
        file_format="jsonl",
        description="One shipment per confirmed order of the day, with its tracking events.",
        generate=with_postprocess("shipments", generate_shipments),
    ),
)
