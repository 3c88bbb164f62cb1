"""The portal's local accounts, on the lake beside the governance records:

    governance/portal/accounts/<username>.json   name, domains, admin, password hash, created at

A password is kept only as werkzeug's scrypt hash (`scrypt:32768:8:1$salt$hash`: memory-hard, so
a stolen file costs an attacker ~100 ms and 32 MiB per guess). `wdc portal users add` writes
accounts; the first start of a portal with none creates an admin whose password comes from
`WDC_PORTAL_ADMIN_PASSWORD` or is generated and logged once. Behind a company proxy
(`WDC_PORTAL_AUTH=header`) the accounts are optional: they then only name a user's domains."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger(__name__)

PREFIX = "governance/portal/accounts"
# An e-mail or a short login: lower case, no '/', so it is a key of its own on the lake.
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")
MIN_PASSWORD_LENGTH = 12
ADMIN_VARIABLE, ADMIN_PASSWORD_VARIABLE = "WDC_PORTAL_ADMIN", "WDC_PORTAL_ADMIN_PASSWORD"
# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password-of-anyone", method="scrypt")


class AccountError(ValueError):
    """An account that cannot be written as asked (a bad name, a short password, a domain the
    mesh does not have, an existing account without --replace)."""


@dataclass(frozen=True)
class Account:
    username: str
    name: str = ""
    domains: tuple[str, ...] = ()
    admin: bool = False
    created_at: str = ""
    password_hash: str = field(default="", repr=False)


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise AccountError(
            f"{username!r} is not a user name: lower-case letters, digits and . _ @ + - "
            "(an e-mail works)"
        )
    return name


class AccountStore:
    """Accounts on `lake` (read on every sign-in and page load: a removed account or a changed
    domain takes effect at once, without a restart)."""

    def __init__(self, lake: LakeStorage) -> None:
        self.lake = lake

    def _key(self, username: str) -> str:
        return f"{PREFIX}/{check_username(username)}.json"

    def get(self, username: str) -> Account | None:
        try:
            key = self._key(username)
        except AccountError:
            return None
        if not self.lake.exists(key):
            return None
        data = json.loads(self.lake.read_bytes(key))
        data["domains"] = tuple(data.get("domains", ()))
        return Account(**data)

    def list(self) -> list[Account]:
        names = [k.removeprefix(PREFIX + "/").removesuffix(".json")
                 for k in self.lake.list_keys(PREFIX + "/") if k.endswith(".json")]  # fmt: skip
        return [a for a in (self.get(n) for n in names) if a is not None]

    def add(
        self,
        username: str,
        password: str,
        domains: Iterable[str] = (),
        *,
        name: str = "",
        admin: bool = False,
        known_domains: Iterable[str] | None = None,
        replace: bool = False,
    ) -> Account:
        username = check_username(username)
        wanted = tuple(sorted({d.strip() for d in domains if d.strip()}))
        if known_domains is not None and (unknown := set(wanted) - set(known_domains)):
            raise AccountError(
                f"unknown domain(s) {sorted(unknown)}: the mesh has {sorted(known_domains)}"
            )
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"use a password of at least {MIN_PASSWORD_LENGTH} characters")
        if not replace and self.get(username) is not None:
            raise AccountError(f"{username} exists: --replace to change it")
        account = Account(
            username=username,
            name=name.strip(),
            domains=wanted,
            admin=admin,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            password_hash=generate_password_hash(password, method="scrypt"),
        )
        with tempfile.TemporaryDirectory(prefix="wdc-account-") as scratch:
            data = json.dumps(dataclasses.asdict(account), indent=2).encode()
            self.lake.put_bytes(data, self._key(username), Path(scratch))
        log.info("portal account %s written (domains %s)", username, ", ".join(wanted) or "none")
        return account

    def verify(self, username: str, password: str) -> Account | None:
        """The account when the password is its own, else None (same cost either way)."""
        account = self.get(username)
        if account is None or not account.password_hash:
            check_password_hash(_DUMMY_HASH, password)
            return None
        return account if check_password_hash(account.password_hash, password) else None

    def ensure_admin(self) -> Account | None:
        """On a lake without accounts, create the first admin (no domain: it reads no data
        until given one) and log its password once when generated. None when accounts exist."""
        if self.list():
            return None
        username = os.environ.get(ADMIN_VARIABLE, "").strip() or "admin"
        password = os.environ.get(ADMIN_PASSWORD_VARIABLE, "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(18)
        account = self.add(username, password, (), name="portal administrator", admin=True)
        if generated:
            # Once, at the first start: nowhere else holds it (the lake has only the hash).
            log.warning(
                "first start: portal admin %r created with password %s (shown once; change it "
                "with `wdc portal users add %s --admin --replace`)",
                username,
                password,
                username,
            )
        else:
            log.warning(
                "first start: portal admin %r created (%s)", username, ADMIN_PASSWORD_VARIABLE
            )
        return account
