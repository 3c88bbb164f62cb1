"""Fast checks of the domains' source-system simulators at a tiny scale factor."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from types import ModuleType

import numpy as np
import polars as pl
import pytest

import domains.catalog.simulator as catalog
import domains.customers.simulator as customers
import domains.finance.simulator as finance
import domains.logistics.simulator as logistics
import domains.sales.simulator as sales
from domains._shared import world
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity

DAY_1, DAY_2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
SF = 0.01
MODULES: tuple[ModuleType, ...] = (customers, catalog, sales, finance, logistics)
MONEY, TS = pl.Decimal(18, 2), pl.Datetime("us", "UTC")

EXPECTED_ENTITIES = {
    customers: ("customers",),
    catalog: ("categories", "products"),
    sales: ("orders", "order_items"),
    finance: ("payments", "refunds"),
    logistics: ("carrier_slas", "shipments"),
}

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "customers": {
        "id_cliente": pl.Int64(), "nome": pl.String(), "cpf": pl.String(), "email": pl.String(),
        "telefone": pl.String(), "cidade": pl.String(), "uf": pl.String(),
        "data_nascimento": pl.Date(), "data_cadastro": pl.Date(), "segmento": pl.String(),
        "atualizado_em": TS,
    },
    "categories": {
        "id_categoria": pl.Int64(), "nome_categoria": pl.String(), "departamento": pl.String(),
    },
    "products": {
        "id_produto": pl.Int64(), "sku": pl.String(), "nome_produto": pl.String(),
        "id_categoria": pl.Int64(), "marca": pl.String(), "preco": MONEY, "estoque": pl.Int64(),
        "ativo": pl.Boolean(), "atualizado_em": pl.String(),
    },
    "orders": {
        "order_id": pl.Int64(), "customer_id": pl.Int64(), "order_ts": TS,
        "channel": pl.String(), "status": pl.String(), "items_amount": MONEY,
        "discount_amount": MONEY, "freight_amount": MONEY, "total_amount": MONEY,
    },
    "order_items": {
        "order_id": pl.Int64(), "item_seq": pl.Int32(), "product_id": pl.Int64(),
        "quantity": pl.Int32(), "unit_price": MONEY, "line_amount": MONEY,
    },
    "payments": {
        "payment_id": pl.Int64(), "order_id": pl.Int64(), "method": pl.String(),
        "installments": pl.Int32(), "amount": MONEY, "status": pl.String(), "paid_ts": TS,
    },
    "refunds": {
        "refund_id": pl.Int64(), "payment_id": pl.Int64(), "order_id": pl.Int64(),
        "amount": MONEY, "reason": pl.String(), "refund_ts": TS,
    },
    "carrier_slas": {
        "carrier": pl.String(), "service": pl.String(), "uf": pl.String(), "sla_days": pl.Int64(),
    },
}  # fmt: skip
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


# ------------------------------------------------------------------------------------- helpers
def _entity(name: str) -> RawEntity:
    for module in MODULES:
        for entity in module.ENTITIES:
            if entity.name == name:
                return entity
    raise KeyError(name)


def _clear_caches() -> None:
    """Forget the cached day books so a regeneration really recomputes them."""
    world.order_book.cache_clear()
    finance.payment_book.cache_clear()
    logistics.shipment_book.cache_clear()


def _request(date: dt.date = DAY_1, **kwargs: object) -> GenerationRequest:
    return GenerationRequest(date=date, scale_factor=SF, **kwargs)  # type: ignore[arg-type]


def _frame(name: str, request: GenerationRequest) -> pl.DataFrame:
    frames = list(_entity(name).generate(request))
    assert frames and all(f.height <= request.chunk_rows for f in frames)
    return pl.concat(frames)


def _day(date: dt.date, seed: int = 42) -> dict[str, pl.DataFrame]:
    request = _request(date, seed=seed)
    return {e.name: _frame(e.name, request) for m in MODULES for e in m.ENTITIES}


@pytest.fixture(scope="module")
def day1() -> dict[str, pl.DataFrame]:
    return _day(DAY_1)


@pytest.fixture(scope="module")
def day2() -> dict[str, pl.DataFrame]:
    return _day(DAY_2)


def _cpf_is_valid(cpfs: pl.Series) -> np.ndarray:
    """Vectorised CPF check-digit validation of `123.456.789-09` strings."""
    digits = np.array(
        [list(map(int, s)) for s in cpfs.str.replace_all(r"[.\-]", "").to_list()]
    )  # a test-sized loop
    ok = np.ones(len(digits), dtype=bool)
    for position in (9, 10):
        weights = np.arange(position + 1, 1, -1)
        remainder = (digits[:, :position] @ weights) * 10 % 11
        ok &= np.where(remainder == 10, 0, remainder) == digits[:, position]
    return ok & (digits != digits[:, :1]).any(axis=1)


# --------------------------------------------------------------------------------------- tests
def test_entities_are_declared_in_write_order() -> None:
    for module, names in EXPECTED_ENTITIES.items():
        assert tuple(e.name for e in module.ENTITIES) == names


@pytest.mark.parametrize("name", [e.name for m in MODULES for e in m.ENTITIES])
def test_same_request_regenerates_identical_frames(name: str) -> None:
    request = _request()
    _clear_caches()
    first = list(_entity(name).generate(request))
    _clear_caches()
    second = list(_entity(name).generate(request))
    assert len(first) == len(second)
    assert all(a.equals(b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize(
    "name", ["customers", "products", "orders", "order_items", "payments", "shipments"]
)
def test_another_seed_gives_other_rows(name: str) -> None:
    assert not _frame(name, _request(seed=42)).equals(_frame(name, _request(seed=7)))


@pytest.mark.parametrize("name", [e.name for m in MODULES for e in m.ENTITIES])
def test_chunking_does_not_change_rows(name: str) -> None:
    whole = _frame(name, _request(chunk_rows=1_000_000))
    chunks = list(_entity(name).generate(_request(chunk_rows=7)))
    assert chunks and all(f.height <= 7 for f in chunks)
    assert pl.concat(chunks).equals(whole)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_dtypes_match_the_spec(day1: dict[str, pl.DataFrame], name: str) -> None:
    assert dict(day1[name].schema) == SCHEMAS[name]


def test_populations_and_volumes(day1: dict[str, pl.DataFrame]) -> None:
    n, p = world.customer_count(DAY_1, SF), world.product_count(DAY_1, SF)
    assert day1["customers"]["id_cliente"].to_list() == list(range(1, n + 1))
    assert day1["products"]["id_produto"].to_list() == list(range(1, p + 1))
    assert n >= 36 and p >= 36
    # N grows by 40·SF a day: at a tiny SF it moves every few days, never backwards.
    assert world.customer_count(DAY_2, SF) >= n
    assert world.customer_count(DAY_1 + dt.timedelta(days=30), SF) > n
    orders = day1["orders"]
    assert orders.height == world.order_count(DAY_1, SF, 42)
    assert 1.5 < day1["order_items"].height / orders.height < 3.5


def test_ids_are_unique_and_dated(day1: dict[str, pl.DataFrame]) -> None:
    base = 20261101 * 10**7
    for name, key in [
        ("orders", "order_id"),
        ("payments", "payment_id"),
        ("refunds", "refund_id"),
        ("shipments", "shipment_id"),
    ]:
        ids = day1[name][key]
        assert ids.n_unique() == len(ids)
        assert ids.min() > base and ids.max() < base + 10**7 if len(ids) else True
    items = day1["order_items"]
    assert items.select("order_id", "item_seq").is_unique().all()
    assert items.select("order_id", "product_id").is_unique().all()


def test_customers_cpf_email_phone(day1: dict[str, pl.DataFrame]) -> None:
    c = day1["customers"]
    assert c["cpf"].str.contains(r"^\d{3}\.\d{3}\.\d{3}-\d{2}$").all()
    assert _cpf_is_valid(c["cpf"]).all()
    assert c["cpf"].n_unique() == c.height
    assert c["email"].n_unique() == c.height
    assert c["telefone"].str.contains(r"^\+55 \d{2} 9\d{4}-\d{4}$").all()
    assert set(c["segmento"].unique()) <= {"varejo", "premium", "corporativo"}
    age_days = (pl.lit(DAY_2) - pl.col("data_nascimento")).dt.total_days()
    assert c.select(age_days.is_between(18 * 365, 90 * 365).all()).item()
    assert (c["data_cadastro"] <= DAY_1).all()
    local = c["atualizado_em"].dt.convert_time_zone("America/Sao_Paulo").dt.date()
    assert (local == c["data_cadastro"]).all()


def test_cpfs_unique_and_valid_at_larger_ids() -> None:
    ids = np.arange(1, 200_001, dtype=np.int64)
    cpf = world.cpf_numbers(ids, 42)
    assert len(np.unique(cpf)) == len(ids)
    text = pl.Series(cpf).cast(pl.String).str.zfill(11)
    assert _cpf_is_valid(text).all()


def test_phone_ddd_and_city_match_the_uf(day1: dict[str, pl.DataFrame]) -> None:
    from domains._shared.reference import geography

    geo = geography()
    cities = pl.DataFrame(
        {"cidade": geo.city_name, "uf": geo.uf[geo.city_uf], "ddd": geo.city_ddd.astype(str)}
    )
    joined = day1["customers"].join(cities, on=["cidade", "uf"], how="left")
    assert joined["ddd"].null_count() == 0
    assert (joined["telefone"].str.slice(4, 2) == joined["ddd"]).all()


def test_day2_snapshot_keeps_day1_customers(
    day1: dict[str, pl.DataFrame], day2: dict[str, pl.DataFrame]
) -> None:
    first, second = day1["customers"], day2["customers"]
    assert second.height >= first.height
    assert second.head(first.height).equals(first)
    new = second.slice(first.height)
    assert (new["data_cadastro"] == DAY_2).all()
    p1, p2 = day1["products"], day2["products"]
    stable = ["id_produto", "sku", "nome_produto", "id_categoria", "marca"]
    assert p2.head(p1.height).select(stable).equals(p1.select(stable))


def test_foreign_keys_resolve_within_the_day(day1: dict[str, pl.DataFrame]) -> None:
    d = day1
    assert d["orders"]["customer_id"].is_in(d["customers"]["id_cliente"].implode()).all()
    assert d["order_items"]["order_id"].is_in(d["orders"]["order_id"].implode()).all()
    assert d["order_items"]["product_id"].is_in(d["products"]["id_produto"].implode()).all()
    assert d["products"]["id_categoria"].is_in(d["categories"]["id_categoria"].implode()).all()
    assert d["payments"]["order_id"].sort().equals(d["orders"]["order_id"].sort())
    buyers = d["orders"].join(d["customers"], left_on="customer_id", right_on="id_cliente")
    assert (buyers["order_ts"] >= buyers["atualizado_em"]).all()
    confirmed = d["orders"].filter(pl.col("status") == "confirmado")["order_id"]
    assert d["shipments"]["order_id"].sort().equals(confirmed.sort())


def test_items_priced_at_the_catalog_price_of_active_products(
    day1: dict[str, pl.DataFrame],
) -> None:
    items = day1["order_items"].join(
        day1["products"], left_on="product_id", right_on="id_produto", how="left"
    )
    assert (items["unit_price"] == items["preco"]).all()
    assert items["ativo"].all()
    assert (items["line_amount"] == items["unit_price"] * items["quantity"]).all()


def test_order_amounts_add_up(day1: dict[str, pl.DataFrame]) -> None:
    orders = day1["orders"]
    sums = day1["order_items"].group_by("order_id").agg(pl.col("line_amount").sum().alias("s"))
    joined = orders.join(sums, on="order_id", how="left")
    assert (joined["s"] == joined["items_amount"]).all()
    total = orders["items_amount"] - orders["discount_amount"] + orders["freight_amount"]
    assert (total == orders["total_amount"]).all()
    assert (orders["discount_amount"] >= 0).all() and (orders["freight_amount"] >= 0).all()
    assert set(orders["status"].unique()) <= {"confirmado", "cancelado"}
    assert set(orders["channel"].unique()) <= {"site", "app", "marketplace", "televendas"}


@pytest.mark.parametrize("date", [DAY_1, DAY_2])
def test_order_ts_local_date_is_the_partition_date(date: dt.date) -> None:
    orders = _frame("orders", _request(date))
    local = orders["order_ts"].dt.convert_time_zone("America/Sao_Paulo").dt.date()
    assert (local == date).all()
    assert orders["order_ts"].is_sorted()


def test_payments_match_orders(day1: dict[str, pl.DataFrame]) -> None:
    pay = day1["payments"].join(day1["orders"], on="order_id", how="left")
    assert (pay["amount"] == pay["total_amount"]).all()
    assert (pay["paid_ts"] >= pay["order_ts"]).all()
    assert set(pay["method"].unique()) <= {"pix", "boleto", "cartao"}
    assert set(pay["status"].unique()) <= {"aprovado", "pendente", "recusado"}
    assert ((pay["method"] == "cartao") | (pay["installments"] == 1)).all()
    assert pay["installments"].is_between(1, 12).all()
    local = pay["paid_ts"].dt.convert_time_zone("America/Sao_Paulo").dt.date()
    assert (local == DAY_1).all()


@pytest.mark.parametrize("date", [DAY_1, DAY_2])
def test_refunds_are_the_approved_payments_of_cancelled_orders(date: dt.date) -> None:
    orders, payments = _frame("orders", _request(date)), _frame("payments", _request(date))
    refunds = _frame("refunds", _request(date))
    expected = payments.join(orders, on="order_id").filter(
        (pl.col("status") == "aprovado") & (pl.col("status_right") == "cancelado")
    )
    assert sorted(refunds["payment_id"]) == sorted(expected["payment_id"])
    joined = refunds.join(payments, on="payment_id", how="left", suffix="_pay")
    assert (joined["order_id"] == joined["order_id_pay"]).all()
    assert (joined["amount"] == joined["amount_pay"]).all()
    assert (joined["refund_ts"] >= joined["paid_ts"]).all()


def test_shipments_go_to_the_customer(day1: dict[str, pl.DataFrame]) -> None:
    ships = (
        day1["shipments"]
        .unnest("destination")
        .join(
            day1["orders"].select("order_id", "customer_id", "order_ts"), on="order_id", how="left"
        )
    )
    ships = ships.join(
        day1["customers"].select("id_cliente", "uf", "cidade"),
        left_on="customer_id",
        right_on="id_cliente",
        how="left",
    )
    assert (ships["uf"] == ships["uf_right"]).all()
    assert (ships["city"] == ships["cidade"]).all()
    assert ships["shipped_at"].str.contains(ISO_Z.pattern).all()


def test_shipment_events_and_slas(day1: dict[str, pl.DataFrame]) -> None:
    ships = day1["shipments"]
    counts = ships["events"].list.len()
    assert counts.is_between(2, 5).all()
    events = (
        ships.select("shipment_id", "promised_date", "events").explode("events").unnest("events")
    )
    assert events["ts"].str.contains(ISO_Z.pattern).all()
    assert set(events["status"].unique()) <= {
        "postado",
        "em_transito",
        "saiu_para_entrega",
        "entregue",
    }
    # Events are in time order within a shipment (ISO text sorts like time).
    assert events.group_by("shipment_id").agg(pl.col("ts").is_sorted()).to_series(1).all()
    delivered = events.filter(pl.col("status") == "entregue").with_columns(
        pl.col("ts")
        .str.to_datetime(time_zone="UTC")
        .dt.convert_time_zone("America/Sao_Paulo")
        .dt.date()
        .alias("delivered_on")
    )
    late = (delivered["delivered_on"] > delivered["promised_date"]).sum()
    assert 0 < late < delivered.height < ships.height
    slas = day1["carrier_slas"]
    assert slas.height == 5 * 27 and slas.select("carrier", "service", "uf").is_unique().all()
    sp = slas.filter(pl.col("uf") == "SP").join(
        slas.filter(pl.col("uf") == "AM"), on=["carrier", "service"]
    )
    assert (sp["sla_days"] < sp["sla_days_right"]).all()


def test_json_lines_shape(day1: dict[str, pl.DataFrame]) -> None:
    buffer = io.BytesIO()
    day1["shipments"].head(3).write_ndjson(buffer)
    obj = json.loads(buffer.getvalue().decode().splitlines()[0])
    assert list(obj) == [
        "shipment_id",
        "order_id",
        "carrier",
        "destination",
        "shipped_at",
        "promised_date",
        "events",
    ]
    assert set(obj["carrier"]) == {"code", "service"}
    assert set(obj["destination"]) == {"uf", "city"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", obj["promised_date"])
    assert isinstance(obj["shipment_id"], int) and isinstance(obj["order_id"], int)
    assert all(set(e) == {"status", "ts", "location"} for e in obj["events"])
    assert obj["events"][0]["status"] == "postado" and obj["events"][0]["ts"] == obj["shipped_at"]
    buffer = io.BytesIO()
    day1["carrier_slas"].head(1).write_ndjson(buffer)
    assert set(json.loads(buffer.getvalue())) == {"carrier", "service", "uf", "sla_days"}


def test_csv_text_shape(day1: dict[str, pl.DataFrame]) -> None:
    text = day1["products"].write_csv()
    header, *lines = text.splitlines()
    assert header == ",".join(SCHEMAS["products"])
    back = pl.read_csv(io.StringIO(text), infer_schema=False)
    assert back["preco"].str.contains(r"^\d+\.\d{2}$").all()
    assert set(back["ativo"].unique()) <= {"true", "false"}
    assert back["atualizado_em"].str.contains(ISO_Z.pattern).all()
    assert back["sku"].str.contains(r"^SKU-\d{6,}$").all()
    assert (day1["products"]["estoque"] >= 0).all()
    assert day1["categories"].write_csv().splitlines()[0] == (
        "id_categoria,nome_categoria,departamento"
    )


def test_the_platform_empties_the_cached_days_and_a_later_simulator_gets_the_same_arrays() -> None:
    import datetime as dt

    from domains._shared.world import order_book
    from domains.finance.simulator import payment_book
    from domains.logistics.simulator import shipment_book
    from wdc_orchestration.raw.generation.day_cache import release_day_caches

    day = dt.date(2026, 11, 2)
    before = order_book(day, 0.01, 42)
    payment_book(day, 0.01, 42)
    shipment_book(day, 0.01, 42)
    assert release_day_caches() >= 3
    assert order_book.cache_info().currsize == 0
    again = order_book(day, 0.01, 42)
    assert again is not before
    assert (again.order_id == before.order_id).all() and (
        again.line_cents == before.line_cents
    ).all()
