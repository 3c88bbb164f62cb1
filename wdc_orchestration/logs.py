"""The platform's log file, beside whatever Dagster or the console shows."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LOGGER_NAMES = ("wdc_orchestration", "domains")
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class _LazyLogFile(RotatingFileHandler):
    """A rotating log file whose folder and file are made when the first line is written, not
    when it is configured: loading a code location's definitions creates nothing on disk."""

    def __init__(self, log_file: Path) -> None:
        super().__init__(log_file, maxBytes=20_000_000, backupCount=5, delay=True)

    def _open(self):  # noqa: ANN202 - logging's own signature
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def configure_logging(log_dir: Path, level: int = logging.INFO, *, eager: bool = False) -> Path:
    """Send the platform's and the domains' loggers to `<log_dir>/wdc.log` (idempotent). The
    caller passes its settings' log folder (settings.py: the edges that read the settings). The
    folder is made at the first line logged; `eager`: now (the CLI's preflight reports a file in
    the way before any work starts)."""
    if eager:
        log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "wdc.log"
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(getattr(h, "baseFilename", None) == str(log_file) for h in logger.handlers):
            handler = _LazyLogFile(log_file)
            handler.setFormatter(logging.Formatter(_FORMAT))
            logger.addHandler(handler)
    return log_file


class TeeLog:
    """Logs to Dagster's `context.log` (the UI's event log) and to a module logger (the platform's
    log file) at once, so an asset's story is in both places without `managed_python_loggers`
    duplicating every line."""

    def __init__(self, context_log: Any, logger: logging.Logger) -> None:
        self._context_log = context_log
        self._logger = logger

    def _both(self, level: int, message: str) -> None:
        self._context_log.log(level, message)
        self._logger.log(level, message)

    def debug(self, message: str) -> None:
        self._both(logging.DEBUG, message)

    def info(self, message: str) -> None:
        self._both(logging.INFO, message)

    def warning(self, message: str) -> None:
        self._both(logging.WARNING, message)

    def error(self, message: str) -> None:
        self._both(logging.ERROR, message)
