"""An argument parser whose errors are one line: what was wrong and where the help is."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path
from typing import NoReturn

USAGE_ERROR = 2  # argparse's own exit code for bad usage, kept for every user error


class UsageError(Exception):
    """Bad input a handler found after parsing (an unknown domain, a missing lake...): `wdc`
    prints the message on one line and exits with USAGE_ERROR, without a traceback. Bad values
    of options are refused while parsing instead (the `type` functions below, `error`), and bad
    settings in the environment by `settings.SettingsError`: `wdc_orchestration.cli.main` is
    the one place each becomes its line and the exit code."""


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the whole usage block before an error; on a command with a dozen options
    that pushes the one line that matters off the screen. Subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see: {self.prog} --help)\n")
        sys.exit(USAGE_ERROR)


def iso_date(value: str) -> dt.date:
    """An argparse `type` for YYYY-MM-DD dates (one-line error otherwise)."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


def scale_factor(value: str) -> float:
    """An argparse `type` for a simulation volume the simulators can make (one-line error)."""
    from wdc_orchestration.raw.generation.volume import SCALE_FACTOR_RANGE, scale_factor_problem

    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if scale_factor_problem(number):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a scale factor: use {SCALE_FACTOR_RANGE}"
        )
    return number


def existing_dir(value: str) -> Path:
    """An argparse `type` for a folder that must be there already (one-line error otherwise)."""
    path = Path(value)
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"{value} {what}")
    return path


def existing_file(value: str) -> Path:
    """An argparse `type` for a file to read (one-line error when it is not there)."""
    path = Path(value)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise argparse.ArgumentTypeError(f"{value} {what}")
    return path


def new_file(value: str) -> Path:
    """An argparse `type` for a file to write: its folder must be there (checked before the
    work, not after it, with a traceback)."""
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a folder, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: there is no folder {path.parent} to write in")
    return path


def port(value: str) -> int:
    """An argparse `type` for a TCP port, 1-65535 (one-line error otherwise)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (1-65535)")
    return number


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def add_log_level(parser: argparse.ArgumentParser, help: str) -> None:
    """`--log-level`, any case, one of LOG_LEVELS (`wdc` sets its console threshold from it: an
    unknown name used to end in a traceback there)."""
    parser.add_argument(
        "--log-level", default="WARNING", type=str.upper, choices=LOG_LEVELS, help=help
    )
