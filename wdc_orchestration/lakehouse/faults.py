"""Transient faults of the lake and the catalog, retried; everything else, not.

A step that touches the lake (S3) or the DuckLake catalog (PostgreSQL) — raw landing, the raw
gate and the sources' tests, the dbt step, the Parquet ports' publishing — runs inside
`retry_transient`: an error that an outage explains (connection refused or reset, a timeout, an
S3 5xx, a PostgreSQL server that restarted) asks Dagster to run the step again
(`dg.RetryRequested`), up to `TRANSIENT_RETRY_POLICY.max_retries` times with exponential backoff.

Every other error fails the step at once, as before: a misconfiguration (`LakeAccessError`: a
missing bucket, rejected credentials), a failed dbt test or blocking check (`NotPublished`), a
bug. Retrying those would only repeat them. This is why the steps carry no `dg.RetryPolicy`: a
policy retries any exception, a failing test included.

The retried steps are safe to run again: a raw day that landed is left as is (its manifest is
written last, raw/assets.py), and the dbt step rebuilds its audit schema from scratch and publishes
the window in one DuckLake transaction that deletes it first (lakehouse/wap.py): no file or row
twice."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import dagster as dg

log = logging.getLogger(__name__)

# The delays between attempts: 2 s, 6 s, 14 s (Dagster's exponential backoff), so an outage of
# about 20 s is ridden out; the step fails after that.
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)

# Lower-case fragments of the messages an outage produces, whoever reports it: boto3/urllib3,
# DuckDB's httpfs, libpq through DuckDB's postgres_scanner, psycopg2, dbt (which passes the
# adapter's message on).
TRANSIENT_MESSAGES: tuple[str, ...] = (
    # the S3 endpoint is down or unreachable (boto3's words, then DuckDB httpfs's)
    "could not connect to the endpoint url",
    "could not connect to server",
    "could not establish connection",
    "failed to read connection",
    "failed to write connection",
    "connection timeout",
    "connection refused",
    "connection reset",
    "connection aborted",
    "connection was closed",
    "connection closed",
    "broken pipe",
    "remote end closed connection",
    "timed out",
    "timeout was reached",
    # S3 overloaded or failing
    "http 500",
    "http 502",
    "http 503",
    "http 504",
    "internal server error",
    "service unavailable",
    "slow down",
    "bad gateway",
    "gateway timeout",
    # PostgreSQL restarting, or the connection to it lost
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "could not receive data from server",
    "could not send data to server",
    "no connection to the server",
    "lost synchronization with server",
    "ssl syscall error",
    "connection to server was lost",
    # DuckLake's commit when PostgreSQL went away under it: even the ROLLBACK fails (libpq's own
    # message is empty then)
    'failed to execute query "rollback"',
    # Another writer's commit won the race for the catalog, past DuckLake's own retries (another
    # process writing the catalog outside the platform's writer lock, lakehouse/catalog_lock.py):
    # the step's work is repeatable, so it runs again
    "failed to commit ducklake transaction",
    "database is locked",
)

# S3 error codes worth another attempt (the rest, NoSuchBucket and the like, are settings).
TRANSIENT_S3_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "500",
        "502",
        "503",
        "504",
    }
)


def transient_text(text: str) -> str | None:
    """The fragment of `text` that marks it as an outage's, or None."""
    lowered = text.lower()
    return next((fragment for fragment in TRANSIENT_MESSAGES if fragment in lowered), None)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and the errors it was raised from or while handling, innermost last."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transient_type(error: BaseException) -> bool:
    # Imported here: botocore and psycopg2 are there whenever a lake or catalog uses them.
    try:
        from botocore.exceptions import ClientError, HTTPClientError
    except ImportError:  # pragma: no cover - botocore ships with dagster-aws
        return isinstance(error, ConnectionError | TimeoutError)
    if isinstance(error, HTTPClientError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, ClientError):
        response = error.response or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in TRANSIENT_S3_CODES or status >= 500
    return False


def transient_reason(error: BaseException) -> str | None:
    """Why `error` looks like an outage's (one line), or None: a `dg.Failure` never does (it is
    the platform's own verdict, `LakeAccessError` and `NotPublished` among them)."""
    for link in _chain(error):
        if isinstance(link, dg.Failure):
            return None
        if _transient_type(link):
            return f"{type(link).__name__}: {link}".splitlines()[0][:300]
        fragment = transient_text(str(link))
        if fragment is not None:
            return f"{type(link).__name__}: {_line_with(str(link), fragment)}"
    return None


def transient_line(lines: Iterable[str]) -> str | None:
    """The first of `lines` (dbt's error messages, say) an outage explains, or None."""
    for line in lines:
        fragment = transient_text(line)
        if fragment is not None:
            return _line_with(line, fragment)
    return None


def _line_with(text: str, fragment: str, width: int = 300) -> str:
    """The line of `text` holding `fragment`, shortened around it: a log line, not a
    traceback (a DuckDB error quotes its whole SQL before the server's message)."""
    for line in text.splitlines():
        at = line.lower().find(fragment)
        if at < 0:
            continue
        line = line.strip()
        if len(line) <= width:
            return line
        at = line.lower().find(fragment)
        start = max(0, min(at - width // 2, len(line) - width))
        end = start + width
        return ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
    return text.strip().splitlines()[0][:width] if text.strip() else fragment


def _retry_number(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> int:
    return context.op_execution_context.retry_number


def retry_requested(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, what: str, reason: str
) -> dg.RetryRequested:
    """The `RetryRequested` for a transient failure of `what`, logged with the attempt and the
    wait (raise it `from` the error)."""
    attempt = _retry_number(context) + 1
    policy = TRANSIENT_RETRY_POLICY
    wait = policy.calculate_delay(attempt)
    if attempt <= policy.max_retries:
        message = (
            f"{what}: transient failure ({reason}); attempt {attempt} of "
            f"{policy.max_retries + 1} failed, retrying in {wait:.0f}s"
        )
    else:
        message = f"{what}: transient failure ({reason}); no retries left, the step fails"
    context.log.warning(message)
    log.warning("%s", message)
    return dg.RetryRequested(max_retries=policy.max_retries, seconds_to_wait=wait)


@contextmanager
def retry_transient(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, what: str
) -> Iterator[None]:
    """Run the block; an error an outage explains becomes a retry of the step (see the module's
    docstring), any other error propagates as it is."""
    try:
        yield
    except (dg.RetryRequested, dg.Failure):
        raise
    except Exception as error:
        reason = transient_reason(error)
        if reason is None:
            raise
        raise retry_requested(context, what, reason) from error
