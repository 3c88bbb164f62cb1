"""The terminal: rich when stderr is one, plain lines otherwise (CI logs, pipes, tests)."""

from __future__ import annotations

import logging
import sys
from functools import cache

from rich.console import Console
from rich.logging import RichHandler

# The CLI's own narrative (days, steps, the summary's pointers) shows whatever the threshold.
NARRATIVE_LOGGERS = ("wdc_orchestration.cli", "wdc_orchestration.console")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@cache
def stderr_console() -> Console:
    """Progress and log lines: stderr, so stdout carries only results (tables, reports)."""
    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    # Not cached: tests swap sys.stdout (capsys), and rich binds the file when created. Soft
    # wrap: a line stays one line in a pipe or a file, whatever the width rich assumes there.
    # Off a terminal rich assumes 80 columns, too narrow for the summary table: a log has room.
    width = None if sys.stdout.isatty() else 120
    return Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width)


def is_interactive() -> bool:
    """Live progress only on a terminal; elsewhere it would write escape codes into a log."""
    return stderr_console().is_terminal


class _Threshold(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or record.name.startswith(NARRATIVE_LOGGERS)


def install_console_logging(level: int) -> None:
    """One handler on the root logger for the terminal, like `logging.basicConfig` (nothing is
    added when the root has handlers already, e.g. under pytest). Records below `level` show
    only from the CLI's own loggers; everything still reaches the log file at INFO."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    if not root.handlers:
        handler: logging.Handler
        if is_interactive():
            handler = RichHandler(console=stderr_console(), show_path=False, markup=False)
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
        handler.addFilter(_Threshold(level))
        root.addHandler(handler)
    # A new Dagster instance creates its SQLite schema through alembic, a dozen INFO lines.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # dagster-dbt logs through `dagster.builtin`, which Dagster already routes into the run's
    # event log and its console logger: propagated to the root too, every line printed twice.
    logging.getLogger("dagster.builtin").propagate = False
