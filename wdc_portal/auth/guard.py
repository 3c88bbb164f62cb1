"""Taipy's server, narrowed to what the portal uses. Taipy 4.1 by default answers any Origin with
credentials on its socket, serves any file beside the app's module (its source: `GET /app.py`)
and beside `__main__`, and calls by name any function a page module holds, from a websocket
message (`__Taipy__download_delete_csv` deletes a temp file). Here:

- **Origins.** A request whose `Origin` is neither the portal's own (`scheme://Host`) nor one of
  `WDC_PORTAL_ORIGINS` is refused with 403, the socket's handshake included (`PortalFlask`
  checks before Flask-SocketIO's middleware sees it); Flask-CORS is off unless extra origins
  are set, and then allows only them.
- **Files.** Only the Taipy front-end bundle's own files are served; any other path with a file
  suffix, any dot-file and Taipy's upload, user-content, extension and status routes are 404
  (also `.taipyignore`, which Taipy reads itself).
- **Socket.** Only a signed-in user opens it (403 otherwise). `PortalGui` accepts the message
  types the pages use, the callbacks named in `callbacks` (functions, not names: another
  module's function of the same name is still refused) and a client id (Taipy's per-browser
  state) only for the user who first used it."""

from __future__ import annotations

import contextvars
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import taipy.gui
from flask import Flask, Response, request
from taipy.gui import Gui

from wdc_portal.auth.signin import signed_in

log = logging.getLogger(__name__)

WEBAPP = Path(taipy.gui.__file__).parent / "webapp"
# Taipy's own routes the portal uses (pages are paths without a suffix).
ALLOWED_PREFIXES = ("/taipy-jsx/", "/taipy-init", "/socket.io/", "/signin", "/signout")
BLOCKED_PREFIXES = (
    "/taipy-uploads",
    "/taipy-user-content",
    "/taipy-extension",
    "/taipy-content",
    "/taipy.status.json",
)
# Websocket message types of Taipy's front end the pages need: client id, app id, routes,
# variable update, action, table data, variable refresh, module context.
MESSAGE_TYPES = frozenset({"ID", "AID", "GR", "U", "A", "DU", "RU", "GMC"})
_IN_MESSAGE: contextvars.ContextVar[bool] = contextvars.ContextVar("in_message", default=False)
_RENDER_ONLY = frozenset({"__gui.table_on_edit", "__gui.table_on_delete", "__gui.table_on_add"})
# Options of a table-data request (`DU`) that run what the message says: Taipy joins a filter's
# column, operator and value into a pandas `DataFrame.query` string, and pandas calls any
# `@name(...)` it resolves in Taipy's module (`@os.system('...')` ran a shell command for a user of
# no domain); a group-by hands the message's function names to pandas; a comparison names a
# function. No table of the portal has a filter, group-by or comparison control, so a request
# that carries one is a script's.
_DATA_OPTIONS_REFUSED = ("filters", "aggregates", "applies", "compare", "compare_datas")


def extra_origins() -> list[str]:
    return [o.strip().rstrip("/") for o in os.environ.get("WDC_PORTAL_ORIGINS", "").split(",")
            if o.strip()]  # fmt: skip


def origin_allowed(environ: dict[str, Any], extra: Iterable[str]) -> bool:
    """No Origin (not a cross-site browser request), the portal's own, or an allowed extra."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return True
    own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
    return origin.rstrip("/") in {own, *extra}


def served_path_allowed(path: str) -> bool:
    """Whether Taipy may answer `path` at all: its routes, pages, and its bundle's files."""
    parts = [p for p in path.split("/") if p]
    if any(p.startswith(".") for p in parts) or "\\" in path or "\x00" in path:
        return False
    if path.startswith(BLOCKED_PREFIXES):
        return False
    if path.startswith(ALLOWED_PREFIXES) or not parts:
        return True
    if "." not in parts[-1]:
        return True  # a page route: Taipy renders index.html
    candidate = (WEBAPP / Path(*parts)).resolve()
    return candidate.is_relative_to(WEBAPP.resolve()) and candidate.is_file()


class ClientBindings:
    """Taipy keeps each browser's state under a client id the browser sends with every message;
    an id is bound to the first user who uses it, and refused to anyone else."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, client_id: object, username: str | None) -> bool:
        if not client_id:
            return True
        if username is None:
            return False
        with self._lock:
            owner = self._owners.setdefault(str(client_id), username)
        return owner == username


class PortalFlask(Flask):
    """Flask whose WSGI entry refuses other origins, non-portal files and an anonymous socket
    before anything else runs (Flask-SocketIO's middleware sits inside `wsgi_app`, so a
    `before_request` would never see the socket)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        refusal = self.refusal(environ)
        if refusal is not None:
            return refusal(environ, start_response)
        return super().__call__(environ, start_response)

    def refusal(self, environ: dict[str, Any]) -> Response | None:
        path = environ.get("PATH_INFO", "")
        if not origin_allowed(environ, extra_origins()):
            log.warning("refused %s from origin %s", path, environ.get("HTTP_ORIGIN"))
            return Response("origin not allowed", status=403)
        if not served_path_allowed(path):
            return Response("not found", status=404)
        if path.startswith("/socket.io"):
            with self.request_context(environ):
                if signed_in() is None:
                    return Response("sign in first", status=403)
        return None


def install_client_guard(app: Flask, bindings: ClientBindings) -> None:
    """Taipy's HTTP routes take the client id too (`/taipy-jsx/<page>?client_id=...`)."""

    @app.before_request
    def bound_client() -> Response | None:
        user = signed_in()
        if request.path.startswith("/taipy-") and not bindings.claim(
            request.args.get("client_id"), user.username if user else None
        ):
            log.warning("client id of another user refused on %s", request.path)
            return Response("not your session", status=403)
        return None


class PortalGui(Gui):
    """Taipy's Gui with its websocket narrowed to the portal's pages (see the module)."""

    def __init__(
        self, *args: Any, callbacks: Iterable[Callable], bindings: ClientBindings, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Taipy takes its caller's frame as the app's module (variables, root folder): the
        # caller of this class, not this __init__.
        caller = inspect.currentframe()
        self._set_frame(caller.f_back if caller else None)
        self._portal_callbacks = frozenset(callbacks)
        self._portal_callback_names = frozenset(f.__name__ for f in self._portal_callbacks)
        self._portal_bindings = bindings

    def _message_refusal(self, msg_type: Any, message: dict) -> str | None:
        if msg_type not in MESSAGE_TYPES:
            return f"message type {msg_type!r}"
        user = signed_in()
        if user is None:
            return "nobody signed in"
        client_id = message.get("payload") if msg_type == "ID" else message.get("client_id")
        if not self._portal_bindings.claim(client_id, user.username):
            return f"client id of another user ({user.username})"
        payload = message.get("payload")
        names = [message.get("name")] if msg_type in ("U", "DU") else []
        if msg_type == "RU" and isinstance(payload, dict):
            names = list(payload.get("names") or [])
        # Taipy follows a dotted name attribute by attribute from the user's state
        # (`x.__class__.__module__` was answered) and sets one the same way, on objects every
        # user shares (a class); no variable of the portal's pages is dotted.
        dotted = [n for n in names if not isinstance(n, str) or "." in n]
        if dotted:
            return f"variable name {dotted[0]!r}"
        if msg_type == "A":
            action = payload.get("action") if isinstance(payload, dict) else payload
            if not isinstance(action, str) or action not in self._portal_callback_names:
                return f"action {action!r}"
        if msg_type == "DU":
            if not isinstance(payload, dict):
                return "table data request without options"
            used = [option for option in _DATA_OPTIONS_REFUSED if payload.get(option)]
            if used:
                return f"table data request with {', '.join(used)}"
        if msg_type == "U" and isinstance(payload, dict):
            on_change = payload.get("on_change")
            if on_change and on_change not in self._portal_callback_names:
                return f"on_change {on_change!r}"
        return None

    def _manage_message(self, msg_type: Any, message: dict) -> None:
        refusal = self._message_refusal(msg_type, message) if isinstance(message, dict) else "?"
        if refusal is not None:
            log.warning("websocket message refused: %s", refusal)
            # Acknowledged all the same (nothing done): the front end, and a script, do not
            # wait for an answer that never comes.
            ack_id = message.get("ack_id") if isinstance(message, dict) else None
            sid = getattr(request, "sid", None)
            if ack_id and sid:
                self._server._ws.emit("message", {"type": "ACK", "id": ack_id}, to=sid)
            return
        token = _IN_MESSAGE.set(True)
        try:
            super()._manage_message(msg_type, message)
        finally:
            _IN_MESSAGE.reset(token)

    def _get_user_function(self, func_name: str) -> Callable | str:
        # Every by-name lookup Taipy makes (actions, on_change, a table's style or aggregate
        # functions, comparisons): only the portal's callbacks resolve. While a page renders,
        # Taipy also checks its tables' default edit handlers (`__gui.table_on_edit`...): found
        # then, so it does not warn on every render; never from a message, and no table of
        # the portal is editable.
        found = super()._get_user_function(func_name)
        if callable(found) and found not in self._portal_callbacks:
            if not _IN_MESSAGE.get() and func_name in _RENDER_ONLY:
                return found
            return func_name
        return found
