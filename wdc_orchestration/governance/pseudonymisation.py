"""Pseudonymised keys (LGPD): HMAC-SHA256 of a value with a secret key from the environment.

A plain hash of a CPF or a sequential id is brute-forceable (there are only 10^9 CPFs); an HMAC
cannot be recomputed without the key. The key lives only in the environment
(`WDC_PSEUDONYMISATION_KEY`) and reaches DuckDB as a Python function registered on dbt's
connection (dbt_plugin.py), so it never appears in dbt's manifest, compiled SQL or logs.

The embedded default (a local lake) falls back to a development key that is public in this
repository; with an `s3://` lake (production) an unset key is an error."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from functools import cache

log = logging.getLogger(__name__)

KEY_VARIABLE = "WDC_PSEUDONYMISATION_KEY"
# DEVELOPMENT ONLY: public, so pseudonyms made with it are NOT protected. Never used with s3://.
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
    """The key from the environment; the development key only for a local lake."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        lake = os.environ.get("WDC_LAKE_URL", "")
        if "://" in lake and not lake.startswith("file://"):
            raise PseudonymisationKeyError(
                f"{KEY_VARIABLE} is not set and the lake is {lake}: set a secret key of at least "
                f"{MIN_KEY_LENGTH} characters (see .env.example); the development key is public"
            )
        _warn_development_key()
        return DEVELOPMENT_KEY.encode()
    if len(key) < MIN_KEY_LENGTH:
        raise PseudonymisationKeyError(
            f"{KEY_VARIABLE} is {len(key)} characters long; use at least {MIN_KEY_LENGTH}"
        )
    return key.encode()


def pseudonymise(value: object, key: bytes) -> str | None:
    """HMAC-SHA256 of the value's text as 64 hex characters; None stays None."""
    if value is None:
        return None
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
