"""`wdc quarantine list|retry` (registered in wdc_orchestration.cli): the failed days that left
the read path, and rebuilding one once its source (or its code) is fixed.

A day a source fault failed (raw gate, source tests) is quarantined, so the retry lands it afresh.
A day a model, a test of a model or a policy failed kept its raw day in place: the retry rebuilds
from it once the code is fixed; when the fault was the source's after all (its export passed the
gate, a product test caught it) and the source re-sent the day, `--reland` moves the landed day to
quarantine first (kept, never deleted) so the retry lands the new export."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from typing import TYPE_CHECKING

from wdc_orchestration.console.parser import UsageError, add_log_level, iso_date

if TYPE_CHECKING:
    from wdc_orchestration.resources.lake import LakeStorage

log = logging.getLogger("wdc_orchestration.cli")


def list_command(args: argparse.Namespace) -> int:
    from wdc_orchestration.quality.retry import list_quarantined
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_orchestration.settings import get_settings

    lake = lake_storage_from_settings(get_settings())
    found = [q for q in list_quarantined(lake) if args.all or not q.resolved]
    if args.domain:
        found = [q for q in found if q.domain == args.domain]
    if not found:
        sys.stdout.write("no quarantined raw days" + ("" if args.all else " left open") + "\n")
        return 0
    sys.stdout.write(f"{'day':<10}  {'domain':<10}  {'entity':<13}  {'status':<8}  where\n")
    for q in found:
        status = "retried" if q.resolved else "open"
        sys.stdout.write(
            f"{q.day.isoformat():<10}  {q.domain:<10}  {q.entity:<13}  {status:<8}  "
            f"{lake.url(q.prefix)} ({len(q.files)} file(s); incidents "
            f"{', '.join(q.incidents) or 'none'})\n"
        )
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """Land the domain's day again (its quarantined raw days are no longer landed, so the raw
    assets land them afresh from the source), build it and every domain that consumes it, and
    record what was done."""
    import dataclasses

    import dagster as dg

    from wdc_orchestration.dbt.project import load_manifest
    from wdc_orchestration.mesh.run import log_day, run_day
    from wdc_orchestration.mesh.workspace import (
        MESH_JOB,
        dagster_home,
        domain_modules,
        mesh_definitions,
    )
    from wdc_orchestration.quality.incidents import save_incident
    from wdc_orchestration.quality.retry import (
        Retry,
        consumers_of,
        list_quarantined,
        open_incidents,
        record_retry,
    )
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_orchestration.settings import get_settings

    known = sorted(domain_modules())
    if args.domain not in known:
        raise UsageError(f"--domain: unknown domain {args.domain!r}; known: {', '.join(known)}")
    lake = lake_storage_from_settings(get_settings())
    day: dt.date = args.day
    quarantined = [
        q
        for q in list_quarantined(lake)
        if q.domain == args.domain and q.day == day and not q.resolved
    ]
    incidents = open_incidents(lake, args.domain, day)
    if not quarantined and not incidents and not args.force:
        raise UsageError(
            f"nothing to retry: {args.domain} has no quarantined raw day and no open incident "
            f"on {day} (see `wdc quarantine list`; --force rebuilds it anyway)"
        )
    prefixes = [q.prefix for q in quarantined]
    if args.reland:
        moved = _reland(lake, args.domain, day)
        prefixes += moved
        # the day's open incidents are why it was moved aside: they own the moved files, so the
        # retry that resolves them resolves those too (`wdc quarantine list`)
        incidents = [
            dataclasses.replace(i, quarantined=(*i.quarantined, *moved)) for i in incidents
        ]
        for incident in incidents:
            save_incident(lake, incident)
    domains = [args.domain, *consumers_of(args.domain, load_manifest())]
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    job = mesh_definitions(domains).resolve_job_def(MESH_JOB)
    started = dt.datetime.now(dt.UTC).isoformat()
    log.info("retrying %s %s: landing it again and building %s", args.domain, day, domains)
    console = {"config": {"log_level": args.log_level}}
    outcome = run_day(
        job,
        dg.DagsterInstance.get(),
        day,
        {"loggers": {"console": console}},
        tags={"wdc/retry_of": f"{args.domain}/{day.isoformat()}"},
    )
    log_day(outcome, 1, 1)
    retry = Retry(
        domain=args.domain,
        day=day,
        domains=domains,
        run_id=outcome.run_id,
        # the domain's day is published even if a consumer rebuilt with it failed (its own
        # incidents then say so)
        success=outcome.domain_ok(args.domain),
        incidents=[i.incident_id for i in incidents],
        quarantined=prefixes,
        started_at=started,
    )
    record_retry(lake, retry, incidents)
    if not retry.success:
        log.error("the retry of %s %s failed again: its incidents stay open", args.domain, day)
        return 1
    if not outcome.ok:
        log.error(
            "%s %s is published, but consumers rebuilt with it failed (see their incidents)",
            args.domain,
            day,
        )
        return 1
    log.info(
        "%s %s published; %d incident(s) resolved; trail: %s",
        args.domain,
        day,
        len(incidents),
        lake.url(retry.key),
    )
    return 0


def _reland(lake: LakeStorage, domain: str, day: dt.date) -> list[str]:
    """Move the domain's landed raw day of every entity aside, so the retry lands it again from
    the source; the prefixes it went to."""
    from wdc_orchestration.quality.quarantine import quarantine_partition
    from wdc_orchestration.raw.read_set import RAW_ROOT

    reland_id = "reland-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    entities = sorted({key.split("/")[2] for key in lake.list_keys(f"{RAW_ROOT}/{domain}/")})
    moved = [
        target
        for entity in entities
        if (target := quarantine_partition(lake, domain, entity, day, reland_id)) is not None
    ]
    log.warning("--reland: %s %s moved aside to %s", domain, day, ", ".join(moved) or "nothing")
    return moved


def register(commands: argparse._SubParsersAction) -> None:
    quarantine = commands.add_parser(
        "quarantine", help="failed raw days out of the read path: list them, retry one"
    )
    actions = quarantine.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the quarantined raw days (open ones by default)")
    listing.add_argument("--domain", help="only this domain")
    listing.add_argument("--all", action="store_true", help="also the days a retry resolved")
    listing.set_defaults(handler=list_command, touches_lake=True)
    retry = actions.add_parser(
        "retry",
        help="land a failed day again once its source is fixed, rebuild it and its consumers",
    )
    retry.add_argument("--domain", required=True, help="the domain whose day failed")
    retry.add_argument("--day", type=iso_date, required=True, help="the failed day (YYYY-MM-DD)")
    retry.add_argument(
        "--force", action="store_true", help="rebuild even with nothing quarantined or open"
    )
    retry.add_argument(
        "--reland",
        action="store_true",
        help="the source re-sent the day: move its landed raw day to quarantine and land it again "
        "(a day a model or policy failed keeps its raw day; without this, the retry rebuilds it)",
    )
    add_log_level(retry, help="Dagster console log level (default WARNING)")
    retry.set_defaults(handler=retry_command, touches_lake=True)
