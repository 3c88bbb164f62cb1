"""An argument parser whose errors are one line: what was wrong and where the help is."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import NoReturn

USAGE_ERROR = 2  # argparse's own exit code for bad usage, kept for every user error


class UsageError(Exception):
    """Bad input a handler found after parsing (an unknown domain, a missing lake...): `wdc`
    prints the message on one line and exits with USAGE_ERROR, without a traceback."""


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
