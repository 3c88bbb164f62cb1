"""The portal knows who you are (issue 20), without a browser: the mesh's read rules, the local
accounts, sign-in, origins and served files through Flask's test client on the real Taipy app,
the trusted-proxy header mode, and a scripted websocket client against `wdc portal` served for
real (on a lake without data: access requests need none) that tries what the issue's attacker
did — approve without owning, traverse paths with a request id, call page functions by name,
delete a file with Taipy's own action, borrow another user's client id."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from tests.portal_client import TaipyClient
from tests.portal_server import list_decisions, served_portal
from wdc_orchestration.governance.access_requests import (
    APPROVED,
    AUDIT_PREFIX,
    PENDING,
    file_request,
    list_requests,
)
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import PROJECT_ROOT, environment, get_settings, isolated_lake_env
from wdc_portal.auth.accounts import AccountError, AccountStore
from wdc_portal.auth.guard import origin_allowed, served_path_allowed
from wdc_portal.auth.rules import (
    User,
    hidden_columns,
    may_decide,
    may_read,
    may_see_query,
    visible_columns,
)
from wdc_portal.auth.signin import AuthConfig, install, safe_next, signed_in

DESCRIPTORS = load_descriptors()
DOMAINS = sorted({d.domain for d in DESCRIPTORS.values()})
REVENUE = DESCRIPTORS["finance.fct_daily_revenue"]
ORDERS = DESCRIPTORS["sales.fct_orders"]
PASSWORD = "a-long-enough-password"

FINANCE = User("fabio@wdc.example", frozenset({"finance"}))
LOGISTICS = User("lia@wdc.example", frozenset({"logistics"}))
OUTSIDER = User("olga@wdc.example")


# --- who may read what -----------------------------------------------------------------------


def test_the_owner_the_contracts_consumers_and_grantees_read_a_product_nobody_else() -> None:
    consumers = set(ORDERS.consumers)
    assert consumers, "sales.fct_orders has consumers in its contract"
    consumer = User("c@wdc.example", frozenset({sorted(consumers)[0]}))
    assert may_read(User("s@wdc.example", frozenset({"sales"})), ORDERS, {})
    assert may_read(consumer, ORDERS, {})
    assert "logistics" not in REVENUE.consumers
    assert not may_read(LOGISTICS, REVENUE, {})
    assert may_read(LOGISTICS, REVENUE, {REVENUE.id: frozenset({"logistics"})})
    assert not may_read(OUTSIDER, REVENUE, {REVENUE.id: frozenset({"logistics"})})
    assert not may_read(None, REVENUE, {})


def test_confidential_columns_stay_with_the_owning_domain() -> None:
    confidential = [c.name for c in REVENUE.columns if c.classification == "confidential"]
    assert confidential, "fct_daily_revenue has confidential columns"
    assert [c.name for c in visible_columns(FINANCE, REVENUE)] == [c.name for c in REVENUE.columns]
    assert hidden_columns(FINANCE, REVENUE) == []
    assert hidden_columns(LOGISTICS, REVENUE) == confidential
    # a personal column the contract pseudonymised may leave its domain
    customer = ORDERS.column("customer_id")
    assert customer is not None and customer.privacy is not None
    assert "customer_id" in [c.name for c in visible_columns(LOGISTICS, ORDERS)]


def test_only_the_owning_domain_decides() -> None:
    assert may_decide(FINANCE, REVENUE)
    assert not may_decide(LOGISTICS, REVENUE)
    assert not may_decide(OUTSIDER, REVENUE)
    everyone = User("ana@wdc.example", frozenset(DOMAINS))
    assert may_decide(everyone, REVENUE)


def test_a_query_naming_a_hidden_column_is_not_for_a_mere_reader() -> None:
    grants = {REVENUE.id: frozenset({"logistics"})}
    hidden = hidden_columns(LOGISTICS, REVENUE)[0]
    open_column = visible_columns(LOGISTICS, REVENUE)[0].name
    aggregate = f"SELECT sum({hidden}) FROM {REVENUE.sql_port}"
    plain = f"SELECT {open_column} FROM {REVENUE.sql_port}"
    assert may_see_query(FINANCE, aggregate, [REVENUE], {})
    assert not may_see_query(LOGISTICS, aggregate, [REVENUE], grants)
    assert may_see_query(LOGISTICS, plain, [REVENUE], grants)
    assert not may_see_query(LOGISTICS, plain, [REVENUE], {})
    # hidden columns read without being named: a star, a row by its alias, COLUMNS(regex)
    port = REVENUE.sql_port
    for unnamed in (f"SELECT * FROM {port}", f"SELECT r.* FROM {port} AS r",
                    f"SELECT * EXCLUDE ({open_column}) FROM {port}",
                    f"SELECT to_json(r) AS row FROM {port} AS r",
                    f"SELECT columns('.*amount') FROM {port}",
                    f"WITH c AS (SELECT * FROM {port}) SELECT {open_column} FROM c"):  # fmt: skip
        assert may_see_query(FINANCE, unnamed, [REVENUE], {}), unnamed
        assert not may_see_query(LOGISTICS, unnamed, [REVENUE], grants), unnamed
    # what the KPIs do stays open: count(*), aliases used again, a CTE of visible columns
    for fine in (f"SELECT {open_column} AS d, count(*) AS n FROM {port} GROUP BY d ORDER BY d",
                 f"WITH c AS (SELECT {open_column} AS d FROM {port}) SELECT d FROM c"):  # fmt: skip
        assert may_see_query(LOGISTICS, fine, [REVENUE], grants), fine


# --- accounts ----------------------------------------------------------------------------------


def test_accounts_keep_scrypt_hashes_and_verify_passwords(tmp_path: Path) -> None:
    store = AccountStore(LocalLakeStorage(root=str(tmp_path / "lake")))
    store.add("Fabio@WDC.example", PASSWORD, ["finance"], known_domains=DOMAINS)
    stored = (tmp_path / "lake/governance/portal/accounts/fabio@wdc.example.json").read_text()
    assert PASSWORD not in stored and '"scrypt:' in stored
    assert store.verify("fabio@wdc.example", PASSWORD).domains == ("finance",)
    assert store.verify("fabio@wdc.example", PASSWORD + "x") is None
    assert store.verify("nobody", PASSWORD) is None
    for bad in ("../../etc/x", "a/b", "", "UPPER CASE"):
        with pytest.raises(AccountError):
            store.add(bad, PASSWORD)
    with pytest.raises(AccountError, match="unknown domain"):
        store.add("x@wdc.example", PASSWORD, ["hr"], known_domains=DOMAINS)
    with pytest.raises(AccountError, match="at least"):
        store.add("x@wdc.example", "short")
    with pytest.raises(AccountError, match="exists"):
        store.add("fabio@wdc.example", PASSWORD)


def test_the_first_start_creates_an_admin_and_logs_its_password_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WDC_PORTAL_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("WDC_PORTAL_ADMIN", raising=False)
    store = AccountStore(LocalLakeStorage(root=str(tmp_path / "lake")))
    with caplog.at_level(logging.WARNING):
        admin = store.ensure_admin()
        assert store.ensure_admin() is None  # accounts exist: nothing, and nothing logged
    assert admin is not None and admin.admin and admin.domains == ()
    (line,) = [r.getMessage() for r in caplog.records if "portal admin" in r.getMessage()]
    password = re.search(r"with password (\S+)", line).group(1)
    assert store.verify("admin", password) is not None


# --- served files and origins ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/", True), ("/marketplace", True), ("/taipy-jsx/access", True), ("/taipy-gui.js", True),
     ("/app.py", False), ("/context.py", False), ("/pages/access.py", False),
     ("/.taipyignore", False), ("/.env", False), ("/x/../app.py", False),
     ("/taipy-uploads", False), ("/taipy-user-content/x", False), ("/taipy.status.json", False),
     ("/../../etc/passwd", False)],
)  # fmt: skip
def test_only_the_front_end_bundle_and_pages_are_served(path: str, allowed: bool) -> None:
    assert served_path_allowed(path) is allowed


def test_origins() -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:8050"}
    assert origin_allowed(environ, [])
    assert origin_allowed({**environ, "HTTP_ORIGIN": "http://127.0.0.1:8050"}, [])
    assert not origin_allowed({**environ, "HTTP_ORIGIN": "http://evil.example"}, [])
    assert not origin_allowed({**environ, "HTTP_ORIGIN": "null"}, [])
    assert origin_allowed({**environ, "HTTP_ORIGIN": "https://portal.wdc"}, ["https://portal.wdc"])


def test_a_sign_in_never_redirects_off_the_portal() -> None:
    # a browser reads `/\\host` as `//host` and drops tabs and newlines: `/\\t/host` is `//host`
    browser_slashes = ("/\\evil.example", "/\\/evil.example", "/\t/evil.example", "/\n/evil.x")
    for target in ("//evil.example/x", "https://evil.example", "evil", "", None, *browser_slashes):
        assert safe_next(target) == "/", target
    assert safe_next("/product?product=sales.fct_orders") == "/product?product=sales.fct_orders"


# --- the real Taipy app through Flask's test client --------------------------------------------


@dataclass
class App:
    flask: Flask
    lake: LocalLakeStorage


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("wdc-portal-auth")
    with environment({**isolated_lake_env(root), "WDC_PORTAL_ORIGINS": "https://portal.wdc"}):
        from wdc_portal.app import build_gui, portal_flask, server_config
        from wdc_portal.context import configure

        configure(settings=get_settings())
        lake = LocalLakeStorage(root=get_settings().lake_url)
        AccountStore(lake).add("fabio@wdc.example", PASSWORD, ["finance"])
        gui = build_gui(portal_flask(AuthConfig(secret_key="t" * 64)))
        flask = gui.run(
            run_server=False, title="t", run_browser=False, use_reloader=False,
            server_config=server_config(),
        )  # fmt: skip
        yield App(flask, lake)


def test_anonymous_visitors_are_sent_to_sign_in_and_the_socket_is_closed(app: App) -> None:
    client = app.flask.test_client()
    response = client.get("/product?product=finance.fct_daily_revenue")
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "/signin?next=/product%3Fproduct%3Dfinance.fct_daily_revenue"
    )
    assert client.get("/taipy-jsx/product").status_code == 401
    assert client.get("/socket.io/?EIO=4&transport=polling").status_code == 403
    assert client.get("/signin").status_code == 200


def test_signing_in(app: App) -> None:
    client = app.flask.test_client()
    wrong = client.post("/signin", data={"username": "fabio@wdc.example", "password": "nope"})
    assert wrong.status_code == 401 and b"wrong password" in wrong.data
    assert client.get("/marketplace").status_code == 302
    right = client.post(
        "/signin", data={"username": "fabio@wdc.example", "password": PASSWORD, "next": "/kpis"}
    )
    assert (right.status_code, right.headers["Location"]) == (302, "/kpis")
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/marketplace").status_code == 200
    assert client.get("/socket.io/?EIO=4&transport=polling").status_code == 200
    client.get("/signout")
    assert client.get("/marketplace").status_code == 302


def test_a_session_cookie_copied_before_sign_out_signs_nobody_in(app: App) -> None:
    """Flask's signed cookie stays valid as long as its key: a copy taken before sign-out (another
    tab, a stolen cookie) signed in after it, and after a password change, until the session id
    the process records at sign-in was checked too."""
    store = AccountStore(app.lake)
    store.add("rita@wdc.example", PASSWORD, ["sales"])
    handshake = "/socket.io/?EIO=4&transport=polling"

    def signed_in_copy() -> tuple[object, str]:
        client = app.flask.test_client()
        client.post("/signin", data={"username": "rita@wdc.example", "password": PASSWORD})
        assert client.get("/marketplace").status_code == 200
        return client, client.get_cookie("wdc_portal_session").value

    def with_cookie(cookie: str) -> object:
        other = app.flask.test_client()
        other.set_cookie("wdc_portal_session", cookie)
        return other

    def user_of_a_message(cookie: str) -> str | None:
        # A websocket message runs with the session its handshake brought (Flask-SocketIO keeps a
        # copy of it): the user the guard asks for is the one this cookie's session names.
        headers = {"Cookie": f"wdc_portal_session={cookie}"}
        with app.flask.test_request_context("/socket.io/", headers=headers):
            user = signed_in()
            return user.username if user else None

    client, cookie = signed_in_copy()
    assert with_cookie(cookie).get("/marketplace").status_code == 200  # the copy works, for now
    assert user_of_a_message(cookie) == "rita@wdc.example"
    client.get("/signout")
    assert user_of_a_message(cookie) is None  # an open socket's next message is nobody's
    copy = with_cookie(cookie)
    assert copy.get("/marketplace").status_code == 302
    assert copy.get("/taipy-jsx/access").status_code == 401
    assert copy.get(handshake).status_code == 403
    # a password changed with `users add --replace` ends the sessions signed in with the old one
    client, cookie = signed_in_copy()
    store.add("rita@wdc.example", PASSWORD + "-new", ["sales"], replace=True)
    assert with_cookie(cookie).get("/marketplace").status_code == 302
    assert client.get("/marketplace").status_code == 302


SOURCES = ["/app.py", "/context.py", "/pages/access.py", "/cli.py", "/.taipyignore",
           "/auth/accounts.py", "/taipy.status.json"]  # fmt: skip


@pytest.mark.parametrize("path", SOURCES)
def test_no_source_is_served_even_signed_in(app: App, path: str) -> None:
    client = app.flask.test_client()
    assert client.get(path).status_code == 404
    client.post("/signin", data={"username": "fabio@wdc.example", "password": PASSWORD})
    response = client.get(path)
    assert response.status_code == 404 and b"import" not in response.data


def test_other_origins_are_refused_on_pages_and_the_socket(app: App) -> None:
    client = app.flask.test_client()
    client.post("/signin", data={"username": "fabio@wdc.example", "password": PASSWORD})
    handshake = "/socket.io/?EIO=4&transport=polling"
    evil = {"Origin": "http://evil.example"}
    assert client.get(handshake, headers=evil).status_code == 403
    assert client.get("/marketplace", headers=evil).status_code == 403
    assert client.post("/signin", headers=evil, data={}).status_code == 403
    own = client.get(handshake, headers={"Origin": "http://localhost"})
    assert own.status_code == 200
    extra = client.get(handshake, headers={"Origin": "https://portal.wdc"})
    assert extra.status_code == 200
    assert extra.headers.get("Access-Control-Allow-Origin") == "https://portal.wdc"
    assert client.get(handshake, headers=evil).headers.get("Access-Control-Allow-Origin") is None


# --- the trusted reverse proxy -----------------------------------------------------------------


PROXY_SECRET = "the-proxy-and-the-portal-share-this-0123456789"


def test_header_mode_believes_the_proxy_only(tmp_path: Path) -> None:
    app = Flask("header-mode")
    store = AccountStore(LocalLakeStorage(root=str(tmp_path / "lake")))
    config = AuthConfig(
        mode="header", secret_key="h" * 64, group_prefix="wdc-", proxy_secret=PROXY_SECRET
    )
    install(app, store, config, DOMAINS)

    @app.route("/who")
    def who() -> str:
        user = signed_in()
        return f"{user.username}:{','.join(sorted(user.domains))}" if user else "nobody"

    client = app.test_client()
    forged = {
        "X-Forwarded-User": "Lia@wdc.example",
        "X-Forwarded-Groups": "wdc-logistics,wdc-hr,x",
    }
    headers = {**forged, "X-WDC-Proxy-Secret": PROXY_SECRET}
    assert client.get("/who", headers=headers).data == b"lia@wdc.example:logistics"
    assert client.get("/who").status_code == 302  # no header: not signed in
    other = client.get("/who", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302  # not from a trusted proxy: the header is ignored
    # from the loopback but without the proxy's secret (any process on the portal's host)
    assert client.get("/who", headers=forged).status_code == 302
    wrong = {**forged, "X-WDC-Proxy-Secret": PROXY_SECRET[:-1] + "x"}
    assert client.get("/who", headers=wrong).status_code == 302
    assert client.get("/signin").status_code == 403  # no local sign-in behind the proxy


def test_header_mode_needs_the_proxy_secret_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from wdc_orchestration.settings import SettingsError

    monkeypatch.setenv("WDC_PORTAL_AUTH", "header")
    monkeypatch.delenv("WDC_PORTAL_PROXY_SECRET", raising=False)
    with pytest.raises(SettingsError, match="WDC_PORTAL_PROXY_SECRET"):
        AuthConfig.from_env()
    monkeypatch.setenv("WDC_PORTAL_PROXY_SECRET", "short")
    with pytest.raises(SettingsError, match="at least 32"):
        AuthConfig.from_env()
    monkeypatch.setenv("WDC_PORTAL_PROXY_SECRET", PROXY_SECRET)
    assert AuthConfig.from_env().proxy_secret == PROXY_SECRET
    monkeypatch.setenv("WDC_PORTAL_AUTH", "local")  # local accounts: the secret is not used
    assert AuthConfig.from_env().proxy_secret == ""


# --- a scripted websocket client against the portal served for real ----------------------------


@dataclass
class LivePortal:
    url: str
    lake: LocalLakeStorage
    request_id: str
    log: Path


PEOPLE = {
    "fabio@wdc.example": ["finance"],  # the owner of finance.fct_daily_revenue
    "lia@wdc.example": ["logistics"],  # the consumer asking for it
    "olga@wdc.example": [],  # signed in, of no domain
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    root = tmp_path_factory.mktemp("wdc-portal-live")
    env = isolated_lake_env(root)
    lake = LocalLakeStorage(root=env["WDC_LAKE_URL"])
    store = AccountStore(lake)
    for username, domains in PEOPLE.items():
        store.add(username, PASSWORD, domains)
    request = file_request(lake, REVENUE, "logistics", "lia@wdc.example", "freight", set(DOMAINS))
    log_path = root / "portal.log"
    with served_portal({**os.environ, **env}, log_path) as url:
        yield LivePortal(url, lake, request.request_id, log_path)


def _client(live: LivePortal, username: str) -> TaipyClient:
    client = TaipyClient(live.url)
    assert client.sign_in(username, PASSWORD) == 302
    client.connect()
    return client


def _try_to_approve(client: TaipyClient, live: LivePortal, selection: str, note: str) -> None:
    variables = client.page_variables("access")
    client.set("access", variables["pending-request"], selection)
    client.set("access", variables["decision-note"], note)
    client.action("access", "approve")


pytestmark_live = pytest.mark.e2e


@pytestmark_live
def test_a_script_that_is_not_the_owner_cannot_approve(live: LivePortal) -> None:
    selection = f"{live.request_id} · logistics → {REVENUE.id}"
    for username in ("lia@wdc.example", "olga@wdc.example"):
        client = _client(live, username)
        try:
            _try_to_approve(client, live, selection, f"approved by {username}")
        finally:
            client.close()
    (request,) = list_requests(live.lake)
    assert request.status == PENDING
    assert list_decisions(live.lake) == []
    # the same script as the owner does approve: the refusals above were the rules, not the script
    owner = _client(live, "fabio@wdc.example")
    try:
        _try_to_approve(owner, live, selection, "freight planning only")
    finally:
        owner.close()
    (request,) = list_requests(live.lake)
    assert (request.status, request.decided_by) == (APPROVED, "fabio@wdc.example")
    (audit,) = list_decisions(live.lake)
    assert (audit["who"], audit["action"], audit["request_id"], audit["why"]) == (
        "fabio@wdc.example", "approve", live.request_id, "freight planning only",
    )  # fmt: skip
    assert audit["product"] == REVENUE.id and audit["when"]


@pytestmark_live
def test_a_script_cannot_traverse_paths_with_a_request_id(live: LivePortal) -> None:
    outside = Path(live.lake.root).parent
    before = sorted(p for p in outside.rglob("*") if p.is_file() and "logs" not in p.parts)
    client = _client(live, "fabio@wdc.example")
    try:
        variables = client.page_variables("access")
        for bad in ("../../..", "../../../escaped", "..", "/tmp/escaped"):
            client.set("access", variables["pending-request"], f"{bad} · logistics → {REVENUE.id}")
            client.action("access", "reject")
    finally:
        client.close()
    after = sorted(p for p in outside.rglob("*") if p.is_file() and "logs" not in p.parts)
    assert [p for p in after if p not in before] == []
    assert not list(Path("/tmp").glob("escaped*"))
    assert not live.lake.list_keys(AUDIT_PREFIX + "/") or all(
        d["request_id"] == live.request_id for d in list_decisions(live.lake)
    )


@pytestmark_live
def test_a_script_cannot_call_page_functions_or_delete_files(live: LivePortal) -> None:
    victim = Path(tempfile.gettempdir()) / f"wdc-victim-{os.getpid()}.csv"
    victim.write_text("keep me")
    client = _client(live, "olga@wdc.example")
    try:
        client.action("access", "__Taipy__download_delete_csv", [str(victim)])
        client.action("access", "__Taipy__download_csv")
        # module-level functions of a page that are not its callbacks, and imported ones
        for name in ("load", "refresh", "_decide", "file_request", "decide", "notify",
                     "__gui.table_on_edit"):  # fmt: skip
            client.action("access", name)
        client.action("product", "load")
        # a callback name smuggled in as a variable's on_change
        variables = client.page_variables("access")
        client.set("access", variables["decision-note"], "x", on_change="_decide")
        client.send({"type": "GDT", "payload": {}}, "access")
    finally:
        client.close()
    assert victim.read_text() == "keep me"
    victim.unlink()
    refused = [line for line in live.log.read_text().splitlines() if "message refused" in line]
    for what in ("'__Taipy__download_delete_csv'", "'__Taipy__download_csv'", "'load'",
                 "'_decide'", "'file_request'", "on_change '_decide'", "'GDT'",
                 "'__gui.table_on_edit'"):  # fmt: skip
        assert any(what in line for line in refused), (what, refused)
    (request,) = list_requests(live.lake)
    assert request.requested_by == "lia@wdc.example"  # nothing filed or decided by the script


@pytestmark_live
def test_a_script_cannot_run_code_through_a_tables_data_request(live: LivePortal) -> None:
    """Taipy turns a table-data request's filter into a pandas `DataFrame.query` string, and
    pandas calls any `@name(...)` of Taipy's module: `@os.system(...)` ran a shell command for a
    user of no domain. The same request without the filter is answered (the rule, not the script,
    refused it)."""
    marker = Path(live.lake.root).parent / f"ran-{os.getpid()}"
    client = _client(live, "olga@wdc.example")
    try:
        table = client.page_variables("access")["requests"]
        plain = {"columns": ["request"], "pagekey": "plain-0-10", "start": 0, "end": 10}
        client.send({"type": "DU", "name": table, "payload": plain}, "access")
        filtered = {**plain, "pagekey": "filtered-0-10", "filters": [
            {"col": "request", "action": f"== @os.system('touch {marker}') +", "value": 0}
        ]}  # fmt: skip
        client.send({"type": "DU", "name": table, "payload": filtered}, "access")
        grouped = {**plain, "pagekey": "grouped-0-10", "aggregates": ["request"],
                   "applies": {"status": "to_csv"}}  # fmt: skip
        client.send({"type": "DU", "name": table, "payload": grouped}, "access")
    finally:
        client.close()
    assert not marker.exists(), "a table's filter ran a shell command"
    answered = repr(client.received)
    assert "plain-0-10" in answered and "filtered-0-10" not in answered
    refused = [line for line in live.log.read_text().splitlines() if "message refused" in line]
    assert any("table data request with filters" in line for line in refused), refused
    assert any("table data request with aggregates, applies" in line for line in refused), refused


@pytestmark_live
def test_a_script_cannot_walk_or_set_attributes_through_a_variable_name(
    live: LivePortal,
) -> None:
    """Taipy follows a dotted variable name attribute by attribute (`x.__class__.__module__` was
    answered with `taipy.gui.utils.types`) and sets one the same way, on a class every user
    shares. The plain name is still answered."""
    client = _client(live, "olga@wdc.example")
    try:
        variables = client.page_variables("access")
        note, table = variables["decision-note"], variables["requests"]
        walk = [f"{note}.__class__.__name__", f"{table}.__class__.__module__"]
        client.send({"type": "RU", "name": "", "payload": {"names": walk}}, "access")
        client.set("access", f"{table}.__class__.wdc_probe", "set by a script")
        client.send({"type": "DU", "name": f"{table}.__class__", "payload": {}}, "access")
        client.send({"type": "RU", "name": "", "payload": {"names": [note]}}, "access")
    finally:
        client.close()
    answered = repr(client.received)
    assert "taipy.gui.utils.types" not in answered and "____class____" not in answered
    assert note in answered  # the plain variable's refresh was answered
    refused = [line for line in live.log.read_text().splitlines() if "message refused" in line]
    for what in (f"'{walk[0]}'", f"'{table}.__class__.wdc_probe'", f"'{table}.__class__'"):
        assert any(f"variable name {what}" in line for line in refused), (what, refused)


@pytestmark_live
def test_a_script_cannot_borrow_another_users_client_id(live: LivePortal) -> None:
    owner = _client(live, "fabio@wdc.example")
    try:
        owner.page_variables("access")  # the owner's id is bound to the owner
        thief = TaipyClient(live.url)
        assert thief.sign_in("olga@wdc.example", PASSWORD) == 302
        thief.connect()
        taken = thief.session.get(
            f"{live.url}/taipy-jsx/access", params={"client_id": owner.client_id}
        )
        assert taken.status_code == 403
        thief.client_id = owner.client_id
        thief.action("access", "approve")
        thief.close()
    finally:
        owner.close()
    assert any("client id of another user" in line for line in live.log.read_text().splitlines())


def test_every_callback_a_page_names_is_whitelisted_and_nothing_else() -> None:
    """The websocket reaches app.CALLBACKS only: each on_action=/on_change= of a page's Markdown
    must be there (else the page breaks), and each entry must be a function of its page."""
    import importlib

    from wdc_portal.app import CALLBACKS

    pages = Path(PROJECT_ROOT / "wdc_portal" / "pages")
    for path in sorted(pages.glob("*.py")):
        named = set(re.findall(r"\bon_\w+=(\w+)", path.read_text()))
        assert named <= set(CALLBACKS.get(path.stem, ())), (path.name, named)
    for page, names in CALLBACKS.items():
        module = importlib.import_module(f"wdc_portal.pages.{page}")
        for name in names:
            assert callable(getattr(module, name)), (page, name)


def test_wdc_portal_users_add_and_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wdc_orchestration.cli import main

    with environment(isolated_lake_env(tmp_path)):
        monkeypatch.setenv("WDC_PORTAL_PASSWORD", PASSWORD)
        assert main(["portal", "users", "add", "Lia@wdc.example", "--domains", "logistics"]) == 0
        assert main(["portal", "users", "add", "lia@wdc.example"]) == 2  # exists: --replace
        assert main(["portal", "users", "add", "x@wdc.example", "--domains", "hr"]) == 2
        monkeypatch.setenv("WDC_PORTAL_PASSWORD", "short")
        assert main(["portal", "users", "add", "y@wdc.example"]) == 2
        capsys.readouterr()
        assert main(["portal", "users", "list"]) == 0
        assert capsys.readouterr().out == "lia@wdc.example\tlogistics\n"
        lake = LocalLakeStorage(root=get_settings().lake_url)
        assert AccountStore(lake).verify("lia@wdc.example", PASSWORD) is not None
