"""The portal for real: `wdc portal` serving the Taipy app on a copy of the session's lake after a
third day with a planted defect, driven by Debian's chromium through Playwright (no browser
download). Every page is read as a person sees it, and what it shows is checked against DuckDB
queries on the products, the lake's records and the Dagster instance.

Screenshots go to `test-artifacts/portal/` at the project root (git-ignored; CI keeps them
beside its log); docs/images/portal-*.png were taken from there."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import playwright.sync_api as playwright  # a dev dependency: never skipped
import pytest

from tests.conftest import DAY_3_DEFECT, MeshLake
from tests.portal_server import list_decisions, served_portal
from wdc_orchestration.governance.access_requests import APPROVED, list_requests
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.scanner import confirm, extract_candidates
from wdc_orchestration.quality.incidents import list_incidents
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import PROJECT_ROOT, environment, get_settings, isolated_lake_env
from wdc_portal.auth.accounts import AccountStore

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "portal"
TIMEOUT_MS = 120_000  # a shared 2-core machine: pages wait for data, never for a set time
# every expectation of this module waits as long: a table is drawn with 30 empty rows before
# its data arrives, and under a full suite the data took longer than the 5 s default
playwright.expect.set_options(timeout=TIMEOUT_MS)
# The people who use the portal in these tests (accounts on the test lake, one password):
ANALYST = "ana.analista@wdc.example"  # of every domain: sees every product whole
OWNER = "fabio.financas@wdc.example"  # finance: owns finance.fct_daily_revenue
CONSUMER = "lia.logistica@wdc.example"  # logistics: asks to read it
OUTSIDER = "olga.visitante@wdc.example"  # signed in, of no domain
PASSWORD = "portal-test-password"
PEOPLE = {ANALYST: None, OWNER: ["finance"], CONSUMER: ["logistics"], OUTSIDER: []}


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    """Fails (never skips) without Debian's chromium: .ci/run installs it with apt-get."""
    assert CHROMIUM.exists(), "install Debian's chromium: apt-get install -y chromium"


def _copy_lake(source: MeshLake, target: Path) -> None:
    """The session's lake, catalog and instance, copied (DuckLake told where its data now is)."""
    for name in ("lake", "catalog", "dagster_home"):
        shutil.copytree(source.root / name, target / name)
    with sqlite3.connect(target / "catalog" / "wdc.sqlite") as catalog:
        catalog.execute(
            "update ducklake_metadata set value = ? where key = 'data_path'",
            (str(target / "lake" / "lakehouse") + "/",),
        )


@pytest.fixture(scope="module")
def defect_lake(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshLake]:
    """Two clean days, then a third of finance whose payments carry null keys: the raw gate stops
    it, the day is quarantined and an incident recorded (what monitoring must show). Finance
    alone: the other domains' third day would show nothing more here (a day-run of four
    domains less)."""
    from wdc_orchestration.cli import main

    root = tmp_path_factory.mktemp("wdc-portal")
    _copy_lake(two_days, root)
    with environment(isolated_lake_env(root)):
        code = main(
            ["materialize", "--start", DAY_3_DEFECT, "--domains", "finance",
             "--defects", "null_keys", "--log-level", "WARNING"]
        )  # fmt: skip
        assert code == 1, "the planted defect must fail the day"
        yield MeshLake(root)


@pytest.fixture(scope="module")
def portal_url(defect_lake: MeshLake) -> Iterator[str]:
    accounts = AccountStore(LocalLakeStorage(root=get_settings().lake_url))
    every_domain = sorted({d.domain for d in load_descriptors().values()})
    for username, domains in PEOPLE.items():
        accounts.add(username, PASSWORD, every_domain if domains is None else domains)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with served_portal(
        os.environ, ARTIFACTS / "portal.log", ["--dagster-url", "http://127.0.0.1:3999"]
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser(portal_url: str) -> Iterator[object]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def signed_in(browser, portal_url: str, username: str) -> Iterator[object]:
    """A browser context of its own (its own session cookie) signed in as `username`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=portal_url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/signin")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#signin-button")
    playwright.expect(page.locator("#whoami")).to_contain_text(username)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, portal_url: str):
    """The pages as an analyst of every domain sees them (every product, every column)."""
    with signed_in(browser, portal_url, ANALYST) as page:
        yield page


def _open(page, path: str, ready: str, text: str | None = None) -> None:
    page.goto(path)
    locator = page.locator(ready)
    playwright.expect(locator).to_be_visible(timeout=TIMEOUT_MS)
    if text is not None:
        playwright.expect(locator).to_contain_text(text, timeout=TIMEOUT_MS)


def _shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def _table(page, selector: str) -> list[list[str]]:
    return page.evaluate(
        "(s) => Array.from(document.querySelectorAll(s + ' tbody tr'))"
        ".map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))",
        selector,
    )


def _choose(page, selector: str, option: str) -> None:
    page.click(selector)
    page.click(f'li[role="option"]:text-is("{option}")')
    playwright.expect(page.locator(selector)).to_have_text(option)


def _fill(page, selector: str, text: str) -> None:
    page.fill(selector, text)
    # The portal's inputs send their value on change (change_delay=0); leaving the field makes
    # sure the last keystroke went out before the next action on the same socket.
    page.press(selector, "Tab")


def test_the_marketplace_lists_and_finds_every_product(page) -> None:
    products = sorted(load_descriptors())
    _open(page, "/marketplace", "#products", products[-1])
    listed = [row[0] for row in _table(page, "#products")]
    assert sorted(listed) == products
    _shot(page, "marketplace")
    # the search matches column names and descriptions: `refund` is a column of finance's two
    _fill(page, "#search", "refund")
    playwright.expect(page.locator("#summary")).to_have_text(f"2 of {len(products)} data products")
    playwright.expect(page.locator("#products tbody tr")).to_have_count(2)
    assert sorted(row[0] for row in _table(page, "#products")) == [
        "finance.fct_daily_revenue",
        "finance.fct_payments",
    ]
    page.locator("#products tbody tr", has_text="finance.fct_daily_revenue").click()
    playwright.expect(page.locator("#product-header")).to_contain_text("finance.fct_daily_revenue")


def test_a_product_page_shows_its_contract_and_a_preview_equal_to_its_port(
    page, defect_lake: MeshLake
) -> None:
    d = load_descriptors()["sales.fct_orders"]
    _open(page, "/product?product=sales.fct_orders", "#product-header", d.id)
    playwright.expect(page.locator("#contract")).to_contain_text(d.description.purpose)
    playwright.expect(page.locator("#columns tbody tr")).to_have_count(len(d.columns))
    playwright.expect(page.locator("#columns")).to_contain_text(d.columns[-1].description)
    columns = {row[0]: row for row in _table(page, "#columns")}
    assert list(columns) == [c.name for c in d.columns]
    assert columns["customer_id"][3:5] == ["personal", "pseudonymised"]
    playwright.expect(page.locator("#consumers-table")).to_contain_text("logistics")
    playwright.expect(page.locator("#snapshots")).to_contain_text(
        "SELECT * FROM lakehouse.sales.fct_orders AT (VERSION =>"
    )
    playwright.expect(page.locator("#ducklake-snippet")).to_contain_text("READ_ONLY")
    playwright.expect(page.locator("#parquet-snippet")).to_contain_text(
        "products/sales/fct_orders/v1/"
    )
    playwright.expect(page.locator("#preview tbody tr")).to_have_count(20)
    shown = _table(page, "#preview")
    names = [c.name for c in d.columns]
    with defect_lake.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        expected = con.execute(
            "SELECT " + ", ".join(f"coalesce(CAST({n} AS VARCHAR), 'NULL')" for n in names)
            + " FROM lakehouse.sales.fct_orders ORDER BY order_id LIMIT 20"
        ).fetchall()  # fmt: skip
    assert shown == [list(row) for row in expected]
    # pseudonymised stays pseudonymised: 64-hex HMAC digests, never the CRM's numeric id
    assert shown and all(re.fullmatch(r"[0-9a-f]{64}", row[1]) for row in shown), shown
    _shot(page, "product")


def test_no_page_shows_a_raw_cpf_email_or_phone(page, defect_lake: MeshLake) -> None:
    paths = ["/marketplace", "/lineage", "/kpis", "/monitoring", "/access"] + [
        f"/product?product={p}" for p in sorted(load_descriptors())
    ]
    ready = {"/marketplace": "#products", "/lineage": "#raw-fields", "/kpis": "#kpi-status",
             "/monitoring": "#monitoring-summary", "/access": "#requests"}  # fmt: skip
    texts = {}
    for path in paths:
        _open(page, path, ready.get(path, "#preview"))
        page.wait_for_load_state("networkidle")
        texts[path] = page.inner_text("body")
    staff = {d.team.owner for d in load_descriptors().values()} | set(PEOPLE)
    with defect_lake.connect() as con:
        raw = con.execute(
            "SELECT cpf, email, telefone FROM read_parquet(?, hive_partitioning = true)",
            [str(defect_lake.root / "lake/raw/customers/customers/*/*.parquet")],
        ).fetchall()
    assert len(raw) > 100
    for path, text in texts.items():
        assert [c for c in extract_candidates("cpf", text) if confirm("cpf", c)] == [], path
        assert extract_candidates("phone", text) == [], path
        assert set(extract_candidates("email", text)) <= staff, path
        leaked = [value for row in raw for value in row if value and value in text]
        assert leaked == [], path


def test_the_lineage_of_daily_revenue_reaches_raw_sales_and_finance_fields(page) -> None:
    _open(
        page, "/lineage?product=finance.fct_daily_revenue", "#raw-fields", "sales.raw.orders.date"
    )
    fields = page.inner_text("#raw-fields")
    for field in ("sales.raw.orders.date", "finance.raw.payments.amount",
                  "finance.raw.payments.status", "finance.raw.refunds.amount"):  # fmt: skip
        assert field in fields
    playwright.expect(page.locator("#lineage-paths")).to_contain_text(
        "finance.fct_payments.order_date ← sales.fct_orders.order_date"
    )
    playwright.expect(page.locator("#lineage-chart .js-plotly-plot")).to_be_visible()
    _shot(page, "lineage")


def test_a_kpi_chart_shows_the_numbers_of_a_query_on_the_products(
    page, defect_lake: MeshLake
) -> None:
    chart = "#kpi-revenue_by_uf_channel .js-plotly-plot"
    _open(page, "/kpis", chart)
    page.wait_for_function(
        "(s) => { const e = document.querySelector(s); return e && e._fullData"
        " && e._fullData.length > 0 }",
        arg=chart,
    )
    # every bar: (day, uf, channel) from its customdata, and its height
    bars = page.evaluate(
        "(s) => document.querySelector(s)._fullData.flatMap(t => Array.from(t.y).map((y, i) =>"
        " [...Array.from(t.customdata[i]), y]))",
        chart,
    )
    shown = {(day, uf, channel): round(y, 2) for day, uf, channel, y in bars}
    with defect_lake.connect() as con:
        rows = con.execute(
            "SELECT strftime(order_date, '%Y-%m-%d'), customer_uf, channel, sum(total_amount) "
            "FROM lakehouse.sales.fct_orders WHERE status = 'confirmado' GROUP BY ALL"
        ).fetchall()
    expected = {(day, uf, channel): round(float(total), 2) for day, uf, channel, total in rows}
    assert len(expected) > 50
    assert shown == expected
    for other in ("payment_mix_and_refunds", "delivery_time_vs_sla", "new_customers_by_cohort"):
        playwright.expect(page.locator(f"#kpi-{other} .js-plotly-plot")).to_be_visible()
    _shot(page, "kpis")


def test_monitoring_shows_the_incident_of_the_planted_defect(page, defect_lake: MeshLake) -> None:
    lake = LocalLakeStorage(root=get_settings().lake_url)
    incidents = [i for i in list_incidents(lake) if i.asset == "finance/raw/payments"]
    assert incidents, "the defect run recorded no incident"
    _open(page, "/monitoring", "#incidents", "keys_not_null_and_unique")
    text = page.inner_text("#incidents")
    assert "open" in text and "finance/raw/payments" in text and "null payment_id" in text
    run = incidents[0].run_id
    assert page.locator(f'#incidents a[href="http://127.0.0.1:3999/runs/{run}"]').count() >= 1
    playwright.expect(page.locator("#quarantine")).to_contain_text(f"date={DAY_3_DEFECT}")
    playwright.expect(page.locator("#runs")).to_contain_text("FAILURE")
    playwright.expect(page.locator("#pass-rate-chart .js-plotly-plot")).to_be_visible()
    playwright.expect(page.locator("#freshness")).to_contain_text("sales.fct_orders")
    _shot(page, "monitoring")


def _no_rows(page, product: str) -> None:
    """The product page of someone who may not read `product`: its contract, no rows."""
    _open(page, f"/product?product={product}", "#product-header", product)
    playwright.expect(page.locator("#columns tbody tr")).not_to_have_count(0)
    playwright.expect(page.locator("#preview-note")).to_contain_text("may not read")
    # (a table without data may draw placeholder rows of empty cells: no cell holds a value)
    assert [cell for row in _table(page, "#preview") for cell in row if cell] == []
    playwright.expect(page.locator("#ducklake-snippet")).not_to_contain_text("SELECT")


def test_an_outsider_browses_the_marketplace_and_reads_no_rows(browser, portal_url: str) -> None:
    products = sorted(load_descriptors())
    with signed_in(browser, portal_url, OUTSIDER) as page:
        _open(page, "/marketplace", "#products", products[-1])
        assert sorted(row[0] for row in _table(page, "#products")) == products
        for product in ("finance.fct_daily_revenue", "sales.fct_orders"):
            _no_rows(page, product)
        _open(page, "/kpis", "#kpi-status", "0 of")
        # cannot file (no domain to ask for) nor approve (owns nothing)
        _open(page, "/access", "#decide-help", "you are of no domain")
        page.click("#request-button")
        page.click("#approve-button")
        _shot(page, "outsider")
    requests = list_requests(LocalLakeStorage(root=get_settings().lake_url))
    assert [r for r in requests if r.requested_by == OUTSIDER or r.decided_by == OUTSIDER] == []


def test_a_consumer_asks_the_owner_approves_and_the_consumer_then_reads_the_rows(
    browser, portal_url: str
) -> None:
    product = "finance.fct_daily_revenue"
    d = load_descriptors()[product]
    lake = LocalLakeStorage(root=get_settings().lake_url)
    with signed_in(browser, portal_url, CONSUMER) as consumer:
        _no_rows(consumer, product)
        _open(consumer, f"/access?product={product}", "#request-product", product)
        _choose(consumer, "#request-consumer", "logistics")
        _fill(consumer, "#request-purpose", "Freight cost against revenue per day")
        consumer.click("#request-button")
        playwright.expect(consumer.locator("#requests")).to_contain_text("pending")
        # the consumer has nothing to decide, and approving does nothing
        playwright.expect(consumer.locator("#pending-request")).not_to_contain_text("logistics")
        consumer.click("#approve-button")
        playwright.expect(consumer.locator("#requests")).not_to_contain_text("approved")
        (stored,) = list_requests(lake, product)
        assert (stored.status, stored.requested_by) == ("pending", CONSUMER)
        _no_rows(consumer, product)
        with signed_in(browser, portal_url, OWNER) as owner:
            _open(owner, "/access", "#pending-request", "logistics")
            _fill(owner, "#decision-note", "freight planning only")
            owner.click("#approve-button")
            playwright.expect(owner.locator("#requests")).to_contain_text("approved")
            _shot(owner, "access")
        (stored,) = list_requests(lake, product)
        assert (stored.status, stored.requested_by, stored.decided_by) == (
            APPROVED, CONSUMER, OWNER,
        )  # fmt: skip
        (audit,) = [a for a in list_decisions(lake) if a["request_id"] == stored.request_id]
        assert (audit["who"], audit["action"], audit["why"]) == (
            OWNER, "approve", "freight planning only",
        )  # fmt: skip
        # now the consumer reads the rows, without the columns kept with finance
        _open(consumer, f"/product?product={product}", "#consumers-table", "logistics")
        playwright.expect(consumer.locator("#consumers-table")).to_contain_text(
            f"access request {stored.request_id}, approved by {OWNER}"
        )
        playwright.expect(consumer.locator("#preview-note")).to_contain_text("First")
        playwright.expect(consumer.locator("#preview tbody tr").first).to_be_visible()
        headers = consumer.eval_on_selector_all(
            "#preview thead th", "ths => ths.map(th => th.innerText.trim())"
        )
        confidential = [c.name for c in d.columns if c.classification == "confidential"]
        internal = {c.name for c in d.columns if c.classification == "internal"}
        assert confidential and not set(confidential) & set(headers), headers
        assert internal <= set(headers), headers
        _shot(consumer, "consumer-after-approval")


def test_the_portal_refuses_other_origins_and_serves_no_source(portal_url: str) -> None:
    for path in ("/app.py", "/context.py", "/pages/access.py", "/.taipyignore"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(portal_url + path, timeout=30)
        assert missing.value.code == 404, path
    evil = urllib.request.Request(
        portal_url + "/socket.io/?EIO=4&transport=polling",
        headers={"Origin": "http://evil.example"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(evil, timeout=30)
    assert refused.value.code == 403


def test_a_state_products_page_shows_its_history_and_the_state_as_of_a_day(
    page, defect_lake: MeshLake
) -> None:
    from wdc_portal.data.history import as_of_predicate

    d = load_descriptors()["catalog.dim_products"]
    _open(page, f"/product?product={d.id}", "#product-header", d.id)
    playwright.expect(page.locator("#history")).to_contain_text("History")
    with defect_lake.connect() as con:
        changed = [
            str(day)
            for (day,) in con.execute(
                f"SELECT DISTINCT valid_from FROM {d.sql_port} ORDER BY 1"
            ).fetchall()
        ]
    assert len(changed) >= 2, "the catalog's products change every day: two days, two versions"
    playwright.expect(page.locator("#history-table tbody tr")).to_have_count(len(changed))
    playwright.expect(page.locator("#history-table")).to_contain_text(changed[-1])
    assert [row[0] for row in _table(page, "#history-table")] == changed
    # by default the state as of the last day the history changed
    playwright.expect(page.locator("#as-of-note")).to_contain_text(changed[-1])
    # choose the first day in the date control (en-US field: month, day, year)
    first = changed[0]
    field = page.locator("#as-of-day input")
    field.click()
    page.keyboard.press("Home")
    page.keyboard.type(f"{first[5:7]}{first[8:10]}{first[0:4]}")
    page.keyboard.press("Tab")
    playwright.expect(field).to_have_value(f"{first[5:7]}/{first[8:10]}/{first[0:4]}")
    page.click("#as-of-button")
    playwright.expect(page.locator("#as-of-note")).to_contain_text(first, timeout=TIMEOUT_MS)
    playwright.expect(page.locator("#as-of-snippet")).to_contain_text(
        f"WHERE {as_of_predicate(dt.date.fromisoformat(first))}"
    )
    key = d.time_model.key[0]
    names = [c.name for c in d.columns]
    with defect_lake.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        expected = con.execute(
            "SELECT " + ", ".join(f"coalesce(CAST({n} AS VARCHAR), 'NULL')" for n in names)
            + f" FROM {d.sql_port} WHERE {as_of_predicate(dt.date.fromisoformat(first))}"
            + f" ORDER BY {key} LIMIT 20"
        ).fetchall()  # fmt: skip
    assert expected and all(row[names.index("valid_from")] == first for row in expected)
    # rows are drawn before their cells fill: wait for the chosen day's versions in the cells
    rows = page.locator("#as-of-rows tbody tr")
    playwright.expect(rows).to_have_count(len(expected), timeout=TIMEOUT_MS)
    valid_from = rows.first.locator("td").nth(names.index("valid_from"))
    playwright.expect(valid_from).to_have_text(first, timeout=TIMEOUT_MS)
    assert _table(page, "#as-of-rows") == [list(row) for row in expected]
    _shot(page, "product-history")
