"""Sign-in around Taipy's Flask app, with Flask-Login: a `/signin` page (a form checked against
the local accounts), `/signout`, a signed session cookie, and every other route of the portal —
pages, Taipy's JSON routes, its static bundle and the websocket's handshake and stream — only
for a signed-in user (guard.py refuses the socket; `require_sign_in` redirects the rest).

Two modes, from `WDC_PORTAL_AUTH`:

- `local` (the default): the accounts on the lake (accounts.py).
- `header`: a trusted reverse proxy (oauth2-proxy, the company's SSO gateway) has signed the user
  in and says who it is in `WDC_PORTAL_USER_HEADER` (default `X-Forwarded-User`) and their
  groups in `WDC_PORTAL_GROUPS_HEADER` (default `X-Forwarded-Groups`, comma-separated; groups
  named after domains, optionally prefixed by `WDC_PORTAL_GROUP_PREFIX`). The headers are only
  believed from `WDC_PORTAL_TRUSTED_PROXIES` (default the loopback) and with the shared secret
  `WDC_PORTAL_PROXY_SECRET` in `WDC_PORTAL_PROXY_SECRET_HEADER` (default `X-WDC-Proxy-Secret`),
  which the proxy adds to every request: an address alone is not an identity (any process on the
  portal's host reaches its loopback). Header mode refuses to start without the secret. A local
  account of the same name adds its domains.
  OIDC in the portal itself is not built: the proxy does it.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure with
`WDC_PORTAL_COOKIE_SECURE=1`), signed with `WDC_PORTAL_SECRET_KEY`, else a random key per
process. A signed cookie alone stays valid for as long as the key does, so a copy taken before
sign-out would still sign in: the cookie also carries a session id the process recorded at
sign-in (`Sessions`), and a request counts as signed in only while that record exists and the
account's password is the one it signed in with. Sign-out drops the record (an open socket's next
message is refused too); a password changed with `users add --replace` ends its sessions; a
restart ends them all (Taipy's per-browser state ends with the process as well)."""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import flask_login
from flask import Flask, Response, redirect, request, session

from wdc_orchestration.settings import SettingsError
from wdc_portal.auth.accounts import Account, AccountStore
from wdc_portal.auth.rules import User

log = logging.getLogger(__name__)

SIGNIN, SIGNOUT = "/signin", "/signout"
MIN_PROXY_SECRET_LENGTH = 32
# Routes a browser requests as pages: an anonymous visitor is sent to the sign-in form; any
# other (Taipy's JSON and data routes, the socket) answers 401/403.
_API_PREFIXES = ("/taipy-", "/socket.io")


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "local"  # local | header
    secret_key: str = ""
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    group_prefix: str = ""
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    cookie_secure: bool = False
    # header mode: what the proxy sends in `proxy_secret_header` (empty: no header is believed)
    proxy_secret: str = field(default="", repr=False)
    proxy_secret_header: str = "X-WDC-Proxy-Secret"

    @classmethod
    def from_env(cls) -> AuthConfig:
        def env(name: str, default: str = "") -> str:
            return os.environ.get(name, "").strip() or default

        mode = env("WDC_PORTAL_AUTH", "local").lower()
        if mode not in ("local", "header"):
            raise SettingsError(f"WDC_PORTAL_AUTH={mode!r}: use 'local' or 'header'")
        proxy_secret = env("WDC_PORTAL_PROXY_SECRET")
        if mode == "header" and len(proxy_secret) < MIN_PROXY_SECRET_LENGTH:
            raise SettingsError(
                "WDC_PORTAL_AUTH=header needs WDC_PORTAL_PROXY_SECRET (at least "
                f"{MIN_PROXY_SECRET_LENGTH} characters), which the proxy sends in "
                f"{env('WDC_PORTAL_PROXY_SECRET_HEADER', cls.proxy_secret_header)}"
            )
        secret = env("WDC_PORTAL_SECRET_KEY")
        if not secret:
            log.info("WDC_PORTAL_SECRET_KEY is not set: sessions are signed with a random key")
            secret = secrets.token_hex(32)
        proxies = env("WDC_PORTAL_TRUSTED_PROXIES", "127.0.0.1,::1")
        return cls(
            mode=mode,
            secret_key=secret,
            user_header=env("WDC_PORTAL_USER_HEADER", cls.user_header),
            groups_header=env("WDC_PORTAL_GROUPS_HEADER", cls.groups_header),
            group_prefix=env("WDC_PORTAL_GROUP_PREFIX"),
            trusted_proxies=frozenset(p.strip() for p in proxies.split(",") if p.strip()),
            cookie_secure=env("WDC_PORTAL_COOKIE_SECURE") in ("1", "true", "yes"),
            proxy_secret=proxy_secret if mode == "header" else "",
            proxy_secret_header=env("WDC_PORTAL_PROXY_SECRET_HEADER", cls.proxy_secret_header),
        )


class SessionUser(flask_login.UserMixin):
    """Flask-Login's view of a portal user."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return self.user.username


SESSION_ID = "wdc_session_id"  # the key of the session id in Flask's session


class Sessions:
    """The sessions this process signed in: session id -> (user, a digest of the password hash
    it signed in with). In memory, like Taipy's per-browser state."""

    def __init__(self) -> None:
        self._live: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(password_hash: str) -> str:
        return hashlib.sha256(password_hash.encode()).hexdigest()

    def open(self, account: Account) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._live[session_id] = (account.username, self._digest(account.password_hash))
        return session_id

    def valid(self, session_id: object, account: Account) -> bool:
        if not isinstance(session_id, str):
            return False
        with self._lock:
            live = self._live.get(session_id)
        return live == (account.username, self._digest(account.password_hash))

    def close(self, session_id: object) -> None:
        if isinstance(session_id, str):
            with self._lock:
                self._live.pop(session_id, None)


def _user(account: Account, extra_domains: Iterable[str] = ()) -> User:
    return User(
        username=account.username,
        domains=frozenset(account.domains) | frozenset(extra_domains),
        name=account.name,
        admin=account.admin,
    )


def signed_in() -> User | None:
    """The signed-in user of the current request or websocket message (None outside one, or
    when nobody is signed in). Every page callback asks this: identity never comes from the
    page's state, which the browser can write."""
    try:
        current = flask_login.current_user
        if current and current.is_authenticated:
            return current.user
    except RuntimeError:  # no request context: no user
        return None
    return None


def safe_next(target: str | None) -> str:
    """A redirect target on this portal only (no `//host`, no scheme): else the marketplace.
    Browsers read a backslash as a slash and drop tabs and newlines from a URL, so `/\\evil` and
    `/\\t/evil` lead to `//evil`: a target with either, or any control character, is refused."""
    if not target:
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · WDC data-product portal</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:4rem auto}}
label,input,button{{display:block;width:100%;margin:.4rem 0}}.error{{color:#b00020}}</style>
</head>
<body><h1>WDC data-product portal</h1><h2>Sign in</h2>
<p class="error" id="signin-error">{error}</p>
<form method="post" action="/signin">
<input type="hidden" name="next" value="{next}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="signin-button" type="submit">Sign in</button>
</form></body></html>"""


def install(
    app: Flask, store: AccountStore, config: AuthConfig, known_domains: Iterable[str]
) -> None:
    """Sign-in on `app` (before Taipy adds its routes: ours are plain routes, which Flask's
    router prefers over Taipy's catch-all `/<path>`)."""
    domains = frozenset(known_domains)
    app.secret_key = config.secret_key
    app.config.update(
        SESSION_COOKIE_NAME="wdc_portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.cookie_secure,
    )
    manager = flask_login.LoginManager(app)
    manager.session_protection = "basic"
    sessions = Sessions()

    @manager.user_loader
    def load(username: str) -> SessionUser | None:
        # Read on every request and socket message: a removed account, a changed domain or
        # password, or a signed-out session applies at once.
        if config.mode != "local":
            return None
        account = store.get(username)
        if account is None or not sessions.valid(session.get(SESSION_ID), account):
            return None
        return SessionUser(_user(account))

    if config.mode == "header":

        @manager.request_loader
        def from_proxy(req: object) -> SessionUser | None:
            if request.remote_addr not in config.trusted_proxies:
                return None
            sent = request.headers.get(config.proxy_secret_header, "").encode()
            if not config.proxy_secret or not hmac.compare_digest(
                sent, config.proxy_secret.encode()
            ):
                if request.headers.get(config.user_header):
                    log.warning(
                        "identity header from %s without the proxy's secret: ignored",
                        request.remote_addr,
                    )
                return None
            username = request.headers.get(config.user_header, "").strip().lower()
            if not username:
                return None
            groups = [g.strip() for g in request.headers.get(config.groups_header, "").split(",")]
            wanted = {
                g.removeprefix(config.group_prefix)
                for g in groups
                if g.startswith(config.group_prefix)
            }
            account = store.get(username)
            base = account or Account(username=username)
            return SessionUser(_user(base, wanted & domains))

    @app.route(SIGNIN, methods=["GET", "POST"])
    def signin() -> Response | str:
        target = safe_next(request.values.get("next"))
        if config.mode == "header":
            return Response("signed in by the proxy: open the portal through it", status=403)
        error = ""
        if request.method == "POST":
            username = request.form.get("username", "")
            account = store.verify(username, request.form.get("password", ""))
            if account is not None:
                sessions.close(session.get(SESSION_ID))
                session.clear()  # no session fixation: a new session for a new identity
                session[SESSION_ID] = sessions.open(account)
                flask_login.login_user(SessionUser(_user(account)))
                log.info("portal sign-in: %s from %s", account.username, request.remote_addr)
                return redirect(target)
            log.warning("portal sign-in refused for %r from %s", username[:64], request.remote_addr)
            error = "Unknown user name or wrong password."
        page = _FORM.format(error=html.escape(error), next=html.escape(target, quote=True))
        return Response(page, status=401 if error else 200, mimetype="text/html")

    @app.route(SIGNOUT, methods=["GET", "POST"])
    def signout() -> Response:
        sessions.close(session.get(SESSION_ID))
        flask_login.logout_user()
        session.clear()
        return redirect(SIGNIN)

    @app.before_request
    def require_sign_in() -> Response | None:
        if request.path in (SIGNIN, SIGNOUT):
            return None
        if signed_in() is not None:
            return None
        if request.path.startswith(_API_PREFIXES):
            return Response("sign in first", status=401)
        target = request.full_path.rstrip("?") if request.query_string else request.path
        return redirect(f"{SIGNIN}?next={quote(target, safe='/')}")
