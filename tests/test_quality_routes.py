"""Defects that arrive by other routes than the simulators: files another system, a re-sent export
or a person's manual fix puts into a raw day that already landed. On a copy of the session's lake
(two clean days), each route is planted in the landed partition of its entity, then
`wdc materialize` runs that day for the domains its assertions look at: the route's domain, the
domains reading it, and their producers (a consumer whose producer did not run that day would fail
for that, not at the gate). That is the whole mesh but on the last route's day, which finance
(it reads no logistics product) does not need. Routes share a day only where neither blocks
the other's domain (so each one alone would have let its rows into the products if the gate had
missed it). For every route:

- the run exits non-zero, naming the file and the failed check;
- no row of it is in ANY DuckLake table (every schema but the audit ones, every column);
- the Parquet ports of its domain and of the domains that read it are unchanged;
- the incident is recorded, the day quarantined (all of its files, listed or not);
- the next clean day publishes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TEST_SCALE_FACTOR, MeshLake, copy_lake, started_run
from tests.products import on_days
from wdc_orchestration.lakehouse.wap import is_audit_schema
from wdc_orchestration.mesh.workspace import load_domain_specs
from wdc_orchestration.quality.evaluate import FILES
from wdc_orchestration.quality.incidents import list_incidents
from wdc_orchestration.raw.assets import land_day
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import environment, isolated_lake_env

MARKER_ID = 990_000_000_001  # ids no source system issues
MARKER_TEXT = "ROTAMARCADOR"
CLEAN_DAY = "2026-11-08"
# a domain's products, and the domains reading them (directly or not)
READERS = {
    "customers": ["customers", "sales", "finance", "logistics"],
    "catalog": ["catalog", "sales", "finance", "logistics"],
    "sales": ["sales", "finance", "logistics"],
    "finance": ["finance"],
    "logistics": ["logistics"],
}
DOMAINS = list(READERS)


def domains_of_day(domains: set[str]) -> list[str]:
    """The routes' domains, the domains reading them, and every producer those read (a domain
    whose products reach a reader): what a day of those routes must run, in mesh order."""
    readers = {reader for domain in domains for reader in READERS[domain]}
    return [d for d in DOMAINS if readers & set(READERS[d])]


def _copy(sql: str) -> None:
    duckdb.sql(sql)


def extra_orders(folder: Path) -> str:
    """Five orders re-sent by hand: negative amounts, customers that do not exist."""
    name = "orders-reenviado.parquet"
    _copy(
        f"copy (select * replace ({MARKER_ID} + row_number() over () - 1 as order_id, "
        "9999999999 as customer_id, -123.45 as total_amount) "
        f"from read_parquet('{folder / 'orders.parquet'}') limit 5) "
        f"to '{folder / name}' (format parquet)"
    )
    return name


def replaced_payments(folder: Path) -> str:
    """The landed file replaced after it landed: three payments rewritten."""
    landed = folder / "payments.parquet"
    scratch = folder.parent / "payments.tmp.parquet"
    _copy(
        f"copy (select * replace (case when row_number() over () <= 3 then {MARKER_ID} "
        "+ row_number() over () - 1 else payment_id end as payment_id) "
        f"from read_parquet('{landed}')) to '{scratch}' (format parquet)"
    )
    shutil.move(scratch, landed)
    return "payments.parquet"


def shipments_with_other_columns(folder: Path) -> str:
    """A newer export of the carrier integration: one column gone, one new."""
    name = "shipments-v2.jsonl"
    _copy(
        f"copy (select * exclude (promised_date) replace ({MARKER_ID} + row_number() over () - 1 "
        f"as shipment_id), '{MARKER_TEXT}' as nota_do_entregador "
        f"from read_json('{folder / 'shipments.jsonl'}', format = 'newline_delimited') limit 3) "
        f"to '{folder / name}' (format json)"
    )
    return name


def empty_customers(folder: Path) -> str:
    name = "clientes-parte-2.parquet"
    (folder / name).write_bytes(b"")
    return name


def truncated_items(folder: Path) -> str:
    """An upload cut short: the second half of the file never arrived."""
    name = "part-00001.parquet"
    _copy(
        f"copy (select * replace ({MARKER_ID} as order_id) "
        f"from read_parquet('{folder / 'order_items.parquet'}') limit 50) "
        f"to '{folder / name}' (format parquet)"
    )
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 2])
    return name


def slas_with_a_broken_line(folder: Path) -> str:
    name = "carrier_slas-correcao.jsonl"
    good = json.dumps({"carrier": MARKER_TEXT, "service": "expresso", "uf": "SP", "sla_days": 1})
    (folder / name).write_text(f'{good}\n{{"carrier": "{MARKER_TEXT}", "servi\n{good}\n')
    return name


def products_in_latin1_with_semicolons(folder: Path) -> str:
    """An export from another tool: ISO-8859-1 and `;`, names with accents."""
    name = "produtos_export.csv"
    relation = duckdb.sql(
        f"select * from read_csv('{folder / 'products.csv'}', all_varchar = true, "
        "hive_partitioning = false) limit 3"
    )
    columns, rows = relation.columns, relation.fetchall()
    lines = [";".join(columns)]
    for n, row in enumerate(rows):
        values = dict(zip(columns, row, strict=True))
        values["id_produto"] = str(MARKER_ID + n)
        values["nome_produto"] = f"Pão de Açúcar {MARKER_TEXT}"
        lines.append(";".join(values[c] or "" for c in columns))
    (folder / name).write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return name


@dataclass(frozen=True)
class Route:
    name: str
    day: str
    domain: str
    entity: str
    plant: Callable[[Path], str]
    expected: str  # words the failed files check says about the file
    markers: tuple[str, ...] = (str(MARKER_ID), MARKER_TEXT)


ROUTES = [
    Route("an empty file", "2026-11-03", "customers", "customers", empty_customers, "empty"),
    Route(
        "a CSV in another encoding and delimiter",
        "2026-11-03",
        "catalog",
        "products",
        products_in_latin1_with_semicolons,
        "unexpected file",
    ),
    Route(
        "an extra file in a landed partition",
        "2026-11-04",
        "sales",
        "orders",
        extra_orders,
        "5 rows as parquet",
    ),
    Route(
        "a truncated Parquet file",
        "2026-11-05",
        "sales",
        "order_items",
        truncated_items,
        "cannot be read as parquet",
    ),
    Route(
        "a landed file replaced after it landed",
        "2026-11-06",
        "finance",
        "payments",
        replaced_payments,
        "tampered file",
    ),
    Route(
        "an extra file with a missing and an extra column",
        "2026-11-06",
        "logistics",
        "shipments",
        shipments_with_other_columns,
        "nota_do_entregador",
    ),
    Route(
        "a JSON-lines file with a line that is not JSON",
        "2026-11-07",
        "logistics",
        "carrier_slas",
        slas_with_a_broken_line,
        "cannot be read as jsonl",
    ),
]


@dataclass
class DayOutcome:
    exit_code: int
    log: str
    run_id: str
    planted: dict[str, str] = field(default_factory=dict)  # route name -> planted file
    markers_found: dict[str, list[str]] = field(default_factory=dict)  # route -> tables
    ports_before: dict[str, list[str]] = field(default_factory=dict)
    ports_after: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RoutesRun:
    lake: MeshLake
    days: dict[str, DayOutcome]
    clean_exit: int
    clean_rows: dict[str, int]


def _entity(domain: str, name: str) -> RawEntity:
    spec = next(s for s in load_domain_specs() if s.name == domain)
    return next(e for e in spec.raw_entities if e.name == name)


def _ports(root: Path, domain: str) -> list[str]:
    base = root / "lake/products" / domain
    return sorted(
        f"{p.relative_to(base)}:{p.read_text() if p.name == 'current.json' else ''}"
        for p in base.rglob("*")
        if p.is_file()
    )


def _tables_with(lake: MeshLake, markers: tuple[str, ...]) -> list[str]:
    """Every DuckLake table but the audit ones whose rows contain a marker, in any column."""
    found = []
    with lake.connect() as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'lakehouse'"
        ).fetchall()
        for schema, table in tables:
            if is_audit_schema(schema):
                continue
            condition = " or ".join(f"contains(t::varchar, '{m}')" for m in markers)
            hits = con.execute(
                f'select count(*) from lakehouse."{schema}"."{table}" t where {condition}'
            ).fetchone()[0]
            if hits:
                found.append(f"{schema}.{table}")
    return found


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def routes(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoutesRun]:

    from wdc_orchestration.cli import main

    root = tmp_path_factory.mktemp("wdc-routes")
    mesh = copy_lake(two_days, root)
    with environment(isolated_lake_env(root)):
        lake = LocalLakeStorage(root=str(root / "lake"))
        days: dict[str, DayOutcome] = {}
        for day in sorted({r.day for r in ROUTES}):
            todays = [r for r in ROUTES if r.day == day]
            planted = {}
            for route in todays:  # the day lands as the source system sends it...
                request = GenerationRequest(
                    date=dt.date.fromisoformat(day), scale_factor=TEST_SCALE_FACTOR
                )
                land_day(lake, route.domain, _entity(route.domain, route.entity), request)
                folder = root / "lake/raw" / route.domain / route.entity / f"date={day}"
                planted[route.name] = route.plant(folder)  # ...then the other route
            readers = sorted({d for r in todays for d in READERS[r.domain]})
            ports_before = {d: _ports(root, d) for d in readers}
            keep = _Keep()
            logging.getLogger("wdc_orchestration.cli").addHandler(keep)
            try:
                command = ["materialize", "--start", day, "--log-level", "ERROR"]
                domains = domains_of_day({r.domain for r in todays})
                if domains != DOMAINS:
                    command += ["--domains", ",".join(domains)]
                with started_run() as run:
                    exit_code = main(command)
            finally:
                logging.getLogger("wdc_orchestration.cli").removeHandler(keep)
            days[day] = DayOutcome(
                exit_code=exit_code,
                log="\n".join(keep.lines),
                run_id=run.run_id,
                planted=planted,
                markers_found={r.name: _tables_with(mesh, r.markers) for r in todays},
                ports_before=ports_before,
                ports_after={d: _ports(root, d) for d in readers},
            )
        clean_exit = main(["materialize", "--start", CLEAN_DAY, "--log-level", "ERROR"])
        with mesh.connect() as con:
            clean_rows = {
                table: con.execute(
                    f"select count(*) from ({on_days(table, [CLEAN_DAY])})"
                ).fetchone()[0]
                for table in (
                    "customers.dim_customers",
                    "catalog.dim_products",
                    "sales.fct_orders",
                    "finance.fct_payments",
                    "logistics.fct_shipments",
                )
            }
        yield RoutesRun(mesh, days, clean_exit, clean_rows)


IDS = [r.name for r in ROUTES]


def test_each_day_runs_the_routes_readers_and_their_producers() -> None:
    assert domains_of_day({"customers", "catalog"}) == DOMAINS
    assert domains_of_day({"finance", "logistics"}) == DOMAINS  # sales and its producers
    assert domains_of_day({"logistics"}) == ["customers", "catalog", "sales", "logistics"]
    assert domains_of_day({"finance"}) == ["customers", "catalog", "sales", "finance"]


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_run_exits_non_zero_naming_the_file_and_the_check(
    routes: RoutesRun, route: Route
) -> None:
    outcome = routes.days[route.day]
    assert outcome.exit_code == 1
    asset = f"{route.domain}/raw/{route.entity}"
    file_key = f"raw/{route.domain}/{route.entity}/date={route.day}/{outcome.planted[route.name]}"
    lines = [
        line
        for line in outcome.log.splitlines()
        if line.startswith(f"check failed: {FILES} on {asset} (ERROR)")
    ]
    assert lines, outcome.log
    assert file_key in lines[0] and route.expected in lines[0], lines[0]


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_no_row_of_it_is_in_any_ducklake_table_but_the_audit_ones(
    routes: RoutesRun, route: Route
) -> None:
    assert routes.days[route.day].markers_found[route.name] == []


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_parquet_ports_of_it_and_its_readers_are_unchanged(
    routes: RoutesRun, route: Route
) -> None:
    outcome = routes.days[route.day]
    for domain in READERS[route.domain]:
        assert outcome.ports_after[domain] == outcome.ports_before[domain], domain


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_incident_is_recorded_and_every_file_of_the_day_quarantined(
    routes: RoutesRun, route: Route
) -> None:
    outcome = routes.days[route.day]
    lake = LocalLakeStorage(root=str(routes.lake.root / "lake"))
    asset = f"{route.domain}/raw/{route.entity}"
    (incident,) = [
        i
        for i in list_incidents(lake)
        if i.run_id == outcome.run_id and i.asset == asset and i.check == FILES
    ]
    assert incident.partitions == (route.day,) and incident.alerted_at
    raw = routes.lake.root / "lake/raw" / route.domain / route.entity / f"date={route.day}"
    assert not raw.exists() or not any(raw.iterdir())
    (moved,) = incident.quarantined
    kept = sorted(p.name for p in (routes.lake.root / "lake" / moved).iterdir())
    assert outcome.planted[route.name] in kept and "_manifest.json" in kept


def test_the_next_clean_day_publishes(routes: RoutesRun) -> None:
    assert routes.clean_exit == 0
    assert all(rows > 0 for rows in routes.clean_rows.values()), routes.clean_rows
