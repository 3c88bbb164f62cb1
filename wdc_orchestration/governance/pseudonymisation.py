"""Pseudonymised keys (LGPD): HMAC-SHA256 of a value with a secret key from the environment.

A plain hash of a CPF or a sequential id is brute-forceable (there are only 10^9 CPFs); an HMAC
cannot be recomputed without the key. The key lives only in the environment
(`WDC_PSEUDONYMISATION_KEY`) and reaches DuckDB as a Python function registered on dbt's
connection (dbt_plugin.py), so it never appears in dbt's manifest, compiled SQL or logs.

The embedded default (everything on this machine) falls back to a development key that is public
in this repository. Whenever any part of the storage is remote (the lake, the DuckLake data path,
a PostgreSQL catalog) or `WDC_ENV=production`, an unset key is an error: the customer ids are a
small space (1..200,000 at SF 1), so anyone with the key reverses every pseudonym by hashing them
all; the key is the secret (docs/governance.md). `WDC_ENV=production` also refuses the public key
set explicitly; outside production it is accepted with a warning (a test comparing a remote run
with an embedded one needs the same key)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from functools import cache

from wdc_orchestration.settings import is_production, load_dotenv_once, remote_storage_parts

log = logging.getLogger(__name__)

KEY_VARIABLE = "WDC_PSEUDONYMISATION_KEY"
# DEVELOPMENT ONLY: public, so pseudonyms made with it are NOT protected. Never the fallback for
# remote storage or production.
DEVELOPMENT_KEY = "wdc-development-only-pseudonymisation-key-do-not-use-in-production"
MIN_KEY_LENGTH = 32
# A pseudonym as the products carry it: 64 lower-case hex characters.
PSEUDONYM_PATTERN = r"^[0-9a-f]{64}$"


class PseudonymisationKeyError(RuntimeError):
    """No usable key: refusing to pseudonymise (or to publish clear values) without one."""


@cache  # once per process: dbt's plugin asks for the key on every dbt invocation
def _warn_development_key() -> None:
    log.warning("%s is not set: using the public DEVELOPMENT key (local lake)", KEY_VARIABLE)


def pseudonymisation_key() -> bytes:
    """The key from the environment; the development key only when everything is local."""
    # `.env` first, as every setting reads it: else a key kept there was missed whenever this ran
    # before any setting (the public key taken on a local lake, a refusal on a remote one).
    load_dotenv_once()
    key = os.environ.get(KEY_VARIABLE, "").strip()
    remote = remote_storage_parts()
    production = is_production()
    if not key:
        if remote or production:
            why = "WDC_ENV=production" if production else "remote storage: " + ", ".join(remote)
            raise PseudonymisationKeyError(
                f"{KEY_VARIABLE} is not set ({why}): set a secret key of at least "
                f"{MIN_KEY_LENGTH} characters (see .env.example); the development key is public"
            )
        _warn_development_key()
        return DEVELOPMENT_KEY.encode()
    if key == DEVELOPMENT_KEY:
        if production:
            raise PseudonymisationKeyError(
                f"{KEY_VARIABLE} is the public development key and WDC_ENV=production: set a "
                "secret key (see docs/governance.md, rotating the key)"
            )
        if remote:
            _warn_public_key_on_remote(", ".join(remote))
    if len(key) < MIN_KEY_LENGTH:
        raise PseudonymisationKeyError(
            f"{KEY_VARIABLE} is {len(key)} characters long; use at least {MIN_KEY_LENGTH}"
        )
    return key.encode()


@cache
def _warn_public_key_on_remote(remote: str) -> None:
    log.warning(
        "%s is set to the public DEVELOPMENT key on remote storage (%s): its pseudonyms are "
        "reversible by anyone; WDC_ENV=production refuses it",
        KEY_VARIABLE,
        remote,
    )


def pseudonymise(value: object, key: bytes) -> str | None:
    """HMAC-SHA256 of the value's text as 64 hex characters; None stays None."""
    if value is None:
        return None
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
