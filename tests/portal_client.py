"""A scripted client of the portal that speaks Taipy's websocket protocol as its front end does
(what an attacker's script would send): sign in over HTTP, open the socket with the session's
cookie, take a client id, read a page's variable names from its rendered JSX, set variables and
fire actions by name."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import requests
import socketio

PAGE_MODULE = "wdc_portal.pages.{page}"


@dataclass
class TaipyClient:
    base: str
    session: requests.Session = field(default_factory=requests.Session)
    received: list[Any] = field(default_factory=list)
    client_id: str | None = None
    _got_id: threading.Event = field(default_factory=threading.Event)
    _acks: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sent: int = 0
    sio: socketio.Client | None = None

    def sign_in(self, username: str, password: str) -> int:
        response = self.session.post(
            f"{self.base}/signin",
            data={"username": username, "password": password},
            allow_redirects=False,
        )
        return response.status_code

    def connect(self, client_id: str = "") -> None:
        self.sio = socketio.Client(http_session=self.session, reconnection=False)

        @self.sio.on("message")
        def on_message(data: Any) -> None:
            with self._lock:
                self.received.append(data)
                for item in _flatten(data):
                    if item.get("type") == "ID":
                        self.client_id = item.get("id")
                        self._got_id.set()
                    if item.get("type") == "ACK" and item.get("id") in self._acks:
                        self._acks[item["id"]].set()

        self.sio.connect(self.base, transports=["polling"], wait_timeout=30)
        self.sio.emit("message", {"type": "ID", "payload": client_id})
        assert self._got_id.wait(30), "no client id from the portal"

    def close(self) -> None:
        if self.sio is not None:
            self.sio.disconnect()

    def send(self, message: dict[str, Any], page: str | None = None) -> None:
        """One message, acknowledged by the server (so its effect is done when this returns)."""
        assert self.sio is not None
        body = dict(message)
        if self.client_id and "client_id" not in body:
            body["client_id"] = self.client_id
        if page is not None:
            body["module_context"] = PAGE_MODULE.format(page=page)
        self._sent += 1
        ack_id = f"script-{self._sent}"
        done = self._acks[ack_id] = threading.Event()
        body["ack_id"] = ack_id
        self.sio.emit("message", body)
        # Taipy acknowledges every message once handled (the portal's guard a refused one too)
        assert done.wait(60), f"no acknowledgement of {body}"

    def page_variables(self, page: str) -> dict[str, str]:
        """`id -> updateVarName` of the page's controls, as Taipy rendered them for this client."""
        response = self.session.get(
            f"{self.base}/taipy-jsx/{page}", params={"client_id": self.client_id}
        )
        response.raise_for_status()
        jsx = response.json()["jsx"]
        found = {}
        for element in re.findall(r"<[A-Z]\w*\s[^>]*>", jsx):
            ident = re.search(r'\bid=\\?"([^"\\]+)', element)
            var = re.search(r'\bupdateVarName=\\?"([^"\\]+)', element)
            if ident and var:
                found[ident.group(1)] = var.group(1)
        return found

    def set(self, page: str, var_name: str, value: Any, on_change: str | None = None) -> None:
        payload: dict[str, Any] = {"value": value}
        if on_change:
            payload["on_change"] = on_change
        self.send({"type": "U", "name": var_name, "payload": payload, "propagate": True}, page)

    def action(self, page: str, action: str, args: list[Any] | None = None) -> None:
        self.send(
            {"type": "A", "name": "", "payload": {"action": action, "args": args or []}}, page
        )


def _flatten(data: Any) -> list[dict[str, Any]]:
    """Taipy groups messages (`MS`): every message of one."""
    if not isinstance(data, dict):
        return []
    if data.get("type") == "MS" and isinstance(data.get("payload"), list):
        return [m for item in data["payload"] for m in _flatten(item)]
    return [data]
