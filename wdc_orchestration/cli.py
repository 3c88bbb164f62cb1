"""`wdc`: the platform's command line."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from wdc_orchestration.console.parser import (
    USAGE_ERROR,
    OneLineErrorParser,
    UsageError,
    add_log_level,
    iso_date,
    scale_factor,
)
from wdc_orchestration.governance.cli import register as register_governance
from wdc_orchestration.lakehouse.run_window import partition_day
from wdc_orchestration.logs import configure_logging
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.ops.deploy_cli import register as register_deploy
from wdc_orchestration.ops.doctor.cli import register as register_doctor
from wdc_orchestration.quality.cli import register as register_quality
from wdc_orchestration.scaffold.cli import register as register_scaffold
from wdc_orchestration.settings import PROJECT_ROOT, SettingsError, get_settings
from wdc_portal.cli import register as register_portal

if TYPE_CHECKING:
    import dagster as dg

    from wdc_orchestration.console.progress import DayProgress
    from wdc_orchestration.console.summary import DayResult, Pointers

log = logging.getLogger("wdc_orchestration.cli")


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class MaterializeRequest:
    """`wdc materialize`'s arguments, checked before anything is loaded or run."""

    days: list[dt.date]
    domains: list[str] | None
    defects: list[str]


def _materialize_request(args: argparse.Namespace) -> MaterializeRequest:
    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    domains = [d.strip() for d in args.domains.split(",") if d.strip()] if args.domains else None
    if args.domains is not None and not domains:
        raise UsageError(f"--domains {args.domains!r} names no domain (leave it out for all)")
    if domains:
        unknown = sorted(set(domains) - set(domain_modules()))
        if unknown:
            known = ", ".join(domain_modules())
            raise UsageError(f"--domains: unknown domain(s) {', '.join(unknown)}; known: {known}")
    defects: list[str] = []
    if args.defects:
        # lazy: polars (the defects' frames), only with --defects
        from domains._shared.defects import UnknownDefectError, resolve_defects

        try:
            defects = resolve_defects(args.defects)
        except UnknownDefectError as error:
            raise UsageError(f"--defects: {error}") from error
    return MaterializeRequest(_days(args.start, args.end), domains, defects)


def materialize(args: argparse.Namespace) -> int:
    """Run the mesh day by day through Dagster; non-zero when any step or ERROR check failed."""
    request = _materialize_request(args)

    import dagster as dg

    # lazy: rich and the mesh (dagster, dbt: ~3 s), only for a command that runs the mesh
    from wdc_orchestration.console.output import stdout_console
    from wdc_orchestration.console.progress import day_progress
    from wdc_orchestration.console.summary import print_summary
    from wdc_orchestration.mesh.workspace import MESH_JOB, dagster_home, mesh_definitions

    # The lake was checked before the handler (touches_lake): a missing bucket, bad credentials
    # or a file where the folder should be fail before any run.
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    defs = mesh_definitions(request.domains, scale_factor=args.scale_factor, seed=args.seed)
    job = defs.resolve_job_def(MESH_JOB)
    instance = dg.DagsterInstance.get()
    run_config = _run_config(job, args.log_level, request.defects)
    days = request.days
    log.info(
        "materialising %s for %d day(s), domains=%s", MESH_JOB, len(days), request.domains or "all"
    )
    results: list[DayResult] = []
    with day_progress(len(days)) as progress:
        for number, day in enumerate(days, start=1):
            results.append(_run_day(job, instance, day, run_config, progress, number, len(days)))
            # A failed day is quarantined and published nothing (write-audit-publish): the next
            # day does not build on it, so go on; `wdc quarantine retry` rebuilds it later.
    # What these days published may be later than what other domains read of the same days
    # (a late day, a rerun of an old one): those days are rebuilt, downstream included.
    results += _rebuild_stale_consumers(args, instance, days)
    print_summary(stdout_console(), results, _pointers())
    failed = [r.day.isoformat() for r in results if not r.ok]
    if failed:
        log.error(
            "%d of %d day(s) failed: %s. See `wdc quarantine list` and the runs in the UI "
            "(wdc dev); `wdc quarantine retry --domain D --day YYYY-MM-DD` once fixed.",
            len(failed),
            len(days),
            ", ".join(failed),
        )
        return 1
    return 0


def _run_config(job: dg.JobDefinition, log_level: str, defects: list[str]) -> dict[str, object]:
    run_config: dict[str, object] = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if defects:
        # lazy: dagster (~1 s), only when defects are planted
        from wdc_orchestration.quality.cli_support import defects_run_config

        run_config["ops"] = defects_run_config(job, defects)
        log.warning("planting defects %s in freshly landed raw days", ", ".join(defects))
    return run_config


def _run_day(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    day: dt.date,
    run_config: dict[str, object],
    progress: DayProgress,
    number: int,
    days: int,
) -> DayResult:
    """One day of the mesh as one Dagster run, followed step by step; what it did."""
    # lazy: rich and dagster (~1 s), only when a day is run
    from wdc_orchestration.console.progress import follow_run
    from wdc_orchestration.console.summary import day_result
    from wdc_orchestration.mesh.run import log_day, run_day

    run_id = str(uuid.uuid4())  # known before the run starts, so its events can be followed
    progress.start_day(number, day, steps=len(job.graph.nodes))
    follow_run(instance, run_id, progress)
    outcome = run_day(job, instance, day, run_config, run_id=run_id)
    log_day(outcome, number, days)
    result = day_result(day, outcome.result, outcome.seconds, len(outcome.incidents))
    progress.finish_day(result.ok)
    return result


def _rebuild_stale_consumers(
    args: argparse.Namespace, instance: dg.DagsterInstance, days: list[dt.date]
) -> list[DayResult]:
    """Rebuild the other domains' days that read a product of these days before it was
    published as it is now (quality/late_upstream.py), one level of consumers after the other."""
    import dataclasses

    # lazy: dagster, dbt and the mesh (~3 s), only when consumers are stale
    from wdc_orchestration.console.progress import day_progress
    from wdc_orchestration.dbt.project import load_manifest
    from wdc_orchestration.mesh.workspace import MESH_JOB, mesh_definitions
    from wdc_orchestration.quality.late_upstream import stale_days

    domains = list(domain_modules())
    results: list[DayResult] = []
    for _level in domains:  # a chain of consumers is at most as long as the mesh
        stale = stale_days(instance, load_manifest(), domains, [d.isoformat() for d in days])
        if not stale:
            break
        by_day: dict[str, list[str]] = {}
        for item in stale:
            log.warning("rebuilding %s %s: %s", item.consumer, item.day, item.reason)
            by_day.setdefault(item.day, []).append(item.consumer)
        with day_progress(len(by_day)) as progress:
            for number, (day, consumers) in enumerate(sorted(by_day.items()), start=1):
                chosen = [d for d in domains if d in consumers]
                defs = mesh_definitions(chosen, scale_factor=args.scale_factor, seed=args.seed)
                job = defs.resolve_job_def(MESH_JOB)
                run_config = _run_config(job, args.log_level, [])
                result = _run_day(
                    job,
                    instance,
                    partition_day(day),
                    run_config,
                    progress,
                    number,
                    len(by_day),
                )
                results.append(dataclasses.replace(result, rebuilt=tuple(chosen)))
    return results


def _pointers() -> Pointers:
    # lazy: rich, dagster (the lake's storage: ~1 s), only after a run, for its pointers
    from wdc_orchestration.console.summary import Pointers
    from wdc_orchestration.quality.incidents import INCIDENTS_PREFIX
    from wdc_orchestration.resources.lake import lake_storage_from_settings

    settings = get_settings()
    lake = lake_storage_from_settings(settings)
    return Pointers(
        log_file=str(configure_logging(settings.log_dir)), incidents=lake.url(INCIDENTS_PREFIX)
    )


# `dagster dev` options that choose what to load: given any, `wdc dev` adds no `-w`.
_DAGSTER_TARGET_OPTIONS = ("-w", "--workspace", "-m", "--module-name", "-f", "--python-file")


def dagster_dev_command(passed: Sequence[str]) -> list[str]:
    """`dagster dev` on workspace.yaml, then `passed` as given (no `-w` if they choose a target)."""
    chooses_target = any(a.split("=")[0] in _DAGSTER_TARGET_OPTIONS for a in passed)
    target = [] if chooses_target else ["-w", str(PROJECT_ROOT / "workspace.yaml")]
    return ["dagster", "dev", *target, *passed]


def dev(args: argparse.Namespace) -> int:
    """`dagster dev` on the workspace, with the instance the CLI records its runs in; every
    other option goes to `dagster dev` as given."""
    # lazy: dagster (~2 s) for `wdc dev` only, which starts it anyway
    from wdc_orchestration.mesh.workspace import dagster_home

    os.environ["DAGSTER_HOME"] = str(dagster_home())
    command = dagster_dev_command(args.dagster_args)
    log.info("DAGSTER_HOME=%s; running %s", os.environ["DAGSTER_HOME"], " ".join(command))
    os.execvp(command[0], command)
    return 0  # pragma: no cover - execvp does not return


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="wdc", description="WDC Data Mesh platform commands.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "materialize",
        help="materialise the mesh for a date range",
        description="Land and build the mesh one day after the other through Dagster, with "
        "progress and a summary table. Exit 1 when a step or a blocking check failed.",
    )
    run.add_argument("--start", type=iso_date, required=True, help="first day (YYYY-MM-DD)")
    run.add_argument("--end", type=iso_date, help="last day, inclusive (default: --start)")
    run.add_argument("--domains", help="comma-separated domains (default: all in workspace.yaml)")
    run.add_argument(
        "--scale-factor",
        type=scale_factor,
        help="volume, above 0 and at most 150; 1 ~ 50k orders/day (default WDC_SCALE_FACTOR or 1)",
    )
    run.add_argument("--seed", type=int, help="simulation seed (default WDC_SEED or 42)")
    add_log_level(
        run,
        help="threshold of Dagster's and the platform's log lines on the terminal (default "
        "WARNING; the progress and the summary always show; the log file keeps INFO)",
    )
    run.add_argument(
        "--defects",
        help="plant named defects in the freshly landed raw days: KIND[,KIND...] or all "
        "(see docs/quality.md)",
    )
    run.set_defaults(handler=materialize, touches_lake=True)

    ui = commands.add_parser(
        "dev",
        help="open the Dagster UI on the workspace (options go to `dagster dev`)",
        description="`dagster dev -w workspace.yaml` on the instance `wdc materialize` records "
        "its runs in. Every other option is passed on as given, e.g. `wdc dev -p 3001 --host "
        "0.0.0.0`; see `dagster dev --help`.",
        allow_abbrev=False,
        usage="wdc dev [-h] [DAGSTER_DEV_OPTION ...]",
    )
    ui.set_defaults(handler=dev, dagster_args=[], passes_options_on=True)

    register_governance(commands)  # `wdc policy check|iam|purge`, `wdc catalog`
    register_doctor(commands)  # `wdc doctor`
    register_quality(commands)  # `wdc quarantine list|retry`
    register_portal(commands)  # `wdc portal`
    register_scaffold(commands)  # `wdc new-domain`
    register_deploy(commands)  # `wdc instance`, `wdc grpc-workspace`
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse `argv`; `wdc dev` keeps the options it does not know for `dagster dev`."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "passes_options_on", False):
        args.dagster_args = unknown[1:] if unknown[:1] == ["--"] else unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if getattr(args, "end", "absent") is None:
        args.end = args.start
    return args


def _check_environment(args: argparse.Namespace) -> None:
    """The settings every command reads, and the lake for the commands that touch it (they say
    so with `touches_lake`), before the handler starts: a bad value is a UsageError or a
    SettingsError here, not a traceback from the first step that uses it."""

    settings = get_settings()
    try:
        configure_logging(settings.log_dir, eager=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"WDC_LOG_DIR={settings.log_dir}: a file is in the way of the folder; point "
            "WDC_LOG_DIR at a folder (it is created when missing)"
        ) from None
    except OSError as error:
        reason = error.strerror or error
        raise UsageError(
            f"WDC_LOG_DIR={settings.log_dir}: cannot write the log there: {reason}"
        ) from error
    if getattr(args, "touches_lake", False):
        # lazy: dagster (the lake's storage, ~1 s), only for a command that touches the lake
        from wdc_orchestration.resources.lake import lake_problem

        problem = lake_problem(settings)
        if problem:
            raise UsageError(problem)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `wdc` command. Bad input of every kind ends here as one line on stderr and exit
    2: bad options while parsing (OneLineErrorParser), bad settings (SettingsError) and what
    the handlers find (UsageError); nothing was written or run by then."""
    args = parse_args(argv)

    # lazy: rich, only once the command line has parsed (`--help` and errors skip it)
    from wdc_orchestration.console.output import install_console_logging

    install_console_logging(getattr(logging, getattr(args, "log_level", "INFO")))
    try:
        _check_environment(args)
        return args.handler(args)
    except (UsageError, SettingsError) as error:
        log.error("%s", error)
        return USAGE_ERROR


def _release_multiprocessing_semaphores() -> None:
    """dbt makes its locks from a `spawn` multiprocessing context (dbt/mp_context.py: the
    manifest's lock, each adapter connection manager's), so each is a named POSIX semaphore
    that multiprocessing's resource tracker process watches. multiprocessing unlinks them in a
    finalizer at interpreter exit, which `os._exit` skips: the tracker then unlinks them itself
    and warns "There appear to be N leaked semaphore objects". Run those finalizers (what the
    interpreter's exit would run for multiprocessing, milliseconds), not the whole teardown."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util._exit_function()


def run() -> NoReturn:
    """The `wdc` command: `main`, then a fast exit. With dagster, dagster-dbt, dbt and DuckDB
    loaded, the interpreter's own teardown (freeing every module and object, one by one) took
    ≈1.2 s after the work was done (measured at SF 1). Everything the run wrote is committed by
    then: Dagster's event log and DuckLake commit per write, the lake's files are renamed into
    place, and the log handlers are flushed here."""
    try:
        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("wdc: interrupted\n")
        code = 130
    _release_multiprocessing_semaphores()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
