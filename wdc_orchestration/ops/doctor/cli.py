"""`wdc doctor` (registered in wdc_orchestration.cli): every check, one line each, exit 1 when
any failed, else a last line saying the environment is ready. `--fix` does the one safe repair,
installing the DuckDB extensions from their PyPI packages (which the first run would do by
itself), and says so."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from wdc_orchestration.ops.doctor.findings import Finding
from wdc_orchestration.settings import Settings, get_settings

log = logging.getLogger("wdc_orchestration.cli")

DEFAULT_UI_PORT = 3000
_STYLE = {"OK": "green", "FAIL": "bold red", "SKIP": "dim"}


def findings(settings: Settings, port: int) -> list[Finding]:
    from wdc_orchestration.ops.doctor import local, services

    checks: list[Callable[[], Finding]] = [
        lambda: local.check_extensions(settings),
        lambda: (
            local.check_local_lake(settings)
            if settings.lake_is_local
            else services.check_s3_lake(settings)
        ),
        lambda: services.check_catalog(settings),
        lambda: services.check_s3(settings),
        lambda: services.check_postgres(settings),
        lambda: local.check_dagster_home(settings),
        lambda: local.check_log_dir(settings),
        lambda: services.check_port(port),
    ]
    return [check() for check in checks]


def install_missing_extensions(settings: Settings) -> list[str]:
    """The repair `--fix` makes: what was missing, now installed (said on the terminal)."""
    from wdc_orchestration.lakehouse.extensions import ensure_extensions
    from wdc_orchestration.ops.doctor.local import missing_extensions

    missing = missing_extensions(settings.duckdb_extension_dir)
    if missing:
        ensure_extensions(settings.duckdb_extension_dir)
    return missing


def doctor(args: argparse.Namespace) -> int:
    from wdc_orchestration.console.output import stdout_console

    console = stdout_console()
    settings = get_settings()
    if args.fix:
        fixed = install_missing_extensions(settings)
        if fixed:
            console.print(
                f"fixed: installed the DuckDB extension(s) {', '.join(fixed)} into "
                f"{settings.duckdb_extension_dir} from their PyPI packages",
                markup=False,
            )
    results = findings(settings, args.port)
    width = max(len(f.item) for f in results)
    for finding in results:
        console.print(
            f"[{_STYLE[finding.status]}]{finding.status:<4}[/] {finding.item:<{width}}  ",
            end="",
        )
        console.print(finding.detail, markup=False, highlight=False)
    failed = [f.item for f in results if f.failed]
    if failed:
        log.error("doctor: %d problem(s): %s", len(failed), ", ".join(failed))
        return 1
    console.print("ready: this environment can run the platform (`wdc materialize`)", markup=False)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    from wdc_orchestration.console.parser import port

    parser = commands.add_parser(
        "doctor",
        help="check the environment: extensions, lake, catalog, S3, Postgres, Dagster home, port",
        description="Check that this environment can run the platform; one line per item with "
        "OK or the fix. Exit 1 when anything failed. Only looks, unless --fix.",
    )
    parser.add_argument(
        "--port",
        type=port,
        default=DEFAULT_UI_PORT,
        help=f"the port the Dagster UI will use (default {DEFAULT_UI_PORT})",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="install missing DuckDB extensions from their PyPI packages first (no download)",
    )
    parser.set_defaults(handler=doctor)
